/**
 * What can go wrong reading or writing age files, as values. Each names the file (`source`: a
 * path, or what the bytes are) and says what to do. None carries key material: identity lines
 * are named by file and line number, never quoted; recipients (public keys) may be quoted.
 */
import { Schema } from "effect"
import { FileSystemFailureFields } from "../file-system-error.ts"

/** The header is not a well-formed age v1 header (or the file is empty, or not age at all). */
export class AgeHeaderInvalid extends Schema.TaggedError<AgeHeaderInvalid>()("AgeHeaderInvalid", {
  source: Schema.String,
  message: Schema.String,
}) {}

/** A file key was unwrapped but the header's MAC does not match: the header was altered. */
export class AgeHeaderMacMismatch extends Schema.TaggedError<AgeHeaderMacMismatch>()("AgeHeaderMacMismatch", {
  source: Schema.String,
  message: Schema.String,
}) {}

/** None of the identities opens any of the header's recipient stanzas. */
export class AgeNoIdentityMatched extends Schema.TaggedError<AgeNoIdentityMatched>()("AgeNoIdentityMatched", {
  source: Schema.String,
  /** The identity files tried (paths; never their content). */
  identityFiles: Schema.Array(Schema.String),
  /** How many X25519 stanzas the header has (other types are not ones this program opens). */
  x25519Stanzas: Schema.Number,
  message: Schema.String,
}) {}

/** A payload chunk does not authenticate: the ciphertext was altered (or chunks moved). */
export class AgePayloadCorrupt extends Schema.TaggedError<AgePayloadCorrupt>()("AgePayloadCorrupt", {
  source: Schema.String,
  /** Index of the chunk (64 KiB of plaintext each) that failed, from 0. */
  chunk: Schema.Number,
  message: Schema.String,
}) {}

/** The payload ends without its last chunk: the file was cut short. */
export class AgePayloadTruncated extends Schema.TaggedError<AgePayloadTruncated>()("AgePayloadTruncated", {
  source: Schema.String,
  /** Chunks that did authenticate before the end. */
  chunks: Schema.Number,
  message: Schema.String,
}) {}

/** A recipient is not an `age1...` X25519 recipient (or none was given). */
export class AgeRecipientInvalid extends Schema.TaggedError<AgeRecipientInvalid>()("AgeRecipientInvalid", {
  source: Schema.String,
  message: Schema.String,
}) {}

/** An identity file holds something other than `AGE-SECRET-KEY-1...` lines and comments. */
export class AgeIdentityFileInvalid extends Schema.TaggedError<AgeIdentityFileInvalid>()("AgeIdentityFileInvalid", {
  path: Schema.String,
  /** 1-based; 0 when the file as a whole is the problem (it holds no identity). */
  line: Schema.Number,
  message: Schema.String,
}) {}

/** An identity file can be read by its group or by others, and no override was given. */
export class AgeIdentityFileExposed extends Schema.TaggedError<AgeIdentityFileExposed>()("AgeIdentityFileExposed", {
  path: Schema.String,
  /** The permission bits, octal (`644`). */
  mode: Schema.String,
  message: Schema.String,
}) {}

/** An identity file could not be read. */
export class AgeIdentityFileUnreadable extends Schema.TaggedError<AgeIdentityFileUnreadable>()("AgeIdentityFileUnreadable", FileSystemFailureFields) {}

/** Writing an encrypted or decrypted file failed (its `.part` was removed). */
export class AgeFileWriteFailed extends Schema.TaggedError<AgeFileWriteFailed>()("AgeFileWriteFailed", FileSystemFailureFields) {}

/** Failures of decrypting a stream. */
export type AgeDecryptError = AgeHeaderInvalid | AgeHeaderMacMismatch | AgeNoIdentityMatched | AgePayloadCorrupt | AgePayloadTruncated

export type AgeIdentityFileError = AgeIdentityFileInvalid | AgeIdentityFileExposed | AgeIdentityFileUnreadable

const ageErrorTags: ReadonlySet<string> = new Set([
  "AgeHeaderInvalid",
  "AgeHeaderMacMismatch",
  "AgeNoIdentityMatched",
  "AgePayloadCorrupt",
  "AgePayloadTruncated",
  "AgeRecipientInvalid",
])

/** Whether a thrown value is one of the stream errors above (the async iterables throw them). */
export const isAgeStreamError = (e: unknown): e is AgeDecryptError | AgeRecipientInvalid =>
  typeof e === "object" && e !== null && ageErrorTags.has((e as { readonly _tag?: unknown })._tag as string)
