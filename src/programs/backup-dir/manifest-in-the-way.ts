/**
 * A directory has one `backup-manifest.json`: another backup's written there (a new backup, a
 * download) would replace the one it holds, and without it verify and restore refuse the backup
 * that manifest described (its signature goes too). So writing another backup's is refused there,
 * before anything is written (`refuseOverCompleteBackup`).
 */
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { fileError } from "../../services/atomic-files.ts"
import { readBackupManifest } from "./backup-manifest-file.ts"

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
    message: `${backupDir} holds ${what}: another backup's manifest written there would replace it, and without it verify and restore refuse the backup it describes; it is left as it is. Use an empty directory, or first move the earlier backup's files (its snapshot, tarball, ${manifestFileName} and what goes with it) into a directory of their own.`,
  })
})
