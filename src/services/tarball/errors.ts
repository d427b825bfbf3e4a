/**
 * Failures of reading, extracting and writing resource tarballs. Every one names the archive,
 * the entry (when known) and the byte offset of the entry's header in the decompressed tar
 * stream, so a person can find the bad spot with `tar -tvzf` or `xxd`.
 */
import { Schema } from "effect"
import { BackupFileRefused } from "../backup-file.ts"
import { describeFileSystemFailure } from "../file-system-error.ts"

/** The bytes are not a well-formed gzip-compressed ustar/PAX/GNU tar stream. */
export const UnreadableReason = Schema.Literals(["gzip", "truncated", "checksum", "header", "pax", "gnu-longname", "trailing-data"])
export type UnreadableReason = typeof UnreadableReason.Type

export class TarballUnreadable extends Schema.TaggedError<TarballUnreadable>()("TarballUnreadable", {
  archive: Schema.String,
  reason: UnreadableReason,
  offset: Schema.Number,
  entry: Schema.optionalKey(Schema.String),
  message: Schema.String,
}) {}

/** A well-formed entry that is not allowed in a resource tarball. */
export const RefusalReason = Schema.Literals([
  "empty-path",
  "absolute-path",
  "parent-segment",
  "dot-segment",
  "empty-segment",
  "nul-byte",
  "control-character",
  "backslash",
  "not-utf8",
  "trailing-slash",
  "link",
  "device",
  "fifo",
  "unsupported-type",
  "layout",
  "duplicate",
  "path-conflict",
])
export type RefusalReason = typeof RefusalReason.Type

export class TarballEntryRefused extends Schema.TaggedError<TarballEntryRefused>()("TarballEntryRefused", {
  archive: Schema.String,
  reason: RefusalReason,
  offset: Schema.Number,
  entry: Schema.String,
  message: Schema.String,
}) {}

/** A size limit that protects the disk and memory (decompression bombs, huge headers). */
export const LimitName = Schema.Literals(["path-bytes", "segment-bytes", "pax-header-bytes", "longname-bytes", "total-file-bytes", "entries", "trailing-bytes"])
export type LimitName = typeof LimitName.Type

export class TarballLimitExceeded extends Schema.TaggedError<TarballLimitExceeded>()("TarballLimitExceeded", {
  archive: Schema.String,
  limit: LimitName,
  max: Schema.Number,
  offset: Schema.Number,
  entry: Schema.optionalKey(Schema.String),
  message: Schema.String,
}) {}

/** Extraction would replace something that already exists and no move-aside directory was given. */
export class TarballDestinationExists extends Schema.TaggedError<TarballDestinationExists>()("TarballDestinationExists", {
  archive: Schema.String,
  destinations: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** The staging directory handed to the writer holds something a resource tarball cannot carry. */
export const SourceRefusalReason = Schema.Literals(["not-regular-or-directory", "unsafe-name", "layout", "changed-while-reading"])
export type SourceRefusalReason = typeof SourceRefusalReason.Type

export class TarballSourceRefused extends Schema.TaggedError<TarballSourceRefused>()("TarballSourceRefused", {
  path: Schema.String,
  reason: SourceRefusalReason,
  message: Schema.String,
}) {}

/** A file-system operation failed (permissions, disk full, missing file...). */
export class TarballIoFailed extends Schema.TaggedError<TarballIoFailed>()("TarballIoFailed", {
  path: Schema.String,
  operation: Schema.String,
  code: Schema.String,
  message: Schema.String,
}) {}

/** The archive read is not the one expected (its size or sha256 differs from what was verified): nothing was installed. */
export class TarballNotAsVerified extends Schema.TaggedError<TarballNotAsVerified>()("TarballNotAsVerified", {
  archive: Schema.String,
  expectedSize: Schema.Number,
  expectedSha256: Schema.String,
  size: Schema.Number,
  sha256: Schema.String,
  message: Schema.String,
}) {}

export type TarballError =
  | TarballUnreadable
  | TarballNotAsVerified
  | TarballEntryRefused
  | TarballLimitExceeded
  | TarballDestinationExists
  | TarballSourceRefused
  | TarballIoFailed
  /** The archive is not a regular file, or larger than `TarLimits.maxArchiveBytes`: it was not read. */
  | BackupFileRefused

export const isTarballError = (u: unknown): u is TarballError =>
  u instanceof BackupFileRefused ||
  u instanceof TarballUnreadable ||
  u instanceof TarballNotAsVerified ||
  u instanceof TarballEntryRefused ||
  u instanceof TarballLimitExceeded ||
  u instanceof TarballDestinationExists ||
  u instanceof TarballSourceRefused ||
  u instanceof TarballIoFailed

/** Wraps a Node file-system failure with the operation and path it concerned, and what to do. */
export const ioFailure = (operation: string, path: string, cause: unknown): TarballIoFailed => {
  const described = describeFileSystemFailure(operation, path, cause)
  return new TarballIoFailed({ path, operation, code: described.code ?? "UNKNOWN", message: described.message })
}

/** Runs a file-system promise, turning its failure into `TarballIoFailed`. */
export const io = async <A>(operation: string, path: string, run: () => Promise<A>): Promise<A> => {
  try {
    return await run()
  } catch (e) {
    throw isTarballError(e) ? e : ioFailure(operation, path, e)
  }
}
