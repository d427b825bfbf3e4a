/**
 * Applies a retention policy to the backups in a store, as `prune` does to a directory: the
 * complete backups (the manifest there and describing the objects beside it) are the verified
 * units of `decideRetention`, so the newest complete backup is never deleted, nor the newest one
 * verify passed (its verification.json, `checked`). Whatever the
 * policy, incomplete backups and abandoned multipart uploads older than the grace period are
 * removed (`garbage`); younger ones may belong to an upload in progress and are kept. So is the other
 * stored form of a file a kept backup's manifest names: a plain copy beside the `.age` file it names
 * (an older backup-upload left it, the file in the clear), or an `.age` copy beside the plain file it
 * names (an encrypted upload killed before its manifest, then a plain one): removed once older than the
 * grace period. A directory store's backup directory a killed run left empty goes once unchanged for 15 minutes.
 *
 * A backup is deleted manifest first, then its other objects: a prune interrupted half-way
 * leaves an incomplete backup (never listed as one, removed by a later prune), never a
 * "complete" backup missing a file.
 */
import { Clock, Effect, Result, Schema, Stream } from "effect"
import { manifestFileName, parseBackupTimestamp } from "../../domain/archive-names.ts"
import { storedForm } from "../../domain/backup-manifest.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"
import { listingPages } from "./listing-pages.ts"
import {
  decideRetention,
  decideRetentionBefore,
  hasRule,
  keptOutside,
  type BackupUnit,
  type RetentionDecision,
  type RetentionPolicy,
  trustedWords,
} from "../../domain/retention.ts"
import {
  activityDecides,
  garbage,
  isOwnKey,
  leftEmptyFolders,
  listingPrefix,
  objectKey,
  otherStoredForm,
  type BackupCompleteness,
  type EmptyFolder,
  type PendingUpload,
} from "../../domain/store-layout.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { deletedBytesCaveat, type StoreVersioning } from "../../domain/bucket-versioning.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { listBackups } from "./store-list.ts"
import { listedTrust } from "./trusted-backups.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"

export class StorePruneRefused extends Schema.TaggedError<StorePruneRefused>()("StorePruneRefused", {
  store: Schema.String,
  message: Schema.String,
}) {}

export interface StorePruneOptions {
  readonly prefix: string
  readonly policy: RetentionPolicy
  readonly graceMs: number
  readonly dryRun: boolean
  /** A backup about to be uploaded: the policy is applied as if it were stored (to make room for it), and the backups always kept stay until it is. */
  readonly incoming?: BackupUnit | undefined
  /**
   * `--trusted-key`: a complete backup whose stored manifest none of these signed takes only the slots no trusted one
   * needs, is never the newest kept, and goes first over the size limit (`trusted-backups.ts`). None: every complete
   * backup counts alike.
   */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
}

export interface StorePruneReport {
  readonly location: string
  readonly retention: RetentionDecision
  readonly incomplete: ReadonlyArray<BackupCompleteness & { readonly _tag: "Incomplete" }>
  /** Incomplete backups kept: younger than the grace period, or an upload is in progress under them. */
  readonly incompleteKept: ReadonlyArray<BackupCompleteness & { readonly _tag: "Incomplete" }>
  readonly uploads: ReadonlyArray<PendingUpload>
  readonly uploadsKept: ReadonlyArray<PendingUpload>
  /** The other forms of the files a kept backup's manifest names (plain beside `.age`, `.age` beside plain), older than the grace period: removed. */
  readonly strayForms: ReadonlyArray<StrayCopy>
  /** A backup's folders (a directory store's `<prefix>/<id>/`) with nothing in them, left by interrupted runs: removed. */
  readonly emptyFolders: ReadonlyArray<EmptyFolder>
  /** Whether the store's removals free what they remove (a versioned bucket keeps it). */
  readonly versioning: StoreVersioning
  readonly dryRun: boolean
}

export interface StrayCopy {
  readonly id: string
  readonly key: string
  readonly size: number
  readonly modifiedAt: number
  /** The `.age` form beside the plain file the manifest names; otherwise the plain form beside the `.age` file it names. */
  readonly encrypted: boolean
}

/** Why a stray form is not the backup's: what the manifest names instead, and how it came to be there. */
export const strayFormText = (o: StrayCopy): string =>
  o.encrypted
    ? `the encrypted form of ${otherStoredForm(o.key)}, which backup ${o.id}'s manifest names plain: an encrypted upload stopped before its manifest left it`
    : `the plain form of ${otherStoredForm(o.key)}, which backup ${o.id}'s manifest names: an older backup-upload left it, the file in the clear`

/** When the upload was last seen at work (a directory store's part's last change, an S3 upload's newest part), else when it started. */
const uploadTimeText = (u: PendingUpload): string =>
  u.lastActiveAt === undefined ? `started ${new Date(u.initiatedAt).toISOString()}` : `untouched since ${new Date(u.lastActiveAt).toISOString()}`

const keptUploadText = (u: PendingUpload): string =>
  `${uploadTimeText(u)}, ${u.lastActiveAt === undefined ? "within the grace period" : "so its writer may still be at work"}`

/**
 * Deletes the objects of a backup, the manifest first; objects written meanwhile are found by listing
 * again. Only the files backup-upload writes go: another program's file beside them (`<id>/notes.txt`)
 * is left in place with a warning, as foreign objects under the prefix are.
 */
const deleteBackup = (prefix: string, id: string) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    yield* store.remove(objectKey(prefix, id, manifestFileName))
    yield* Stream.runForEach(
      listingPages(store, listingPrefix(prefix, id)),
      Effect.fnUntraced(function* (page) {
        const ours = page.objects.filter((o) => isOwnKey(prefix, o.key))
        for (const o of page.objects) {
          if (!ours.includes(o))
            yield* Effect.logWarning(`leaving ${o.key} in place: not a file backup-upload writes, so not this project's to remove (remove it by hand)`)
        }
        yield* Effect.forEach(ours, (o) => store.remove(o.key), { concurrency: 8, discard: true })
      }),
    )
  })

/**
 * Whether a backup its listing showed incomplete is complete when its objects are asked for one by
 * one: its manifest there, and the files it names with their sizes (and recorded sha256). A listing
 * that omitted objects (a store whose index is out of step with its objects) must not get a complete
 * backup deleted as an abandoned upload. A manifest this version cannot read counts as complete: it
 * is never garbage (store-layout's `garbage`).
 */
const completeWhenAsked = (prefix: string, id: string) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const key = objectKey(prefix, id, manifestFileName)
    const bytes = yield* store.getBytes(key).pipe(
      Effect.map((b): Uint8Array | undefined => b),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
    )
    if (bytes === undefined) return false
    const decoded = decodeBackupManifestBytes(bytes, key)
    if (Result.isFailure(decoded)) return true
    for (const f of [storedForm(decoded.success.files.snapshot), storedForm(decoded.success.files.resources)]) {
      const h = yield* store.head(objectKey(prefix, id, f.name))
      if (h === undefined || h.size !== f.size || (h.sha256 !== undefined && h.sha256 !== f.sha256)) return false
    }
    return true
  })

/** Why an incomplete backup is kept, as the log says it: a warning where a person should look. */
const keptIncompleteLog = (prefix: string, b: BackupCompleteness & { readonly _tag: "Incomplete" }, misListed: boolean) => {
  const reasons = b.reasons.join("; ")
  if (misListed)
    return Effect.logWarning(
      `keeping backup ${b.id}: the store's listing shows it incomplete (${reasons}), but asked for one by one its manifest and files are there: the listing omits objects; check the store (its bucket index) before trusting list or prune`,
    )
  if (b.foreign === true)
    return Effect.logWarning(
      `leaving ${listingPrefix(prefix, b.id)} alone: none of its objects is a file backup-upload writes, so it is not a backup of this project's (is the prefix right?)`,
    )
  if (b.archivedManifest === true)
    return Effect.logWarning(
      `keeping backup ${b.id}: the store archived its manifest (a lifecycle rule's transition), so it cannot be read to apply the rules; it stays until restored, or until the lifecycle rule expires it`,
    )
  if (b.unreadableManifest === true)
    return Effect.logWarning(
      `keeping backup ${b.id}: its manifest is there but this version cannot read it (${reasons}); a later cluster-backup may have written it: prune it with that version, or remove it by hand if it is damaged`,
    )
  return Effect.logInfo(`keeping incomplete backup ${b.id}: younger than the grace period or an upload is in progress under it (${reasons})`)
}

/**
 * The uploads, each of this project's whose verdict rests on it told when its writer was last at work (an S3 upload's
 * newest part). One completed or aborted since the listing was at work just now: kept, as the backup it may have
 * completed is. A store that cannot tell (a role without s3:ListMultipartUploadParts) leaves it to the grace period,
 * with a warning.
 */
const withActivity = (options: StorePruneOptions, now: number, uploads: ReadonlyArray<PendingUpload>) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    return yield* Effect.forEach(
      uploads,
      (u) =>
        isOwnKey(options.prefix, u.key) && activityDecides(u, now, options.graceMs)
          ? store.uploadActiveAt(u).pipe(
              Effect.map((at): PendingUpload => ({ ...u, lastActiveAt: at ?? now })),
              Effect.catch((e) =>
                Effect.logWarning(
                  `cannot tell when the multipart upload of ${u.key} last stored a part (${e.message}): it is kept until the grace period ends`,
                ).pipe(Effect.as(u)),
              ),
            )
          : Effect.succeed(u),
      { concurrency: 4 },
    )
  })

export const pruneStore = Effect.fn("pruneStore")(function* (options: StorePruneOptions) {
  const store = yield* BackupStore
  if (!hasRule(options.policy)) {
    return yield* new StorePruneRefused({
      store: store.location,
      message: "no retention rule given: use --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --max-age or --max-total-size",
    })
  }
  const listed = yield* listBackups(options.prefix)
  const now = yield* Clock.currentTimeMillis
  const pending = yield* withActivity(options, now, yield* store.pendingUploads(listingPrefix(options.prefix)))
  const folders = leftEmptyFolders(yield* store.emptyFolders(listingPrefix(options.prefix)), options.prefix, now)
  const trustedKeys = options.trustedKeys ?? []
  const trust = yield* listedTrust(options.prefix, listed, trustedKeys)
  const untrusted = (id: string): boolean => trustedKeys.length > 0 && trust.get(id)?.trusted !== true
  const complete: Array<BackupUnit> = listed.flatMap(({ completeness, manifest, verified }) =>
    completeness._tag === "Complete" && manifest !== undefined
      ? [
          {
            id: completeness.id,
            timestamp: manifest.timestamp,
            at: parseBackupTimestamp(manifest.timestamp).getTime(),
            bytes: completeness.bytes,
            verified: !untrusted(completeness.id),
            // Its verification.json is as unauthenticated as the backup.
            checked: verified !== undefined && !untrusted(completeness.id),
          },
        ]
      : [],
  )
  for (const t of trust.values()) {
    if (!t.trusted)
      yield* Effect.logWarning(
        `backup ${t.id} is not trusted: ${t.why}; it takes only the slots no backup signed by a trusted key needs, and goes first over the size limit (anyone able to write into the store could have put it there)`,
      )
  }
  const words = trustedKeys.length === 0 ? { verified: "complete", unverified: "incomplete" } : trustedWords
  // A backup copied under another id: download, verify and restore refuse it there, so it must not take the slot (or
  // be "the newest") of the original it copies, which they do restore. Kept, outside the rules.
  const misplaced = complete.filter((u) => u.id !== u.timestamp)
  const placed = complete.filter((u) => u.id === u.timestamp)
  const decided =
    options.incoming === undefined
      ? decideRetention(placed, options.policy, now, words)
      : decideRetentionBefore(placed, options.incoming, options.policy, now, words)
  const retention: RetentionDecision = {
    keep: [
      ...decided.keep,
      ...keptOutside(
        misplaced,
        (unit) =>
          `its manifest is backup ${unit.timestamp}'s, so download, verify and restore refuse it under ${unit.id}: it takes no slot of the rules; move it back under ${unit.timestamp}, or remove it by hand`,
      ),
    ],
    remove: decided.remove,
  }
  const found = garbage(
    listed.map((b) => b.completeness),
    pending,
    now,
    options.graceMs,
    options.prefix,
  )
  const misListed = new Set((yield* Effect.filter(found.incomplete, (b) => completeWhenAsked(options.prefix, b.id), { concurrency: 8 })).map((b) => b.id))
  const dead = { ...found, incomplete: found.incomplete.filter((b) => !misListed.has(b.id)) }
  const doomed = new Set(dead.incomplete.map((b) => b.id))
  const abandoned = new Set(dead.uploads)
  // A kept backup's stray forms (a removed backup's go with it); a younger one may be an upload's in progress.
  const removedIds = new Set(retention.remove.map((r) => r.unit.id))
  const strays = listed.flatMap(({ completeness: c }) =>
    c._tag === "Complete" && !removedIds.has(c.id)
      ? c.strayForms.map((o): StrayCopy => ({ id: c.id, key: o.key, size: o.size, modifiedAt: o.modifiedAt, encrypted: o.encrypted }))
      : [],
  )
  const strayForms = strays.filter((o) => now - o.modifiedAt > options.graceMs)
  const report: StorePruneReport = {
    location: store.location,
    retention,
    incomplete: dead.incomplete,
    incompleteKept: listed.flatMap((b) => (b.completeness._tag === "Incomplete" && !doomed.has(b.completeness.id) ? [b.completeness] : [])),
    uploads: dead.uploads,
    // This project's only: another program's uploads under the prefix are not prune's to keep or abort.
    uploadsKept: pending.filter((u) => !abandoned.has(u) && isOwnKey(options.prefix, u.key)),
    strayForms,
    emptyFolders: folders,
    versioning: yield* store.versioning,
    dryRun: options.dryRun,
  }
  const caveat = deletedBytesCaveat(report.versioning)
  if (caveat !== undefined) yield* Effect.logWarning(`${store.location}: ${caveat.why}`)
  if (report.versioning._tag === "Unknown") yield* Effect.logDebug(`${store.location}: its versioning could not be read (${report.versioning.why})`)
  const verb = options.dryRun ? "would remove" : "removing"
  for (const k of retention.keep) yield* (misplaced.includes(k.unit) ? Effect.logWarning : Effect.logInfo)(`keeping backup ${k.unit.id}: ${k.reason}`)
  for (const b of report.incompleteKept) yield* keptIncompleteLog(options.prefix, b, misListed.has(b.id))
  for (const u of report.uploadsKept) yield* Effect.logInfo(`keeping the multipart upload of ${u.key}: ${keptUploadText(u)}`)
  for (const r of retention.remove) {
    yield* Effect.logInfo(`${verb} backup ${r.unit.id}: ${r.reason}`)
    if (!options.dryRun) yield* deleteBackup(options.prefix, r.unit.id)
  }
  for (const b of dead.incomplete) {
    yield* Effect.logInfo(`${verb} incomplete backup ${b.id}, untouched since ${new Date(b.newestAt).toISOString()}: ${b.reasons.join("; ")}`)
    if (!options.dryRun) yield* deleteBackup(options.prefix, b.id)
  }
  for (const o of strays) {
    const form = strayFormText(o)
    if (!strayForms.includes(o)) {
      yield* Effect.logWarning(`keeping ${o.key} for now: ${form}; written ${new Date(o.modifiedAt).toISOString()}, within the grace period`)
      continue
    }
    yield* Effect.logWarning(`${verb} ${o.key}: ${form}`)
    if (!options.dryRun) yield* store.remove(o.key)
  }
  const resumed: Array<PendingUpload> = []
  for (const u of dead.uploads) {
    yield* Effect.logInfo(`${verb} the abandoned multipart upload of ${u.key}, ${uploadTimeText(u)}`)
    if (options.dryRun || (yield* store.abortUpload(u))) continue
    yield* Effect.logWarning(`kept the upload of ${u.key} after all: its writer refreshed it since it was listed, so it is at work`)
    resumed.push(u)
  }
  for (const f of folders) {
    yield* Effect.logInfo(`${verb} the empty folder ${f.key}/, untouched since ${new Date(f.modifiedAt).toISOString()}: an interrupted run left it`)
    if (!options.dryRun && !(yield* store.removeEmptyFolder(f.key))) yield* Effect.logInfo(`kept ${f.key}/: something was written into it meanwhile`)
  }
  return resumed.length === 0
    ? report
    : { ...report, uploads: report.uploads.filter((u) => !resumed.includes(u)), uploadsKept: [...report.uploadsKept, ...resumed] }
})

/** The bytes the removals free; in a versioned bucket, the bytes they remove, and why those are not freed. */
const freedText = (bytes: number, r: StorePruneReport): string => {
  const caveat = deletedBytesCaveat(r.versioning)
  const freed = `${formatBytes(bytes)} ${r.dryRun ? "would be freed" : "freed"}`
  if (caveat === undefined) return freed
  return caveat.freed ? `${freed} (${caveat.why})` : `${formatBytes(bytes)} ${r.dryRun ? "would be removed" : "removed"}, not freed: ${caveat.why}`
}

/** The line on stdout: what was kept and removed, with the bytes freed. */
export const storePruneSummary = (r: StorePruneReport): string => {
  const removed = r.dryRun ? "would be removed" : "removed"
  const bytes =
    r.retention.remove.reduce((n, x) => n + x.unit.bytes, 0) + r.incomplete.reduce((n, b) => n + b.bytes, 0) + r.strayForms.reduce((n, o) => n + o.size, 0)
  const strays = (encrypted: boolean, what: string) => {
    const n = r.strayForms.filter((o) => o.encrypted === encrypted).length
    return n === 0 ? "" : `${n} ${what.replace("copies", n === 1 ? "copy" : "copies")} ${removed}; `
  }
  const plain = strays(false, "plain copies beside .age files") + strays(true, ".age copies beside plain files")
  const folders = r.emptyFolders.length === 0 ? "" : `${r.emptyFolders.length} empty folder${r.emptyFolders.length === 1 ? "" : "s"} ${removed}; `
  return (
    `${r.location}: ${r.retention.keep.length} kept, ${r.retention.remove.length} ${removed}; ` +
    `${r.incomplete.length} incomplete ${removed}, ${r.incompleteKept.length} kept (within the grace period, a manifest this version cannot read or the store archived, or not this project's: see the log); ` +
    `${r.uploads.length} abandoned upload${r.uploads.length === 1 ? "" : "s"} ${r.dryRun ? "would be aborted" : "aborted"}, ${r.uploadsKept.length} kept; ` +
    plain +
    folders +
    freedText(bytes, r)
  )
}
