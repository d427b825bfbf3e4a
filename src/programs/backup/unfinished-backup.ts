/**
 * What `backup-init` does with the backup an earlier run started in the same directory before it
 * starts a new one. The snapshot record names that backup; if no manifest completes it (a pod
 * killed or failed before `backup-create` finished), its snapshot and tarball can never become a
 * complete backup, so they go, with the staging area's decoded Secrets and the records. A backup
 * whose manifest is there (or a manifest that cannot be read, which might describe it) is kept.
 * Files go before the record that names them, so a run killed half-way leaves the rest to the next.
 *
 * A directory has one manifest: a new backup's would replace the kept one's, and without it verify
 * and restore refuse that backup (and its signature goes too). So a new backup is refused there
 * (`refuseOverCompleteBackup`), before its snapshot is taken and again before its manifest is written.
 */
import { Effect, FileSystem, Option, Path, Result, Schema } from "effect"
import { backupFileNames, manifestFileName } from "../../domain/archive-names.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { fileError } from "../../services/atomic-files.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { measure } from "../backup-dir/leftover-sweep.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { readSnapshotRecord, snapshotRecordPath } from "../backup-dir/snapshot-record.ts"
import { removeStagingArea, stagingDir } from "../backup-dir/staging-area.ts"

/** The backup directory holds another backup's manifest, which the new backup's would replace. */
export class CompleteBackupInTheWay extends Schema.TaggedError<CompleteBackupInTheWay>()("CompleteBackupInTheWay", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** Fails when `backupDir` holds a manifest that is not backup `ts`'s (any manifest, without `ts`): readable or not, it may vouch for a complete backup. */
export const refuseOverCompleteBackup = Effect.fnUntraced(function* (backupDir: string, ts: string | undefined, table: OperandTable = defaultOperands) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const manifestPath = path.join(backupDir, manifestFileName)
  if (!(yield* fs.exists(manifestPath).pipe(Effect.mapError(fileError("check", manifestPath))))) return
  const manifest = yield* Effect.result(readBackupManifest(manifestPath, table))
  if (Result.isSuccess(manifest) && manifest.success.timestamp === ts) return
  const what = Result.isSuccess(manifest)
    ? `the complete backup ${manifest.success.timestamp} (${manifestPath} names ${manifest.success.files.snapshot.name} and ${manifest.success.files.resources.name})`
    : `${manifestPath}, which this version cannot read (${manifest.failure.message}) and which may describe a complete backup`
  return yield* new CompleteBackupInTheWay({
    path: manifestPath,
    message: `${backupDir} holds ${what}: a new backup there would replace that manifest, without which verify and restore refuse the backup it describes; it is left as it is. Take the new backup into an empty directory, or first move the earlier backup's files (its snapshot, tarball, ${manifestFileName} and what goes with it) into a directory of their own.`,
  })
})

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
