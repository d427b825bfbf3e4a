/**
 * The one lock of a backup directory: `<backup-dir>/.cluster-backup/run.lock` (see
 * `services/run-lock.ts`). Every command of the backup pod (`backup-init`, `backup-resources`,
 * `backup-create`) holds it while it runs, and sweeps the leftovers of killed runs only while
 * holding it; any other command that removes files of a backup directory (prune) must first see
 * the lock free or stale (`inspectRunLock`), never held.
 */
import type { Path } from "effect"
import { recordDirName } from "./snapshot-record.ts"

export const backupDirLockFileName = "run.lock"

/** `<backupDir>/.cluster-backup/run.lock` */
export const backupDirLockPath = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, backupDirLockFileName)
