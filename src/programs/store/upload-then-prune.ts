/**
 * The backup pod's backup-upload: the upload, then, only when it succeeded and a retention rule
 * is given, the store's prune (pruneStore: the newest complete backup is never deleted). The
 * prune's outcome is logged; a prune that fails leaves a good upload good (a warning, not a
 * failure): the backup is stored, and the next run prunes again.
 */
import { Effect } from "effect"
import { hasRule, type RetentionPolicy } from "../../domain/retention.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { pruneStore, StorePruneRefused, storePruneSummary, type StorePruneReport } from "./store-prune.ts"
import { type UploadProtection, uploadBackup } from "./store-upload.ts"
import { UploadDeadlineExceeded } from "./upload-errors.ts"

export interface UploadThenPruneOptions {
  readonly backupDir: string
  readonly prefix: string
  readonly policy: RetentionPolicy
  readonly graceMs: number
  /** The upload gives up after this long (aborting its uploads); the prune after it gets as long again. */
  readonly deadlineMs: number
  readonly onFile?: (name: string, size: number) => Effect.Effect<void>
  readonly protection?: UploadProtection
}

export type PruneOutcome =
  | { readonly _tag: "NotAsked" }
  | { readonly _tag: "Pruned"; readonly report: StorePruneReport }
  | { readonly _tag: "Failed"; readonly message: string }

export const uploadThenPrune = Effect.fn("uploadThenPrune")(function* (options: UploadThenPruneOptions) {
  const store = yield* BackupStore
  const upload = yield* uploadBackup(options.backupDir, options.prefix, options.onFile, options.protection).pipe(
    Effect.timeoutOrElse({
      duration: options.deadlineMs,
      orElse: () =>
        Effect.fail(
          new UploadDeadlineExceeded({
            store: store.location,
            deadlineMs: options.deadlineMs,
            message: `the upload to ${store.location} did not finish within ${options.deadlineMs} ms: aborted, nothing complete stored; check the store's health or raise --deadline`,
          }),
        ),
    }),
  )
  if (!hasRule(options.policy)) return { upload, prune: { _tag: "NotAsked" } as PruneOutcome }
  const prune = yield* pruneStore({ prefix: options.prefix, policy: options.policy, graceMs: options.graceMs, dryRun: false }).pipe(
    Effect.timeoutOrElse({
      duration: options.deadlineMs,
      orElse: () =>
        Effect.fail(new StorePruneRefused({ store: store.location, message: `the prune of ${store.location} did not finish within ${options.deadlineMs} ms` })),
    }),
    Effect.map((report): PruneOutcome => ({ _tag: "Pruned", report })),
    Effect.tap((o) => (o._tag === "Pruned" ? Effect.logInfo(`pruned the store after the upload: ${storePruneSummary(o.report)}`) : Effect.void)),
    Effect.catch((e) =>
      Effect.logWarning(`backup ${upload.id} is stored, but pruning the store afterwards failed (the next run prunes again): ${e.message}`).pipe(
        Effect.as<PruneOutcome>({ _tag: "Failed", message: e.message }),
      ),
    ),
  )
  return { upload, prune }
})
