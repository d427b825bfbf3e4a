/**
 * The backup pod's backup-upload: the upload, then, only when it succeeded and a retention rule
 * is given, the store's prune (pruneStore: the newest complete backup is never deleted). The
 * prune's outcome is logged; a prune that fails leaves a good upload good (a warning, not a
 * failure): the backup is stored, and the next run prunes again.
 *
 * When the store has no room for the backup (a directory store's volume: `StoreTooSmall`, before
 * anything was written; object storage whose quota is used up: the upload refused and aborted) and a
 * retention rule is given, the store is first pruned of what the rule removes once this backup is
 * stored, and the upload tried again. The newest complete backup and the
 * newest verify passed stay until the new one is stored, so a store whose rule keeps N backups never
 * has to hold N + 1 (a volume sized by --max-total-size would otherwise refuse every upload once full,
 * its retention never running), and an upload that then fails leaves the store its newest backups.
 *
 * With trusted keys, a backup to upload that none signs is stored, but neither room is made for it nor a prune run,
 * and the run fails (`UploadedBackupUntrusted`): the rule would count it untrusted and remove it first.
 */
import { Effect } from "effect"
import { type BackupUnit, hasRule, type RetentionPolicy } from "../../domain/retention.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { pruneStore, StorePruneRefused, storePruneSummary, type StorePruneReport } from "./store-prune.ts"
import { backupIdOf, type LocalManifest, readLocalManifest, type UploadProtection, uploadBackup } from "./store-upload.ts"
import { StoreTooSmall, UploadDeadlineExceeded, UploadedBackupUntrusted } from "./upload-errors.ts"
import { isQuotaExceeded, StoreRequestFailed } from "../../services/store/store-errors.ts"
import { storedBytes } from "./store-room.ts"
import { readLocalVerification } from "./verification-record.ts"
import { verificationOf } from "../../domain/verification-file.ts"
import { parseBackupTimestamp } from "../../domain/archive-names.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { leastSendMs } from "../../domain/bandwidth-limit.ts"
import { formatDuration } from "../../domain/durations.ts"
import type { ManifestTrust, TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { localManifestTrust } from "../backup-dir/manifest-authenticity.ts"
import type { BackupFileFailure } from "../../services/backup-file.ts"

export interface UploadThenPruneOptions {
  readonly backupDir: string
  readonly prefix: string
  readonly policy: RetentionPolicy
  readonly graceMs: number
  /** The upload gives up after this long (aborting its uploads); the prune after it gets as long again. */
  readonly deadlineMs: number
  /** The upload's bandwidth limit (`--bandwidth-limit`): a backup it cannot send within `deadlineMs` is refused first. */
  readonly bandwidthBytesPerSecond?: number | undefined
  readonly onFile?: (name: string, size: number) => Effect.Effect<void>
  readonly protection?: UploadProtection
  /** `--trusted-key`: the prune counts only backups these signed as trusted (store-prune.ts). */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
}

export type PruneOutcome =
  | { readonly _tag: "NotAsked" }
  /** `removedBeforeUpload`: the backups removed to make room for the upload, before it. */
  | { readonly _tag: "Pruned"; readonly report: StorePruneReport; readonly removedBeforeUpload?: number | undefined }
  | { readonly _tag: "Failed"; readonly message: string }

/**
 * Whether the manifest the store will hold is signed by a trusted key, and if not why: with --signing-key, upload signs it with
 * that key (a new manifest when it encrypts); otherwise it stores the manifest and signature backup-create left.
 */
const incomingTrust = (
  dir: string,
  text: string,
  protection: UploadProtection | undefined,
  trustedKeys: ReadonlyArray<TrustedKey>,
): Effect.Effect<ManifestTrust, BackupFileFailure> => {
  const signingKey = protection?.signingKey
  if (signingKey === undefined) return localManifestTrust(dir, new TextEncoder().encode(text), trustedKeys)
  return Effect.succeed(
    trustedKeys.some((k) => k.keyId === signingKey.keyId)
      ? { trusted: true, keyId: signingKey.keyId }
      : { trusted: false, why: `it is signed as it is stored by --signing-key ${signingKey.keyId}, which is not a trusted key` },
  )
}

/**
 * The backup in `dir` as the store will hold it: the unit the retention decision that makes room for it counts. Trusted:
 * room is made only for a backup no --trusted-key refuses (`untrustedIncoming`).
 */
const incomingUnit = (dir: string, protection: UploadProtection | undefined, { manifest, text }: LocalManifest) =>
  Effect.gen(function* () {
    const record = yield* readLocalVerification(dir).pipe(Effect.orElseSucceed(() => undefined))
    const verified = record === undefined ? undefined : verificationOf(new TextDecoder().decode(record), manifest.timestamp)
    const bytes = (["snapshot", "resources"] as const).reduce(
      (sum, which) => sum + storedBytes({ file: manifest.files[which], encrypted: protection?.recipients?.[which] !== undefined }),
      text.length,
    )
    return {
      id: backupIdOf(manifest),
      timestamp: manifest.timestamp,
      at: parseBackupTimestamp(manifest.timestamp).getTime(),
      bytes,
      verified: true,
      checked: verified !== undefined,
    } satisfies BackupUnit
  })

/** The store cannot take the backup: a volume without the room (checked before writing), or object storage whose quota is used up (the upload aborted). */
type StoreFull = StoreTooSmall | StoreRequestFailed
const isStoreFull = (e: { readonly _tag: string }): e is StoreFull => e._tag === "StoreTooSmall" || isQuotaExceeded(e)

/** The same refusal, saying more. */
const withMessage = (full: StoreFull, message: string): StoreFull =>
  full._tag === "StoreTooSmall" ? new StoreTooSmall({ ...full, message }) : new StoreRequestFailed({ ...full, message })

/** Prunes what the rule removes once the backup in `backupDir` is stored; fails with `full` when that removes nothing. */
const makeRoom = (options: UploadThenPruneOptions, local: LocalManifest, full: StoreFull) =>
  Effect.gen(function* () {
    const incoming = yield* incomingUnit(options.backupDir, options.protection, local)
    const why =
      full._tag === "StoreTooSmall"
        ? `needs ${formatBytes(full.neededBytes)} free in ${full.store}, which has ${formatBytes(full.availableBytes)}`
        : `was refused by ${full.store}: its quota is used up (${full.code})`
    yield* Effect.logWarning(
      `backup ${incoming.id} ${why}: first removing what the retention rule removes once it is stored (its newest complete backup stays until then)`,
    )
    const report = yield* pruneStore({
      prefix: options.prefix,
      policy: options.policy,
      graceMs: options.graceMs,
      dryRun: false,
      incoming,
      trustedKeys: options.trustedKeys,
    })
    yield* Effect.logInfo(`made room in the store before the upload: ${storePruneSummary(report)}`)
    const removed = report.retention.remove.length + report.incomplete.length + report.strayForms.length + report.uploads.length
    if (removed === 0) {
      return yield* withMessage(
        full,
        `${full.message} (the retention rule removes nothing before this backup is stored: its newest complete backup stays until then)`,
      )
    }
    return report.retention.remove.length
  })

/** The store is still full after what the rule removes went: the rule keeps more than the store holds. */
const stillFull = (full: StoreFull): StoreFull =>
  withMessage(
    full,
    `${full.message} (even after removing what the retention rule removes once this backup is stored: the rule keeps more than the store holds; keep fewer backups, or a --max-total-size below the store's size)`,
  )

/** Why no trusted key signs the backup as the store will hold it; undefined when one does, or none was given. */
const untrustedIncoming = (options: UploadThenPruneOptions, { text }: LocalManifest) =>
  Effect.gen(function* () {
    const trustedKeys = options.trustedKeys ?? []
    if (trustedKeys.length === 0) return undefined
    const trust = yield* incomingTrust(options.backupDir, text, options.protection, trustedKeys)
    return trust.trusted ? undefined : trust.why
  })

/** A backup the bandwidth limit cannot send within the deadline: refused before anything is sent, not aborted at the deadline. */
const refuseBeyondDeadline = (options: UploadThenPruneOptions, { manifest }: LocalManifest, location: string) => {
  const rate = options.bandwidthBytesPerSecond
  const bytes = manifest.files.snapshot.size + manifest.files.resources.size
  if (rate === undefined || leastSendMs(bytes, rate) <= options.deadlineMs) return Effect.void
  return Effect.fail(
    new UploadDeadlineExceeded({
      store: location,
      deadlineMs: options.deadlineMs,
      message: `at --bandwidth-limit ${formatBytes(rate)}/s, the ${formatBytes(bytes)} of backup ${manifest.timestamp} take at least ${formatDuration(leastSendMs(bytes, rate))}, longer than --deadline ${formatDuration(options.deadlineMs)}: nothing was uploaded; raise the limit or the deadline (the operator's --upload-bandwidth-limit and --upload-deadline for its pods)`,
    }),
  )
}

export const uploadThenPrune = Effect.fn("uploadThenPrune")(function* (options: UploadThenPruneOptions) {
  const store = yield* BackupStore
  // Stored all the same (a backup kept beats none), but neither room made nor a prune run for it: retention would
  // remove it first, and the run fails rather than pass for a backup its own retention does not keep.
  // Read once: the trust, the room made and the upload all describe the same manifest.
  const local = yield* readLocalManifest(options.backupDir)
  yield* refuseBeyondDeadline(options, local, store.location)
  const untrusted = yield* untrustedIncoming(options, local)
  if (untrusted !== undefined)
    yield* Effect.logWarning(`the backup in ${options.backupDir} is not trusted by --trusted-key: ${untrusted}; it is stored, but the store is not pruned`)
  const attempt = uploadBackup(options.backupDir, options.prefix, options.onFile, options.protection, local)
  const { upload, removedBeforeUpload } = yield* attempt.pipe(
    Effect.map((upload) => ({ upload, removedBeforeUpload: undefined as number | undefined })),
    Effect.catchIf(isStoreFull, (full) =>
      hasRule(options.policy) && untrusted === undefined
        ? makeRoom(options, local, full).pipe(
            Effect.flatMap((removed) =>
              attempt.pipe(
                Effect.map((upload) => ({ upload, removedBeforeUpload: removed })),
                Effect.catchIf(isStoreFull, (still) => Effect.fail(stillFull(still))),
              ),
            ),
          )
        : Effect.fail(full),
    ),
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
  if (untrusted !== undefined)
    return yield* new UploadedBackupUntrusted({
      store: store.location,
      id: upload.id,
      message: `backup ${upload.id} is stored in ${store.location}, but ${untrusted}: the store's retention (--trusted-key) counts it untrusted and removes it before any trusted backup, so no prune ran; sign the backups with a key --trusted-key holds (in a pod: the public half of --signing-key-secret's key in --trusted-keys-configmap)`,
    })
  const prune = yield* pruneStore({
    prefix: options.prefix,
    policy: options.policy,
    graceMs: options.graceMs,
    dryRun: false,
    trustedKeys: options.trustedKeys,
  }).pipe(
    Effect.timeoutOrElse({
      duration: options.deadlineMs,
      orElse: () =>
        Effect.fail(new StorePruneRefused({ store: store.location, message: `the prune of ${store.location} did not finish within ${options.deadlineMs} ms` })),
    }),
    Effect.map((report): PruneOutcome => ({ _tag: "Pruned", report, removedBeforeUpload })),
    Effect.tap((o) => (o._tag === "Pruned" ? Effect.logInfo(`pruned the store after the upload: ${storePruneSummary(o.report)}`) : Effect.void)),
    Effect.catch((e) =>
      Effect.logWarning(`backup ${upload.id} is stored, but pruning the store afterwards failed (the next run prunes again): ${e.message}`).pipe(
        Effect.as<PruneOutcome>({ _tag: "Failed", message: e.message }),
      ),
    ),
  )
  return { upload, prune }
})
