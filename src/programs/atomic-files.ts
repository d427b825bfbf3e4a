/**
 * Writing backup files so that a crash or a failure never leaves a half-written file under its
 * final name: write `<name>.part`/a temp name, fsync it, rename, fsync the directory.
 */
import { Effect, FileSystem, Path, Schema } from "effect"

/** A file operation on the backup directory failed; names the path and the system's reason. */
export class BackupFileError extends Schema.TaggedError<BackupFileError>()("BackupFileError", {
  path: Schema.String,
  operation: Schema.String,
  message: Schema.String,
}) {}

/** Maps a platform failure of `operation` on `path` into a `BackupFileError`. */
export const fileError =
  (operation: string, path: string) =>
  (e: { readonly message: string }): BackupFileError =>
    new BackupFileError({
      path,
      operation,
      message: `cannot ${operation} ${path}: ${e.message}${/\bENOSPC\b/.test(e.message) ? ": the volume is full; free space or give it more room, then take the backup again." : ""}`,
    })

/** fsync of a directory, so a rename or unlink in it survives a crash. */
export const syncDirectory = Effect.fnUntraced(function* (dir: string) {
  const fs = yield* FileSystem.FileSystem
  yield* Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (handle) => handle.sync)).pipe(
    Effect.mapError(fileError("sync directory", dir)),
  )
})

/** Creates `dir` (and parents) if missing and sets it to `mode` (0700 by default). */
export const ensurePrivateDirectory = Effect.fnUntraced(function* (dir: string, mode = 0o700) {
  const fs = yield* FileSystem.FileSystem
  yield* fs.makeDirectory(dir, { recursive: true, mode }).pipe(Effect.mapError(fileError("create directory", dir)))
  yield* fs.chmod(dir, mode).pipe(Effect.mapError(fileError("set the mode of", dir)))
})

/** Removes a file if it exists; never fails (for cleanup paths). */
export const removeQuietly = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(path, { force: true })).pipe(Effect.ignore)

/**
 * Writes `data` to `path` atomically with `mode` (0600 by default): a sibling temp file is
 * written and fsynced, renamed over `path`, and the directory fsynced. On any failure or
 * interruption the temp file is removed and `path` is untouched.
 */
export const writeFileAtomic = Effect.fnUntraced(function* (path: string, data: Uint8Array, mode = 0o600) {
  const fs = yield* FileSystem.FileSystem
  const paths = yield* Path.Path
  const temp = `${path}.tmp-${process.pid}`
  yield* Effect.scoped(
    Effect.gen(function* () {
      const file = yield* fs.open(temp, { flag: "w", mode })
      yield* fs.chmod(temp, mode)
      yield* file.writeAll(data)
      yield* file.sync
    }),
  ).pipe(
    Effect.mapError(fileError("write", temp)),
    Effect.flatMap(() => fs.rename(temp, path).pipe(Effect.mapError(fileError("rename into place", path)))),
    Effect.onError(() => removeQuietly(temp)),
  )
  yield* syncDirectory(paths.dirname(path))
})
