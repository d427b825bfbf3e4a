/**
 * What can go wrong with a backup store, as values. Every error names the store location and
 * the key (or local path) and says what to do. None carries a secret: no access key, secret,
 * session token, signature or Authorization header ever reaches a message.
 */
import { Schema } from "effect"

/** The store refused our credentials or denied the operation (HTTP 403: signature, key, policy). */
export class StoreAccessDenied extends Schema.TaggedError<StoreAccessDenied>()("StoreAccessDenied", {
  store: Schema.String,
  operation: Schema.String,
  key: Schema.String,
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String,
}) {}

/** The bucket (or the store's directory) does not exist. */
export class StoreBucketMissing extends Schema.TaggedError<StoreBucketMissing>()("StoreBucketMissing", {
  store: Schema.String,
  bucket: Schema.String,
  message: Schema.String,
}) {}

/** An object that must exist does not. */
export class StoreObjectMissing extends Schema.TaggedError<StoreObjectMissing>()("StoreObjectMissing", {
  store: Schema.String,
  key: Schema.String,
  message: Schema.String,
}) {}

/** What the store holds (or sent) is not what was written: size, sha256 or MD5 differ. */
export class StoreIntegrityFailed extends Schema.TaggedError<StoreIntegrityFailed>()("StoreIntegrityFailed", {
  store: Schema.String,
  key: Schema.String,
  check: Schema.Literals(["size", "sha256", "md5"]),
  expected: Schema.String,
  found: Schema.String,
  message: Schema.String,
}) {}

/** Any other failed request: HTTP status and S3 error code, or a connection error code. */
export class StoreRequestFailed extends Schema.TaggedError<StoreRequestFailed>()("StoreRequestFailed", {
  store: Schema.String,
  operation: Schema.String,
  key: Schema.String,
  /** HTTP status; 0 when no response came (connection refused, reset, timed out). */
  status: Schema.Number,
  /** S3 error code (`SlowDown`, `InternalError`, ...) or errno code (`ECONNREFUSED`, `Timeout`). */
  code: Schema.String,
  /** Whether repeating the same request may succeed (5xx, 429, connection failures, timeouts). */
  retryable: Schema.Boolean,
  message: Schema.String,
}) {}

/** No credentials were found, or a credentials source is unreadable or malformed. */
export class StoreCredentialsUnavailable extends Schema.TaggedError<StoreCredentialsUnavailable>()("StoreCredentialsUnavailable", {
  source: Schema.String,
  message: Schema.String,
}) {}

/** A local file (what is uploaded, where a download goes, the directory store) failed. */
export class StoreLocalIoFailed extends Schema.TaggedError<StoreLocalIoFailed>()("StoreLocalIoFailed", {
  path: Schema.String,
  operation: Schema.String,
  code: Schema.String,
  message: Schema.String,
}) {}

export type StoreError =
  | StoreAccessDenied
  | StoreBucketMissing
  | StoreObjectMissing
  | StoreIntegrityFailed
  | StoreRequestFailed
  | StoreCredentialsUnavailable
  | StoreLocalIoFailed

/** Whether repeating the request unchanged may succeed. */
export const isRetryableStoreError = (e: StoreError): boolean => e._tag === "StoreRequestFailed" && e.retryable

/** The errno code of a Node error (`ENOENT`, ...), or `EIO` when it has none. */
export const errnoCode = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e && typeof (e as { code: unknown }).code === "string" ? (e as { code: string }).code : "EIO"

const errnoHint: Record<string, string> = {
  ENOSPC: "the device is full: free space or use a larger volume",
  EDQUOT: "the disk quota is exhausted: free space or raise the quota",
  EACCES: "permission denied: check the owner and mode of the path",
  EPERM: "operation not permitted: check the owner and mode of the path",
  ENOENT: "no such file or directory",
  EROFS: "the file system is read-only: mount it writable",
}

/** A local I/O failure with a message a person can act on. */
export const localIoFailed = (path: string, operation: string, e: unknown): StoreLocalIoFailed => {
  const code = errnoCode(e)
  return new StoreLocalIoFailed({ path, operation, code, message: `${operation} ${path} failed (${code}): ${errnoHint[code] ?? (e instanceof Error ? e.message : String(e))}` })
}
