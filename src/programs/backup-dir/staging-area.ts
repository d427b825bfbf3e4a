/**
 * The staging area on the backup volume, between `backup-resources` and `backup-create`:
 *
 *   <backup-dir>/.cluster-backup/staging/static-pod-resources/<pod>-<N>/   the tarball's content
 *   <backup-dir>/.cluster-backup/building/                                  trees being written
 *   <backup-dir>/.cluster-backup/resources-<operand>.json                   what each run wrote
 *
 * A tree is written under `building/` and renamed into `staging/` only when complete, so
 * `staging/` never holds a partial revision and nothing half-written can reach the tarball.
 * `backup-create` removes all three once the backup is complete, and when it fails or is
 * interrupted (the snapshot record stays); `backup-init` removes those an earlier backup left;
 * every command of the pod removes `building/` when it starts (under the directory's lock), so
 * after a SIGKILL the next run does.
 */
import { Effect, FileSystem, Path } from "effect"
import { buildingDirectoryName } from "../../domain/backup-leftovers.ts"
import { operandNames, type OperandName } from "../../domain/operands.ts"
import { fileError } from "../../services/atomic-files.ts"
import { encryptedSamplePath } from "./encrypted-sample-file.ts"
import { recordDirName } from "./snapshot-record.ts"

/** `<backupDir>/.cluster-backup/staging`: the root the resource tarball is written from. */
export const stagingDir = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, "staging")

/** `<backupDir>/.cluster-backup/building`: where `backup-resources` writes a tree before publishing it. */
export const buildingDir = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, buildingDirectoryName)

/** `<backupDir>/.cluster-backup/resources-<operand>.json` */
export const resourcesRecordPath = (path: Path.Path, backupDir: string, operand: OperandName): string =>
  path.join(backupDir, recordDirName, `resources-${operand}.json`)

/** Removes the staging tree, the building directory, the four resources records and the encrypted-value sample (nothing else). */
export const removeStagingArea = Effect.fnUntraced(function* (backupDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const targets = [
    ...operandNames.map((operand) => resourcesRecordPath(path, backupDir, operand)),
    stagingDir(path, backupDir),
    buildingDir(path, backupDir),
    encryptedSamplePath(path, backupDir),
  ]
  for (const target of targets) {
    yield* fs.remove(target, { recursive: true, force: true }).pipe(Effect.mapError(fileError("remove", target)))
  }
})
