/**
 * One account of every failed file-system call: the errno code, the path, the operation, and a
 * message saying what to do. Node's `ErrnoException` and effect's `PlatformError` (whose
 * `SystemError` keeps Node's exception as its cause, while its own message shows a descriptor
 * number where a file handle failed: `Unknown: FileSystem.writeAll (21)`) both map here.
 */
import { Schema } from "effect"
import { failureText } from "../domain/failure-text.ts"

/** The fields of a file-system failure, for the tagged errors that carry one. */
export const FileSystemFailureFields = {
  /** Node's errno code (`ENOSPC`, `EACCES`, ...); absent when the system gave none. */
  code: Schema.optional(Schema.String),
  path: Schema.String,
  operation: Schema.String,
  message: Schema.String,
}

const FileSystemFailure = Schema.Struct(FileSystemFailureFields)
export type FileSystemFailure = typeof FileSystemFailure.Type

const errnoPattern = /^E[A-Z0-9]+$/

/** The failure, or the platform reason or cause inside it (effect wraps Node's exception twice), that has an errno code. */
const errnoBearer = (failure: unknown): { readonly code: string; readonly message?: unknown } | undefined => {
  let current: unknown = failure
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const { code, reason, cause } = current as { readonly code?: unknown; readonly reason?: unknown; readonly cause?: unknown }
    if (typeof code === "string" && errnoPattern.test(code)) return current as { readonly code: string }
    current = typeof reason === "object" && reason !== null ? reason : cause
  }
  return undefined
}

/** The errno code of a failure (Node's, or kept inside effect's `PlatformError`); undefined when it has none. */
export const errnoCode = (failure: unknown): string | undefined => errnoBearer(failure)?.code

/** What `code` means for `operation` on `path`, and what a person should do about it. */
const advice: Readonly<Record<string, (path: string, operation: string) => string>> = {
  ENOSPC: (p) => `the volume holding ${p} is full: free space or give it more room, then run again`,
  EDQUOT: (p) => `the disk quota of the volume holding ${p} is used up: free space or raise the quota, then run again`,
  EACCES: (p, op) => `not permitted: run as a user who may ${op} ${p}, or change the permissions of ${p} or of its directory`,
  EPERM: (p, op) => `not permitted: run as a user who may ${op} ${p}, or lift what forbids it (permissions, attributes, security policy)`,
  EROFS: (p) => `the file system holding ${p} is read-only: use a writable location, or remount it read-write`,
  ENOENT: (p) => `${p} or a directory above it does not exist: check the path`,
  ENOTDIR: (p) => `a part of ${p} that must be a directory is not one: check the path`,
  EISDIR: (p) => `${p} is a directory where a file is needed: check the path`,
  EEXIST: (p) => `${p} already exists: move it away or choose another path`,
  ENOTEMPTY: (p) => `${p} is a directory that is not empty: move its contents away or choose another path`,
  ELOOP: (p) => `${p} leads through a loop of symbolic links, or is a symbolic link where none is allowed: check the path`,
  ENAMETOOLONG: (p) => `the path ${p} is too long: choose a shorter one`,
  EMFILE: () => `this process has too many open files: raise its limit (ulimit -n), then run again`,
  ENFILE: () => `the system has too many open files: close some or raise fs.file-max, then run again`,
  EIO: (p) => `the device holding ${p} reported an I/O error: check the disk and the kernel log (dmesg) before trusting it again`,
  EBUSY: (p) => `${p} is busy (in use, or a mount point): stop what uses it, then run again`,
  EXDEV: (p) => `${p} cannot be moved across file systems: keep it on the file system of its destination`,
  EFBIG: (p) => `${p} would be larger than its file system allows: use a file system that allows larger files`,
  ENXIO: (p) => `${p} is a special file with no device or reader behind it: give a regular file`,
  ENODEV: (p) => `${p} is a special file with no device behind it: give a regular file`,
  EINVAL: (p, op) => `the file system holding ${p} refused to ${op} it (invalid argument): use a local file system that supports it`,
}

/** The codes the mapper explains; any other keeps the system's own description. */
export const explainedCodes: ReadonlyArray<string> = Object.keys(advice)

const systemDescription = failureText

/**
 * The structured account of `failure` (anything a file-system call failed with) during
 * `operation` on `path`: "cannot <operation> <path>: <CODE>: <what it means and what to do>".
 * A code without advice keeps the system's description; no code, the failure's own message.
 */
export const describeFileSystemFailure = (operation: string, path: string, failure: unknown): FileSystemFailure => {
  const bearer = errnoBearer(failure)
  const code = bearer?.code
  const explain = code === undefined ? undefined : advice[code]
  const detail =
    explain !== undefined
      ? `${code}: ${explain(path, operation)}`
      : bearer === undefined
        ? systemDescription(failure)
        : systemDescription(bearer).startsWith(bearer.code)
          ? systemDescription(bearer)
          : `${bearer.code}: ${systemDescription(bearer)}`
  return { code, path, operation, message: `cannot ${operation} ${path}: ${detail}` }
}
