/**
 * The one lock of a backup directory: `<backup-dir>/.cluster-backup/run.lock` (see
 * `services/run-lock.ts`). Every command of the backup pod (`backup-init`, `backup-resources`,
 * `backup-create`) holds it while it runs, and sweeps the leftovers of killed runs only while
 * holding it; any other command that removes files of a backup directory (prune) must first see
 * the lock free or stale (`inspectRunLock`), never held.
 */
import { Effect, Path } from "effect"
import { runLockFileName } from "../../domain/backup-leftovers.ts"
import { acquireRunLock } from "../../services/run-lock.ts"
import { ensurePrivateDirectory } from "../../services/atomic-files.ts"
import { sweepLeftovers } from "./leftover-sweep.ts"
import { recordDirName } from "./snapshot-record.ts"

export const backupDirLockFileName = runLockFileName

/** `<backupDir>/.cluster-backup/run.lock` */
export const backupDirLockPath = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, backupDirLockFileName)

/**
 * Takes the lock of `backupDir` for the enclosing scope (creating the directory and its record
 * directory 0700 if missing), then removes what killed runs left there. Fails with `RunLockHeld`,
 * touching nothing, while another live run holds the lock. Finalizers added after it run while
 * the lock is still held.
 */
export const lockBackupDir = Effect.fnUntraced(function* (backupDir: string, command: string) {
  const path = yield* Path.Path
  // Missing parents, the backup directory among them, are made 0700 too.
  yield* ensurePrivateDirectory(path.join(backupDir, recordDirName))
  const { replaced } = yield* acquireRunLock(backupDirLockPath(path, backupDir), command)
  if (replaced._tag === "Stale") {
    const owner = replaced.owner
    yield* Effect.logWarning(
      `${owner === undefined ? "an unreadable lock" : `the lock of ${owner.command} (PID ${owner.pid}, started ${owner.startedAt})`} ` +
        `was left in ${backupDir} by a run that is gone: sweeping what it left`,
    )
  }
  yield* sweepLeftovers(backupDir)
})

/** Runs `body` holding the lock of `backupDir` (see `lockBackupDir`); the lock is released when `body` ends, however. */
export const withBackupDirLock = <A, E, R>(backupDir: string, command: string, body: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.andThen(lockBackupDir(backupDir, command), body))
