/**
 * Removes what killed runs of the backup pod's commands left in a backup directory: partial
 * snapshots and tarballs (`.part`), backup-upload's ciphertext of the manifest's files (`<file>.age`, `.age.part`), unfinished atomic writes (`.tmp-<id>`, and the run lock's
 * temporary files when their process is gone) and `building/` with its decoded Secrets (names decided by `domain/backup-leftovers.ts`). Each removal is logged with
 * its size. Call it only while holding the backup directory's lock (`withBackupDirLock`): then no
 * live run is writing any of these.
 */
import { Effect, FileSystem, Path } from "effect"
import { hostname } from "node:os"
import {
  backupDirectoryLeftover,
  manifestFilesOf,
  recordDirectoryLeftover,
  runLockTempPid,
  type LeftoverKind,
  type ManifestFile,
} from "../../domain/backup-leftovers.ts"
import { manifestFileName } from "../../domain/archive-names.ts"
import { readBackupManifest } from "./backup-manifest-file.ts"
import { ownerLiveness } from "../../services/run-lock.ts"
import { fileError } from "../../services/atomic-files.ts"
import { recordDirName } from "./snapshot-record.ts"
import { formatBytes } from "../../domain/byte-format.ts"

export interface SweptLeftover {
  readonly path: string
  readonly kind: LeftoverKind
  /** Bytes of the file, or of every file under the directory. */
  readonly bytes: number
  readonly files: number
}

/** Bytes and number of files at `target` (a file or a tree); unreadable entries count as 0. */
export const measure = Effect.fnUntraced(function* (target: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const sizeOf = (p: string) =>
    fs.lstat(p).pipe(
      Effect.map((info) => (info.type === "File" ? { bytes: Number(info.size), files: 1 } : { bytes: 0, files: 0 })),
      Effect.orElseSucceed(() => ({ bytes: 0, files: 0 })),
    )
  const top = yield* fs.lstat(target).pipe(Effect.orElseSucceed(() => undefined))
  if (top?.type !== "Directory") return yield* sizeOf(target)
  const entries = yield* fs.readDirectory(target, { recursive: true }).pipe(Effect.orElseSucceed(() => []))
  const sizes = yield* Effect.forEach(entries, (e) => sizeOf(path.join(target, e)))
  return sizes.reduce((a, b) => ({ bytes: a.bytes + b.bytes, files: a.files + b.files }), { bytes: 0, files: 0 })
})

/** Removes every leftover of a killed run in `backupDir` and returns what it removed. */
export const sweepLeftovers = Effect.fnUntraced(function* (backupDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const recordDir = path.join(backupDir, recordDirName)
  const list = (dir: string) =>
    fs
      .readDirectory(dir)
      .pipe(Effect.catchTag("PlatformError", (e) => (e.reason._tag === "NotFound" ? Effect.succeed([]) : Effect.fail(fileError("list", dir)(e)))))
  // A manifest that decodes names the files whose upload ciphertext a killed backup-upload left.
  const manifestFiles = yield* readBackupManifest(path.join(backupDir, manifestFileName)).pipe(
    Effect.map((m) => manifestFilesOf(m.files)),
    Effect.orElseSucceed((): ReadonlyArray<ManifestFile> => []),
  )
  const found: Array<{ readonly path: string; readonly kind: LeftoverKind }> = []
  for (const name of yield* list(backupDir)) {
    const kind = backupDirectoryLeftover(name, manifestFiles)
    if (kind !== undefined) found.push({ path: path.join(backupDir, name), kind })
  }
  for (const name of yield* list(recordDir)) {
    const kind = recordDirectoryLeftover(name)
    if (kind !== undefined) found.push({ path: path.join(recordDir, name), kind })
    // A run killed while it took the lock; a live one taking it now keeps its file.
    const pid = runLockTempPid(name)
    if (pid !== undefined && (yield* Effect.promise(() => ownerLiveness({ pid, startTicks: null, host: hostname(), command: "", startedAt: "" }))) === "gone") {
      found.push({ path: path.join(recordDir, name), kind: "unfinished atomic write" })
    }
  }
  const swept: Array<SweptLeftover> = []
  for (const leftover of found) {
    const { bytes, files } = yield* measure(leftover.path)
    yield* fs.remove(leftover.path, { recursive: true, force: true }).pipe(Effect.mapError(fileError("remove the leftover", leftover.path)))
    // An empty building/ is what every finished backup-resources leaves: not worth a line.
    if (files === 0 && leftover.kind === "revision tree being built") continue
    swept.push({ ...leftover, bytes, files })
    const size = leftover.kind === "revision tree being built" ? `${files} ${files === 1 ? "file" : "files"}, ${formatBytes(bytes)}` : formatBytes(bytes)
    yield* Effect.logWarning(`removed ${leftover.path}: ${leftover.kind} left by an interrupted run (${size})`)
  }
  return swept
})
