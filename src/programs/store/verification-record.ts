/**
 * verify's record of a backup (verification.json, written by verify --report-out in the pod): read
 * from the backup directory to upload it beside the manifest, and from a store to tell whether verify
 * passed a stored backup. Absent, unreadable or about another backup: not verified.
 */
import { join } from "node:path"
import { Effect } from "effect"
import { objectKey, type BackupObjects } from "../../domain/store-layout.ts"
import { verificationFileName, verifiedMode, type VerifiedMode } from "../../domain/verification-file.ts"
import { type BackupFileFailure, readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { isArchivedObject, type StoreError } from "../../services/store/store-errors.ts"

/** A verify report is a few KiB: a bigger file is not one, and is not read into memory. */
const maxRecordBytes = 1_048_576

/** The record in a backup directory, its bytes as written; undefined when verify left none. */
export const readLocalVerification = (dir: string): Effect.Effect<Uint8Array | undefined, BackupFileFailure> =>
  readOptionalBackupFileBytes(join(dir, verificationFileName), maxRecordBytes)

/** The mode verify passed the stored `backup` (of `timestamp`) with, or undefined. */
export const readStoredVerification = (
  prefix: string,
  backup: BackupObjects,
  timestamp: string,
): Effect.Effect<VerifiedMode | undefined, StoreError, BackupStore> =>
  Effect.gen(function* () {
    const record = backup.objects.find((o) => o.file === verificationFileName)
    if (record === undefined || record.size > maxRecordBytes) return undefined
    const store = yield* BackupStore
    // Listed, then removed (another run's prune), or archived by a lifecycle rule: no record it can read, as if never listed.
    const bytes = yield* store.getBytes(objectKey(prefix, backup.id, verificationFileName)).pipe(
      Effect.map((b): Uint8Array | undefined => b),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
      Effect.catchIf(isArchivedObject, () => Effect.succeed(undefined)),
    )
    return bytes === undefined ? undefined : verifiedMode(new TextDecoder().decode(bytes), timestamp)
  })
