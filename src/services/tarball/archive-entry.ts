/**
 * What a resource tarball holds, entry by entry: the shape returned by the writer and by the
 * reader, and recorded in a backup's manifest.
 */
import { Schema } from "effect"

export const ArchiveFileEntry = Schema.Struct({
  kind: Schema.Literal("file"),
  path: Schema.String,
  size: Schema.Int,
  mode: Schema.Int,
  sha256: Schema.String,
})
export type ArchiveFileEntry = typeof ArchiveFileEntry.Type

export const ArchiveDirectoryEntry = Schema.Struct({
  kind: Schema.Literal("directory"),
  path: Schema.String,
  mode: Schema.Int,
})
export type ArchiveDirectoryEntry = typeof ArchiveDirectoryEntry.Type

/** A path relative to the archive root, without trailing slash; `mode` holds permission bits. */
export const ArchiveEntry = Schema.Union([ArchiveFileEntry, ArchiveDirectoryEntry])
export type ArchiveEntry = typeof ArchiveEntry.Type

/** Byte order of UTF-8 paths: the order of entries in archives this project writes. */
export const comparePaths = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))
