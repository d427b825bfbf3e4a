/**
 * Opening a backup's files (snapshot, tarball, manifest) for reading, safely: only a regular file
 * is ever opened, and no read goes past a stated size.
 *
 * A FIFO, a device or a symbolic link to one in place of a backup file would otherwise hang the
 * reader forever (`open` of a FIFO without a writer blocks inside libuv's thread pool, beyond the
 * reach of SIGTERM; `/dev/zero` never ends). So the path is `lstat`-ed first and anything but a
 * regular file is refused by name, before any `open`. Symbolic links are refused too, even to a
 * regular file: a backup is a directory of files, and a link can be re-pointed between the check
 * and the read. The open itself uses `O_NOFOLLOW | O_NONBLOCK` and the opened file is `fstat`-ed
 * again, so a file swapped after the check is refused rather than waited on. Reads stop at the
 * size the file had when opened (and a caller's `maxBytes`, the size a manifest states): more
 * bytes than that is a failure, never an endless read.
 */
import { constants, type Stats } from "node:fs"
import { lstat, open, readlink, stat, type FileHandle } from "node:fs/promises"
import { Effect, Schema } from "effect"
import { describeFileSystemFailure, FileSystemFailureFields } from "./file-system-error.ts"

export const BackupFileRefusal = Schema.Literals([
  /** A FIFO, device, socket, directory or symbolic link. */
  "not-regular",
  /** Larger than the caller's bound (the size a manifest states). */
  "too-large",
  /** Replaced, or grew, between the check and the read. */
  "changed",
])
export type BackupFileRefusal = typeof BackupFileRefusal.Type

/** A backup file that is not read: `found` says what is there instead (`a FIFO (named pipe)`). */
export class BackupFileRefused extends Schema.TaggedError<BackupFileRefused>()("BackupFileRefused", {
  path: Schema.String,
  reason: BackupFileRefusal,
  found: Schema.String,
  /** Its size in bytes, when it is a regular file. */
  size: Schema.optionalKey(Schema.Number),
  /** The bound it exceeded (`too-large`). */
  maxBytes: Schema.optionalKey(Schema.Number),
  message: Schema.String,
}) {}

/** A file-system call on a backup file failed (missing, permissions, I/O error). */
export class BackupFileUnreadable extends Schema.TaggedError<BackupFileUnreadable>()("BackupFileUnreadable", FileSystemFailureFields) {}

export type BackupFileFailure = BackupFileRefused | BackupFileUnreadable

const describeType = (info: Stats): string =>
  info.isFIFO()
    ? "a FIFO (named pipe)"
    : info.isCharacterDevice()
      ? "a character device"
      : info.isBlockDevice()
        ? "a block device"
        : info.isDirectory()
          ? "a directory"
          : info.isSocket()
            ? "a socket"
            : info.isSymbolicLink()
              ? "a symbolic link"
              : "not a regular file"

/** What `path` (lstat-ed as `info`) is, a symbolic link with what it points to. */
const describe = async (path: string, info: Stats): Promise<string> => {
  if (!info.isSymbolicLink()) return describeType(info)
  const target = await readlink(path).catch(() => undefined)
  const pointee = await stat(path).then(describeType, () => "nothing that exists")
  return `a symbolic link${target === undefined ? "" : ` to ${target}`} (${pointee === "not a regular file" ? "a regular file" : pointee})`
}

const notRegular = async (path: string, info: Stats) => {
  const found = await describe(path, info)
  const advice = info.isSymbolicLink()
    ? "backup files are never read through a symbolic link: copy the file itself into the backup directory"
    : "a backup's snapshot, tarball and manifest must be regular files: copy the backup's real files into the directory"
  return new BackupFileRefused({ path, reason: "not-regular", found, message: `${path} is ${found}, not a regular file; it was not opened: ${advice}` })
}

const tooLarge = (path: string, size: number, maxBytes: number) =>
  new BackupFileRefused({
    path,
    reason: "too-large",
    found: `${size} bytes`,
    size,
    maxBytes,
    message: `${path} is ${size} bytes, more than the ${maxBytes} bytes it may have (the size the backup manifest states, or the limit for this file); it was not read`,
  })

const changed = (path: string, found: string) =>
  new BackupFileRefused({
    path,
    reason: "changed",
    found,
    message: `${path} ${found} while it was being opened or read; make sure nothing writes to the backup, then run again`,
  })

export interface BackupFileReadOptions {
  /** Refuse a file larger than this (the size the manifest states). */
  readonly maxBytes?: number | undefined
  readonly chunkSize?: number | undefined
  readonly signal?: AbortSignal | undefined
}

export interface OpenedBackupFile {
  readonly handle: FileHandle
  /** Its size when opened: reads stop there. */
  readonly size: number
}

/**
 * `path` opened for reading, if it is a regular file (not through a link) of at most `maxBytes`.
 * Throws `BackupFileRefused`; a failing system call throws Node's own error.
 */
export const openBackupFile = async (path: string, maxBytes?: number): Promise<OpenedBackupFile> => {
  const before = await lstat(path)
  if (!before.isFile()) throw await notRegular(path, before)
  if (maxBytes !== undefined && before.size > maxBytes) throw tooLarge(path, before.size, maxBytes)
  // O_NONBLOCK: should a FIFO have taken the file's place since the lstat, open returns at once.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY)
  try {
    const after = await handle.stat()
    if (!after.isFile() || after.ino !== before.ino || after.dev !== before.dev) throw changed(path, `was replaced by ${describeType(after)}`)
    if (maxBytes !== undefined && after.size > maxBytes) throw tooLarge(path, after.size, maxBytes)
    return { handle, size: after.size }
  } catch (e) {
    await handle.close()
    throw e
  }
}

/** Throws `BackupFileRefused` unless `path` is a regular file (not a link): for a path handed to another program. */
export const requireRegularFile = async (path: string): Promise<void> => {
  const info = await lstat(path)
  if (!info.isFile()) throw await notRegular(path, info)
}

/** The bytes of a backup file in chunks, from an `openBackupFile` check; more than its size at open is a failure. */
export async function* readBackupFile(path: string, options: BackupFileReadOptions = {}): AsyncGenerator<Buffer> {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  const { handle, size } = await openBackupFile(path, options.maxBytes)
  try {
    let total = 0
    for (;;) {
      options.signal?.throwIfAborted()
      const buffer = Buffer.allocUnsafe(chunkSize)
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null)
      if (bytesRead === 0) return
      total += bytesRead
      if (total > size) throw changed(path, `grew beyond the ${size} bytes it had when opened`)
      yield buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close()
  }
}

/**
 * Hands each chunk of a backup file to `onChunk`, read into one buffer that is reused: a chunk is
 * valid only during its call. For a reader that only hashes (verify's digests): fresh buffers per
 * chunk cost a 1 GiB snapshot ~0.6 s of collection and their page faults, as much as the hash.
 */
export const forEachBackupFileChunk = (
  path: string,
  options: Omit<BackupFileReadOptions, "signal">,
  onChunk: (chunk: Uint8Array) => void,
): Effect.Effect<void, BackupFileFailure> =>
  Effect.tryPromise({
    try: async (signal) => {
      const chunkSize = options.chunkSize ?? 1024 * 1024
      const { handle, size } = await openBackupFile(path, options.maxBytes)
      try {
        const buffer = Buffer.allocUnsafeSlow(chunkSize)
        for (let total = 0; ; ) {
          signal.throwIfAborted()
          const { bytesRead } = await handle.read(buffer, 0, chunkSize, null)
          if (bytesRead === 0) return
          total += bytesRead
          if (total > size) throw changed(path, `grew beyond the ${size} bytes it had when opened`)
          onChunk(buffer.subarray(0, bytesRead))
        }
      } finally {
        await handle.close()
      }
    },
    catch: failure("read", path),
  })

const failure =
  (operation: string, path: string) =>
  (e: unknown): BackupFileFailure =>
    e instanceof BackupFileRefused ? e : new BackupFileUnreadable(describeFileSystemFailure(operation, path, e))

/** A whole backup file, at most `maxBytes`. */
export const readBackupFileBytes = (path: string, maxBytes: number): Effect.Effect<Buffer, BackupFileFailure> =>
  Effect.tryPromise({
    try: async (signal) => {
      const chunks: Array<Buffer> = []
      for await (const chunk of readBackupFile(path, { maxBytes, signal })) chunks.push(chunk)
      return Buffer.concat(chunks)
    },
    catch: failure("read", path),
  })

/** `readBackupFileBytes`, or undefined when there is no such file (an optional file of a backup). */
export const readOptionalBackupFileBytes = (path: string, maxBytes: number): Effect.Effect<Buffer | undefined, BackupFileFailure> =>
  readBackupFileBytes(path, maxBytes).pipe(
    Effect.map((b): Buffer | undefined => b),
    Effect.catchIf(
      (e) => e._tag === "BackupFileUnreadable" && e.code === "ENOENT",
      () => Effect.succeed(undefined),
    ),
  )

/** Fails with `BackupFileRefused` unless `path` is a regular file (see `requireRegularFile`). */
export const checkRegularFile = (path: string): Effect.Effect<void, BackupFileFailure> =>
  Effect.tryPromise({ try: () => requireRegularFile(path), catch: failure("inspect", path) })
