/**
 * What `backup-init` does with the backup an earlier run started in the same directory before it
 * starts a new one. The snapshot record names that backup; if no manifest completes it (a pod
 * killed or failed before `backup-create` finished), its snapshot and tarball can never become a
 * complete backup, so they go, with the staging area's decoded Secrets and the records. A backup
 * whose manifest is there (or a manifest that cannot be read, which might describe it) is kept.
 * Files go before the record that names them, so a run killed half-way leaves the rest to the next.
 */
import { Effect, FileSystem, Option, Path, Result } from "effect"
import { backupFileNames, manifestFileName } from "../../domain/archive-names.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { fileError } from "../../services/atomic-files.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { measure } from "../backup-dir/leftover-sweep.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { readSnapshotRecord, snapshotRecordPath } from "../backup-dir/snapshot-record.ts"
import { removeStagingArea, stagingDir } from "../backup-dir/staging-area.ts"

export const discardUnfinishedBackup = Effect.fnUntraced(function* (backupDir: string, table: OperandTable = defaultOperands) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const recordPath = snapshotRecordPath(path, backupDir)
  const exists = (file: string) => fs.exists(file).pipe(Effect.mapError(fileError("check", file)))
  const remove = Effect.fnUntraced(function* (target: string, what: string) {
    if (!(yield* exists(target))) return
    const { bytes, files } = yield* measure(target)
    yield* fs.remove(target, { recursive: true, force: true }).pipe(Effect.mapError(fileError("remove", target)))
    yield* Effect.logWarning(`removed ${target} (${files === 1 ? "" : `${files} files, `}${formatBytes(bytes)}): ${what}`)
  })

  const record = (yield* exists(recordPath)) ? yield* Effect.option(readSnapshotRecord(backupDir)) : Option.none()
  if (Option.isSome(record)) {
    const ts = record.value.timestamp
    const manifestPath = path.join(backupDir, manifestFileName)
    const manifest = (yield* exists(manifestPath)) ? yield* Effect.result(readBackupManifest(manifestPath, table)) : undefined
    const completed = manifest !== undefined && (Result.isFailure(manifest) || manifest.success.timestamp === ts)
    if (!completed) {
      for (const dirty of [false, true]) {
        const names = backupFileNames(ts, dirty)
        for (const name of [names.snapshot, names.resources]) {
          yield* remove(path.join(backupDir, name), `the earlier backup ${ts} was never completed (no manifest), and this run starts a new one`)
        }
      }
    }
  }
  yield* remove(stagingDir(path, backupDir), "the staging area of an earlier backup, with its decoded Secrets")
  yield* removeStagingArea(backupDir)
  yield* fs.remove(recordPath, { force: true }).pipe(Effect.mapError(fileError("remove the old record", recordPath)))
})
