/**
 * Carrying out prune's plan, location by location under its lock, so that a prune killed at any
 * point leaves only states the next prune recognises and finishes.
 */
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { DurableFiles } from "../../services/durable-files.ts"
import { acquireRunLock } from "../../services/run-lock.ts"
import { backupDirLockPath } from "../backup-dir/backup-dir-lock.ts"
import { recordDirName } from "../backup-dir/snapshot-record.ts"
import { fsError, PruneFailed } from "./prune-failed.ts"
import { keptForeign, type LeftInPlace, type Work } from "./prune-plan.ts"
import { ownNames } from "./prune-scan.ts"

/** Removes `target` (a file, or a tree when `tree`); already gone is fine. */
const removeEntry = (target: string, tree: boolean) =>
  DurableFiles.use((files) => (tree ? files.removeTree(target) : files.removeFile(target))).pipe(Effect.mapError(fsError(target, "remove")))

/** Removes `dir` if it is empty (rmdir: atomic, so what appears in it meanwhile is never removed); false when something is in it. */
const removeEmptyDir = (dir: string) =>
  DurableFiles.use((files) => files.removeEmptyDirectory(dir)).pipe(
    Effect.as(true),
    Effect.catch((e) =>
      e.code === "ENOTEMPTY" || e.code === "EEXIST"
        ? Effect.succeed(false)
        : e.code === "ENOENT"
          ? Effect.succeed(true)
          : Effect.fail(fsError(dir, "remove")(e)),
    ),
  )

/**
 * Applies a location's share of the plan, holding the location's lock (the pruned directory's is
 * already held). Returns what it had to leave in place, and whether a live run took the lock
 * since the scan (then nothing was changed there).
 */
export const applyToLocation = Effect.fnUntraced(function* (work: Work) {
  const path = yield* Path.Path
  const names = ownNames(path)
  const { location, groups, leftovers, emptied } = work
  const at = (rel: string) => path.join(location.dir, rel)
  const c = location.contents
  const locking = location.subdirectory && c.hasRecordDir
  // A kept backup's lock left by a killed run (a prune killed after its removals there, before its release) is taken
  // over and released like any other, and its temporary files a run killed while taking it left go, as the backup
  // commands sweep theirs: no run's lock outlives it.
  const deadLock = (locking && location.lock._tag === "Stale") || location.deadLockTemps.length > 0
  if (groups.length === 0 && leftovers.length === 0 && !emptied && !deadLock) return { left: [] as Array<LeftInPlace>, taken: false }
  const lockPath = backupDirLockPath(path, location.dir)
  if (locking) {
    const taken = yield* acquireRunLock(lockPath, "prune").pipe(Effect.result)
    if (Result.isFailure(taken)) {
      if (taken.failure._tag === "RunLockHeld")
        return { left: [{ path: `${location.rel}/`, reason: `nothing removed: ${taken.failure.message}` }], taken: true }
      return yield* new PruneFailed({ path: lockPath, message: taken.failure.message })
    }
    const replaced = taken.success.replaced
    if (replaced._tag === "Stale")
      yield* Effect.logInfo(
        `removed ${lockPath}: the lock of a run that is gone${replaced.owner === undefined ? " (unreadable)" : ` (${replaced.owner.command}, PID ${replaced.owner.pid} on ${replaced.owner.host})`}`,
      )
  }
  for (const temp of location.deadLockTemps) yield* removeEntry(at(temp), false)
  for (const g of groups) for (const f of g.files) yield* removeEntry(at(f), false)
  for (const l of leftovers) yield* removeEntry(at(l.path), l.tree)
  if (!emptied) return { left: [], taken: false }
  // No backup is left in the subdirectory: its own records go (our lock last), then the directory if nothing else is in it.
  // Once the record directory is gone nothing says the subdirectory was ours: the pruned directory's record says it until it is gone.
  const marker = removingMarkerPath(path, path.dirname(location.dir))
  const fs = yield* FileSystem.FileSystem
  yield* fs.writeFileString(marker, JSON.stringify({ subdirectory: location.rel })).pipe(Effect.mapError(fsError(marker, "write")))
  for (const f of c.internals) yield* removeEntry(at(f), false)
  if (locking) yield* removeEntry(lockPath, false)
  const left: Array<LeftInPlace> = []
  if (c.hasRecordDir) yield* removeEmptyDir(at(names.recordDir))
  if (!(yield* removeEmptyDir(location.dir))) {
    left.push({ path: `${location.rel}/`, reason: keptForeign(c.foreign) })
  }
  yield* removeEntry(marker, false)
  return { left, taken: false }
})

/** `<dir>/.cluster-backup/prune-removing.json`: the subdirectory prune is emptying, while it removes the subdirectory's own record directory and then the subdirectory. */
const removingMarkerPath = (path: Path.Path, root: string) => path.join(root, recordDirName, "prune-removing.json")

const decodeRemoving = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ subdirectory: Schema.String })))

/** Finishes the emptying of a subdirectory a killed prune had begun: the directory goes if it is still empty (rmdir: never what appeared in it since). */
export const finishRemoving = Effect.fnUntraced(function* (root: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const marker = removingMarkerPath(path, root)
  const text = yield* fs.readFileString(marker).pipe(Effect.option)
  if (text._tag === "None") return
  const named = decodeRemoving(text.value)
  if (named._tag === "Some" && /^[^/\0]+$/.test(named.value.subdirectory) && !named.value.subdirectory.startsWith(".")) {
    const dir = path.join(root, named.value.subdirectory)
    const info = yield* fs.lstat(dir).pipe(Effect.option)
    if (info._tag === "Some" && info.value.type === "Directory" && (yield* removeEmptyDir(dir))) {
      yield* Effect.logInfo(`removed ${named.value.subdirectory}/: the empty backup directory an interrupted prune was removing`)
    }
  }
  yield* removeEntry(marker, false)
})
