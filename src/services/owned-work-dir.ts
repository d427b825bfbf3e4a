/**
 * Work directories each owned by its run through a run lock beside it (`<dir>.lock`, run-lock.ts),
 * so that the next run of the same command sweeps what a killed run left and never touches a live
 * run's: the ones `verify` and `restore` download a store's backup into, and the demo's.
 * - `verify`: a fresh `<tmp>/cluster-backup-verify-<random>`, removed when the run ends; a killed
 *   run's directory (its lock stale) is removed by the next `verify`;
 * - `restore`: `<downloads>/<id>`, kept for a rerun to reuse; a killed run's partial files in it
 *   are removed by the next run that takes it, and another id's download left by a killed run is
 *   removed whole. A download whose run finished (no lock left) is kept, as documented.
 * - the demo: a fresh `<tmp>/cluster-backup-demo-<random>` (etcd's data, the certificates' keys).
 * A sweep takes each stale lock itself before removing anything, so a run that replaced the lock
 * in the meantime keeps its directory.
 */
import { randomBytes } from "node:crypto"
import { basename, dirname, join } from "node:path"
import { Effect, FileSystem, type Scope } from "effect"
import { isDownloadLeftover } from "../domain/download-leftovers.ts"
import { acquireRunLock, type RunLockError, type RunLockHeld, type RunLockOwner } from "./run-lock.ts"
import { localIoFailed, type StoreLocalIoFailed, warnLocalIoFailed } from "./store/store-errors.ts"

const lockSuffix = ".lock"
const describeOwner = (owner: RunLockOwner | undefined) =>
  owner === undefined ? "a run that is gone" : `${owner.command} (PID ${owner.pid}, started ${owner.startedAt}), which is gone`

/**
 * Removes the work directories under `parent` whose names `matches` and whose run is gone;
 * a live run's (its lock held) are kept. Returns the directories removed.
 */
export const sweepDeadWorkDirs = (parent: string, matches: (name: string) => boolean, command: string, what = "download") =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(parent).pipe(
      Effect.mapError((e) => localIoFailed(parent, "list", e)),
      Effect.catchIf(
        (e) => e.code === "ENOENT",
        () => Effect.succeed([] as Array<string>),
      ),
    )
    const removed: Array<string> = []
    for (const name of names) {
      if (!name.endsWith(lockSuffix) || !matches(name.slice(0, -lockSuffix.length))) continue
      const dir = join(parent, name.slice(0, -lockSuffix.length))
      const swept = yield* Effect.scoped(
        acquireRunLock(join(parent, name), `${command} (sweeping a dead run's ${what})`).pipe(
          Effect.flatMap(({ replaced }) =>
            replaced._tag !== "Stale"
              ? Effect.succeed(false)
              : fs.remove(dir, { recursive: true, force: true }).pipe(
                  Effect.mapError((e) => localIoFailed(dir, "remove", e)),
                  Effect.tap(() => Effect.logWarning(`removed ${dir}: the ${what} of ${describeOwner(replaced.owner)}`)),
                  Effect.as(true),
                ),
          ),
          Effect.catchTag("RunLockHeld", () => Effect.logInfo(`keeping ${dir}: a live run's ${what}`).pipe(Effect.as(false))),
        ),
      )
      if (swept) removed.push(dir)
    }
    return removed
  })

/**
 * Takes `dir`'s lock for the enclosing scope; what a killed run's download left in `dir` is removed first (only
 * those names: `download` may be given a directory that holds a person's other files).
 */
const ownWorkDir = (
  dir: string,
  command: string,
): Effect.Effect<string, RunLockHeld | RunLockError | StoreLocalIoFailed, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dirname(dir), { recursive: true, mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(dirname(dir), "create", e)))
    const { replaced } = yield* acquireRunLock(`${dir}${lockSuffix}`, command)
    if (replaced._tag !== "Stale") return dir
    const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const name of names.filter(isDownloadLeftover)) {
      yield* fs.remove(join(dir, name), { force: true }).pipe(Effect.mapError((e) => localIoFailed(join(dir, name), "remove", e)))
      yield* Effect.logWarning(`removed ${join(dir, name)}: a partial download of ${describeOwner(replaced.owner)}`)
    }
    return dir
  })

/**
 * A fresh directory `<parent>/<prefix><random>` owned by this run (its lock held for the scope, the directory itself
 * left to the caller), the directories of dead runs with the same prefix swept first: each a `what` (for the log).
 */
export const ownedFreshDir = (parent: string, prefix: string, command: string, what = "download") =>
  Effect.gen(function* () {
    yield* sweepDeadWorkDirs(parent, (name) => name.startsWith(prefix), command, what)
    // The lock before the directory: a directory never exists without its owner named.
    const dir = yield* ownWorkDir(join(parent, `${prefix}${randomBytes(6).toString("hex")}`), command)
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dir, { mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(dir, "create", e)))
    return dir
  })

/** verify's default: a fresh directory under `parent` for this run, removed when the scope closes; dead runs' ones swept first. */
export const temporaryWorkDir = (parent: string, prefix: string, command: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.acquireRelease(ownedFreshDir(parent, prefix, command), (dir) =>
      // A warning, not a failure: the run's outcome (a verdict, or its own error) stands either way.
      // The lock goes with the run, so no later sweep removes the directory: the warning says to.
      fs
        .remove(dir, { recursive: true, force: true })
        .pipe(Effect.catch((e) => warnLocalIoFailed(localIoFailed(dir, "remove", e), "this run's temporary download is left there: remove it by hand"))),
    )
  })

/** restore's: `dir`, kept after the run; other dead runs' downloads beside it swept when `sweepSiblings`. */
export const keptWorkDir = (dir: string, command: string, sweepSiblings: boolean) =>
  Effect.gen(function* () {
    if (sweepSiblings) yield* sweepDeadWorkDirs(dirname(dir), (name) => name !== basename(dir), command)
    return yield* ownWorkDir(dir, command)
  })
