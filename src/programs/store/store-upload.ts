/**
 * Copies a finished backup directory into a store under `<prefix>/<backup-id>/`, by the commit
 * protocol: the snapshot and the tarball first, each checked against the manifest's size and
 * sha256 on the way, and `backup-manifest.json` last. Until the manifest is there the backup is
 * incomplete and never listed; a failed upload leaves at most an incomplete backup, which prune
 * removes after the grace period, and a repeated run overwrites it and completes.
 */
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { readLocalSignature } from "../backup-dir/manifest-authenticity.ts"
import { encodeBackupManifest, type BackupManifest } from "../../domain/backup-manifest.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { BackupStore, type PutResult } from "../../services/store/backup-store.ts"
import { localIoFailed } from "../../services/store/store-errors.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"

export class BackupToUploadInvalid extends Schema.TaggedError<BackupToUploadInvalid>()("BackupToUploadInvalid", {
  path: Schema.String,
  message: Schema.String,
}) {}

export class UploadDeadlineExceeded extends Schema.TaggedError<UploadDeadlineExceeded>()("UploadDeadlineExceeded", {
  store: Schema.String,
  deadlineMs: Schema.Number,
  message: Schema.String,
}) {}

export interface UploadReport {
  readonly id: string
  readonly location: string
  readonly files: ReadonlyArray<PutResult>
}

/** The manifest of a backup directory, decoded (the upload trusts nothing it cannot check). */
export const readLocalManifest = (dir: string) =>
  Effect.gen(function* () {
    const path = join(dir, manifestFileName)
    const manifest = yield* readBackupManifest(path).pipe(
      Effect.mapError((e) =>
        e._tag === "BackupFileUnreadable"
          ? localIoFailed(path, "read", e)
          : new BackupToUploadInvalid({
              path,
              message: `${path} is not a valid backup manifest (${e.message}): upload only a backup that backup-create finished`,
            }),
      ),
    )
    // The reader accepts only the bytes the writer writes: re-encoding gives the file's own text.
    return { manifest, text: encodeBackupManifest(manifest) }
  })

/** The backup's id in a store: its timestamp. */
export const backupIdOf = (manifest: BackupManifest): string => manifest.timestamp

export const uploadBackup = Effect.fn("uploadBackup")(function* (
  dir: string,
  prefix: string,
  onFile: (name: string, size: number) => Effect.Effect<void> = () => Effect.void,
) {
  const store = yield* BackupStore
  const { manifest, text } = yield* readLocalManifest(dir)
  const id = backupIdOf(manifest)
  const files: Array<PutResult> = []
  for (const f of [manifest.files.snapshot, manifest.files.resources]) {
    yield* onFile(f.name, f.size)
    const put = yield* store.putFile(objectKey(prefix, id, f.name), join(dir, f.name), { sha256: f.sha256, maxBytes: f.size })
    if (put.size !== f.size) {
      return yield* new BackupToUploadInvalid({
        path: join(dir, f.name),
        message: `${join(dir, f.name)} has ${put.size} bytes, the manifest says ${f.size}: the backup directory changed after backup-create`,
      })
    }
    files.push(put)
  }
  // Before the manifest (the completeness marker): a complete backup in the store has its signature.
  const signature = yield* readLocalSignature(dir).pipe(Effect.mapError((e) => localIoFailed(join(dir, signatureFileName), "read", e)))
  if (signature !== undefined) {
    yield* onFile(signatureFileName, signature.length)
    files.push(yield* store.putBytes(objectKey(prefix, id, signatureFileName), signature))
  }
  yield* onFile(manifestFileName, Buffer.byteLength(text))
  files.push(yield* store.putBytes(objectKey(prefix, id, manifestFileName), new TextEncoder().encode(text)))
  return { id, location: `${store.location}/${objectKey(prefix, id, "")}`, files } satisfies UploadReport
})
