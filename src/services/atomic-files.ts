/**
 * Writing backup files so that a crash or a failure never leaves a half-written file under its
 * final name: write `<name>.part`/a temp name, fsync it, rename, fsync the directory.
 */
import { lstat, readdir, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Clock, Effect, FileSystem, Path, Schema } from "effect"
import { type BackupFileRefused, readBackupFileBytes } from "./backup-file.ts"
import { fsyncDirectory } from "./file-steps.ts"
import { createFreshFile, replaceThroughFreshFile } from "./fresh-file.ts"
import { describeFileSystemFailure, errnoCode, FileSystemFailureFields } from "./file-system-error.ts"

/** A file operation failed: the errno code, the path, and a message saying what to do. */
export class BackupFileError extends Schema.TaggedError<BackupFileError>()("BackupFileError", FileSystemFailureFields) {}

/** Maps a failure (effect's `PlatformError`, Node's exception) of `operation` on `path` into a `BackupFileError`. */
export const fileError =
  (operation: string, path: string) =>
  (e: unknown): BackupFileError =>
    new BackupFileError(describeFileSystemFailure(operation, path, e))

/** fsync of a directory, so a rename or unlink in it survives a crash (a file system that cannot fsync a directory is let be). */
export const syncDirectory = (dir: string): Effect.Effect<void, BackupFileError> =>
  Effect.tryPromise({ try: () => fsyncDirectory(dir), catch: fileError("sync directory", dir) })

/**
 * Creates `dir` and its missing parents (0700 by default; existing ones are left as they are),
 * one level at a time: Node's recursive mkdir retries forever at 100% CPU where a parent refuses
 * new directories with ENOENT, as /proc and /sys do.
 */
export const makeDirectories = Effect.fnUntraced(function* (dir: string, mode = 0o700) {
  const fs = yield* FileSystem.FileSystem
  const paths = yield* Path.Path
  const missing: Array<string> = []
  for (let current = paths.resolve(dir); ; current = paths.dirname(current)) {
    const info = yield* fs.stat(current).pipe(
      Effect.catchIf(
        // ENOTDIR: a file above is in the way; the walk up finds and names it.
        (e) => (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") && paths.dirname(current) !== current,
        () => Effect.succeed(undefined),
      ),
      Effect.mapError(fileError("inspect", current)),
    )
    if (info === undefined) {
      missing.unshift(current)
      continue
    }
    if (info.type !== "Directory") {
      return yield* new BackupFileError({
        code: "ENOTDIR",
        path: current,
        operation: "create directory",
        message: `cannot create directory ${dir}: ${current} exists and is not a directory: check the path`,
      })
    }
    break
  }
  for (const level of missing) {
    yield* fs.makeDirectory(level, { mode }).pipe(
      Effect.catchIf(
        (e) => errnoCode(e) === "EEXIST",
        // Made by someone else meanwhile: fine if it is a directory.
        (e) => Effect.flatMap(fs.stat(level), (info) => (info.type === "Directory" ? Effect.void : Effect.fail(e))),
      ),
      Effect.mapError((e) =>
        errnoCode(e) === "ENOENT"
          ? new BackupFileError({
              code: "ENOENT",
              path: level,
              operation: "create directory",
              message: `cannot create directory ${level}: ENOENT: its parent exists but refuses new directories (a virtual file system such as /proc or /sys?): choose a directory on a disk`,
            })
          : fileError("create directory", level)(e),
      ),
    )
  }
})

/** Whether `path` is a directory itself, not a symbolic link to one (nor anything else). */
export const isRealDirectory = (path: string): Effect.Effect<boolean, BackupFileError> =>
  Effect.tryPromise({
    try: () => lstat(path).then((s) => s.isDirectory()),
    catch: fileError("inspect", path),
  }).pipe(
    Effect.catchIf(
      (e) => e.code === "ENOENT",
      () => Effect.succeed(false),
    ),
  )

/**
 * Creates `dir` (and parents) if missing and sets it to `mode` (0700 by default). `dir` itself must
 * be a directory, not a symbolic link to one: these are the backup directory's own private
 * directories (records, staged decoded Secrets), never to be written through a link planted there.
 */
export const ensurePrivateDirectory = Effect.fnUntraced(function* (dir: string, mode = 0o700) {
  const fs = yield* FileSystem.FileSystem
  yield* makeDirectories(dir, mode)
  if (!(yield* isRealDirectory(dir))) {
    return yield* new BackupFileError({
      code: "ENOTDIR",
      path: dir,
      operation: "create directory",
      message: `${dir} is not a directory of its own (a symbolic link?): this tool writes its private files (records, decoded Secrets) only into directories it made, never through a link; remove ${dir} and run again`,
    })
  }
  yield* fs.chmod(dir, mode).pipe(Effect.mapError(fileError("set the mode of", dir)))
})

/** Far more than a record of the backup directory holds (KiB to a few hundred KiB): a bound, not a size. */
const maxRecordBytes = 16 * 1024 * 1024

/**
 * The text of a record `writeFileAtomic` wrote: a regular file only, opened without waiting (a FIFO
 * planted there is refused through `refused`, never waited on forever), bounded in size.
 */
export const readRecordText = <E>(path: string, what: string, refused: (e: BackupFileRefused) => E): Effect.Effect<string, E | BackupFileError> =>
  readBackupFileBytes(path, maxRecordBytes).pipe(
    Effect.mapError((e) => (e._tag === "BackupFileRefused" ? refused(e) : fileError(`read ${what}`, path)(e))),
    Effect.map((bytes) => bytes.toString("utf8")),
  )

/** Removes a file if it exists; never fails (for cleanup paths). */
export const removeQuietly = (path: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(path, { force: true })).pipe(Effect.ignore)

/** The temp file `writeFileAtomic` writes `path` through: `<path>.tmp-<pid>`, named by its process. */
const tempInfix = ".tmp-"
const tempPathOf = (path: string): string => `${path}${tempInfix}${process.pid}`

/** A write through `writeFileAtomic` takes milliseconds: a temp file of `path` this old was left by a killed run. */
const abandonedTempAgeMs = 60_000

/** The temp files (`<name>.tmp-<pid>`) killed `writeFileAtomic` runs left beside `path`; gone meanwhile or unreadable: skipped. */
const abandonedTempFiles = async (path: string, nowMs: number): Promise<Array<string>> => {
  const name = basename(path)
  const names = await readdir(dirname(path)).catch(() => [] as Array<string>)
  const left: Array<string> = []
  for (const entry of names) {
    if (!entry.startsWith(`${name}${tempInfix}`) || !/^\d+$/.test(entry.slice(name.length + tempInfix.length))) continue
    const info = await lstat(join(dirname(path), entry)).catch(() => undefined)
    if (info?.isFile() === true && nowMs - info.mtimeMs >= abandonedTempAgeMs) left.push(join(dirname(path), entry))
  }
  return left
}

/**
 * Whether `writeFileAtomic` could replace `path`: its temp file created and removed, and no directory at `path`. For an
 * output written only after a long run (verify's report), so a mistyped path fails at once instead of at the end.
 * First removes the temp files killed runs left beside `path` (over a minute old: a concurrent write's is milliseconds).
 */
export const checkReplaceable = (path: string): Effect.Effect<void, BackupFileError> =>
  Effect.flatMap(Clock.currentTimeMillis, (nowMs) =>
    Effect.tryPromise({
      try: async () => {
        if ((await lstat(path).catch(() => undefined))?.isDirectory() === true) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" })
        for (const left of await abandonedTempFiles(path, nowMs)) await rm(left, { force: true })
        const probe = tempPathOf(path)
        await (await createFreshFile(probe, 0o600)).close()
        await rm(probe, { force: true })
      },
      catch: fileError("write", path),
    }),
  )

/**
 * Writes `data` to `path` atomically with `mode` (0600 by default): a sibling temp file is
 * written and fsynced, renamed over `path`, and the directory fsynced. On any failure or
 * interruption the temp file is removed and `path` is untouched (a kill leaves it: `checkReplaceable`, or
 * in a backup directory the next run's sweep and prune, remove it).
 */
export const writeFileAtomic = Effect.fnUntraced(function* (path: string, data: Uint8Array, mode = 0o600) {
  const paths = yield* Path.Path
  yield* Effect.tryPromise({ try: () => replaceThroughFreshFile(tempPathOf(path), path, data, mode), catch: fileError("write", path) })
  yield* syncDirectory(paths.dirname(path))
})
