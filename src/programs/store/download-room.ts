/**
 * Before a download writes anything: what a killed download of the same files left in the
 * directory is removed (it takes room, and the download would replace it anyway), and the free
 * space of the directory's file system is checked against what is still to fetch, so that a
 * backup too large for it is refused at once, not after gigabytes.
 */
import { dirname, join } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import type { FileDigest } from "../../domain/backup-manifest.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { downloadLeftovers } from "../../domain/download-leftovers.ts"
import { DiskSpace } from "../../services/disk-space.ts"
import { localIoFailed } from "../../services/store/store-errors.ts"

export class WorkDirTooSmall extends Schema.TaggedError<WorkDirTooSmall>()("WorkDirTooSmall", {
  path: Schema.String,
  neededBytes: Schema.Number,
  availableBytes: Schema.Number,
  message: Schema.String,
}) {}

/** Room left for the manifest and its signature beside the two files (they are small; a bound, not their size). */
const manifestAllowance = 1024 * 1024

/** The nearest of `path` and the directories above it that exists (the download directory may be made later). */
const nearestExisting = (path: string): Effect.Effect<string, never, FileSystem.FileSystem> =>
  FileSystem.FileSystem.use((fs) => fs.exists(path)).pipe(
    Effect.orElseSucceed(() => false),
    Effect.flatMap((exists) => (exists || dirname(path) === path ? Effect.succeed(path) : nearestExisting(dirname(path)))),
  )

/** Removes what killed downloads of `files` left in `dir` (a directory not made yet holds nothing). */
export const removeDownloadLeftovers = Effect.fn("removeDownloadLeftovers")(function* (dir: string, files: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
  for (const name of files.flatMap((f) => downloadLeftovers(names, f))) {
    yield* fs.remove(join(dir, name), { force: true }).pipe(Effect.mapError((e) => localIoFailed(join(dir, name), "remove", e)))
    yield* Effect.logInfo(`removed ${join(dir, name)}: what an interrupted download left`)
  }
})

/**
 * Fails with `WorkDirTooSmall` (`largerPlace` says where else to download) unless `dir`'s file system has room for
 * `toFetch`: an encrypted file's ciphertext sits beside its plaintext while it is decrypted, one file at a time.
 * Returns the bytes to fetch.
 */
export const requireDownloadRoom = Effect.fn("requireDownloadRoom")(function* (
  dir: string,
  toFetch: ReadonlyArray<FileDigest>,
  what: string,
  largerPlace: string,
) {
  const bytes = toFetch.reduce((sum, f) => sum + f.size, 0)
  const needed = manifestAllowance + bytes + Math.max(0, ...toFetch.map((f) => f.encrypted?.size ?? 0))
  const on = yield* nearestExisting(dir)
  const usage = yield* DiskSpace.use((d) => d.usage(on))
  if (usage.availableBytes < needed) {
    return yield* new WorkDirTooSmall({
      path: dir,
      neededBytes: needed,
      availableBytes: usage.availableBytes,
      message: `${what} needs ${formatBytes(needed)} in ${dir}, which has ${formatBytes(usage.availableBytes)} free: nothing downloaded; free space there or ${largerPlace}`,
    })
  }
  return bytes
})
