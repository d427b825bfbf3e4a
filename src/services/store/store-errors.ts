/**
 * What can go wrong with a backup store, as values. Every error names the store location and
 * the key (or local path) and says what to do. None carries a secret: no access key, secret,
 * session token, signature or Authorization header ever reaches a message.
 */
import { Effect, Schema } from "effect"
import { type BackupFileFailure, BackupFileRefused } from "../backup-file.ts"
import { describeFileSystemFailure, errnoCode as fileSystemErrnoCode, FileSystemFailureFields } from "../file-system-error.ts"

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

/** What the store holds (or sent) is not what was written: size, sha256 or MD5 differ, or it is not encrypted as asked. */
export class StoreIntegrityFailed extends Schema.TaggedError<StoreIntegrityFailed>()("StoreIntegrityFailed", {
  store: Schema.String,
  key: Schema.String,
  check: Schema.Literals(["size", "sha256", "md5", "encryption"]),
  expected: Schema.String,
  found: Schema.String,
  message: Schema.String,
}) {}

/** S3's error code for a read of an object in an archive storage class (moved there by a lifecycle rule). */
export const archivedObjectCode = "InvalidObjectState"

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

/** A read refused because the object is in an archive storage class: unreadable until restored, not a failure of the store. */
export const isArchivedObject = (e: StoreError): boolean => e._tag === "StoreRequestFailed" && e.code === archivedObjectCode

/** No credentials were found, or a credentials source is unreadable or malformed. */
export class StoreCredentialsUnavailable extends Schema.TaggedError<StoreCredentialsUnavailable>()("StoreCredentialsUnavailable", {
  /** The variable, file or endpoint (STS) the credentials were to come from. */
  source: Schema.String,
  /** STS's error code (`AccessDenied`, `InvalidIdentityToken`, `ExpiredToken`) or a connection error code. */
  code: Schema.optionalKey(Schema.String),
  /** Whether asking again may succeed (STS throttling or 5xx, no answer). */
  retryable: Schema.optionalKey(Schema.Boolean),
  message: Schema.String,
}) {}

/** A local file (what is uploaded, where a download goes, the directory store) failed. */
export class StoreLocalIoFailed extends Schema.TaggedError<StoreLocalIoFailed>()("StoreLocalIoFailed", FileSystemFailureFields) {}

export type StoreError =
  | StoreAccessDenied
  | StoreBucketMissing
  | StoreObjectMissing
  | StoreIntegrityFailed
  | StoreRequestFailed
  | StoreCredentialsUnavailable
  | StoreLocalIoFailed
  /** A file to upload is not a regular file (a FIFO, a device, a link) or changed while read. */
  | BackupFileRefused

/** S3 error codes of a store whose quota is used up: Ceph RGW's (ODF; HTTP 403) and MinIO's bucket quota (HTTP 400). */
export const quotaExceededCodes: ReadonlySet<string> = new Set(["QuotaExceeded", "XMinioAdminBucketQuotaExceeded"])

/** The store refused a write because its quota (the bucket's, or its owner's) is used up: removing backups makes room. */
export const isQuotaExceeded = (e: { readonly _tag: string; readonly code?: string | undefined }): boolean =>
  e._tag === "StoreRequestFailed" && e.code !== undefined && quotaExceededCodes.has(e.code)

/** Whether repeating the request unchanged may succeed. */
export const isRetryableStoreError = (e: StoreError): boolean => e._tag === "StoreRequestFailed" && e.retryable

/**
 * The code of a failure: its errno (`ENOENT`, found through effect's wrappers as the one mapper
 * finds it), else a code of our own on it (`Timeout`), else `EIO`.
 */
export const errnoCode = (e: unknown): string => {
  const own = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined
  return fileSystemErrnoCode(e) ?? (typeof own === "string" ? own : "EIO")
}

/** A local I/O failure (`operation`: a verb, "read", "rename into") with the one mapper's message. */
export const localIoFailed = (path: string, operation: string, e: unknown): StoreLocalIoFailed =>
  new StoreLocalIoFailed(describeFileSystemFailure(operation, path, e))

/** `localIoFailed` for a catch: the failure of `operation` on `path`. */
export const localIoFailedOn =
  (path: string, operation: string) =>
  (e: unknown): StoreLocalIoFailed =>
    localIoFailed(path, operation, e)

/** A local I/O failure that does not fail the run (a cleanup): a warning with its path and errno, and what to do after its message. */
export const warnLocalIoFailed = (e: StoreLocalIoFailed, advice: string) =>
  Effect.logWarning(`${e.message}; ${advice}`).pipe(Effect.annotateLogs({ path: e.path, code: e.code ?? "none" }))

/** A failure opening or reading a file to upload: `backup-file.ts`'s refusal as it is, anything else through the mapper. */
export const uploadFileFailed = (path: string, operation: string, e: unknown): BackupFileRefused | StoreLocalIoFailed =>
  e instanceof BackupFileRefused ? e : localIoFailed(path, operation, e)

/** `backup-file.ts`'s failure as a StoreError: a refusal as it is, an unreadable file as the store's local I/O failure. */
export const backupFileFailed = (e: BackupFileFailure): BackupFileRefused | StoreLocalIoFailed =>
  e._tag === "BackupFileRefused"
    ? e
    : new StoreLocalIoFailed({ path: e.path, operation: e.operation, message: e.message, ...(e.code === undefined ? {} : { code: e.code }) })
