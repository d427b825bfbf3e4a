/**
 * The multipart uploads of a backup's files that killed runs of backup-upload left: S3 keeps (and bills) their
 * parts until they are aborted, and only prune would abort them, once past its grace period. An upload of the
 * same backup notes them before it starts and aborts them once the backup is stored complete, so that a run to
 * the end cleans up what interrupted runs of it left. Uploads it starts itself are never among them. Another
 * upload of the same backup running at that moment would fail, saying so; the backup stored stays whole.
 */
import { Effect } from "effect"
import { failureText } from "../../domain/failure-text.ts"
import { isOwnKey, listingPrefix, type PendingUpload } from "../../domain/store-layout.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import type { StoreBucketMissing, StoreError } from "../../services/store/store-errors.ts"

/**
 * The pending uploads of backup `id`'s own files; none, with a warning, when the store cannot list them. A store that is
 * not there (no bucket, no directory) fails: the upload would fail on it too, and that failure says it all.
 */
export const leftUploadsOf = (prefix: string, id: string): Effect.Effect<ReadonlyArray<PendingUpload>, StoreBucketMissing, BackupStore> =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const pending = yield* store.pendingUploads(listingPrefix(prefix, id))
    return pending.filter((u) => isOwnKey(prefix, u.key))
  }).pipe(
    Effect.catchIf(
      (e): e is Exclude<StoreError, StoreBucketMissing> => e._tag !== "StoreBucketMissing",
      (e) =>
        Effect.as(
          Effect.logWarning(`could not list the multipart uploads earlier runs left under ${listingPrefix(prefix, id)}: ${failureText(e)}; prune removes them`),
          [],
        ),
    ),
  )

/** Aborts `left` (found by `leftUploadsOf` before this upload began); a failure is a warning, the backup being stored. */
export const abortLeftUploads = (left: ReadonlyArray<PendingUpload>): Effect.Effect<void, never, BackupStore> =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    for (const u of left) {
      yield* store.abortUpload(u).pipe(
        Effect.flatMap((aborted) =>
          aborted
            ? Effect.logInfo(`aborted the multipart upload of ${u.key} an interrupted upload left (started ${new Date(u.initiatedAt).toISOString()})`)
            : Effect.logWarning(`kept the upload of ${u.key} noted before this upload: it was written to since, so another upload of it is at work`),
        ),
        Effect.catch((e) =>
          Effect.logWarning(
            `could not abort the multipart upload of ${u.key} an interrupted upload left: ${failureText(e)}; prune removes it once its writer is shown gone, or past --leftover-grace`,
          ),
        ),
      )
    }
  })
