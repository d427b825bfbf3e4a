/**
 * Retention on a directory of backups. Backups lie side by side in it (OpenShift's layout:
 * timestamped files, one `backup-manifest.json`) or one per subdirectory (as `oc cp` copies them).
 * Each directory is classified (`classifyBackupDir`): backups, verified by the manifest or not,
 * the incomplete remains of a backup, leftovers of killed runs (`.part`, `.tmp-<pid>`, decoded
 * Secrets under `.cluster-backup/staging` or `building`), and files that are not this project's.
 *
 * Promises:
 * - only files of this project's own making are removed; a subdirectory is removed only once
 *   nothing else is in it, otherwise it is kept and the report says what was left and why;
 * - retention (`decideRetention`) never removes the newest verified backup, nor a verified backup
 *   in favour of an unverified one;
 * - remains and leftovers are removed whatever the policy, unless a live run holds the lock of
 *   their directory; nothing is removed from a directory whose lock a live run holds;
 * - only a lock tells a run in progress, and a copy written without one (`oc cp` into a new
 *   subdirectory, a directory store's `.part`) looks exactly like remains. So what no manifest
 *   vouches for (remains, leftovers, and in a subdirectory an unverified backup retention lets go)
 *   is removed at once only when a stale lock proves a dead run of this project left it, or when
 *   it holds no file; otherwise only once nothing in it (in the whole subdirectory, for one) was
 *   modified for the grace period (`removalVerdict`). A prune's own deletions make what they leave
 *   look young: the lock it held, stale once it is killed, is what lets the next prune finish;
 * - prune holds the lock of the directory it prunes (two prunes never race, a backup run cannot
 *   start there meanwhile) and of each subdirectory while it removes files in it;
 * - a prune killed at any point leaves only states the next prune recognises and finishes: a
 *   backup's snapshot goes first, so a half-deleted backup is incomplete remains, never a backup;
 *   a subdirectory being emptied is named in the pruned directory's record
 *   (`prune-removing.json`) until it is gone, since an empty directory says nothing of its own.
 * Hidden subdirectories are never looked at: copying into one (`.incoming-<name>`) and renaming
 * it when complete needs no grace at all.
 */
import { Clock, Effect, FileSystem, Path } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import { directoryWords, hasRule, type RetentionPolicy, trustedWords } from "../../domain/retention.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { acquireRunLock, type RunLockState } from "../../services/run-lock.ts"
import { backupDirLockPath } from "../backup-dir/backup-dir-lock.ts"
import { recordDirName } from "../backup-dir/snapshot-record.ts"
import { applyToLocation, finishRemoving } from "./prune-apply.ts"
import { fsError, PruneFailed } from "./prune-failed.ts"
import { backupDirsBelow, backupsBelowHint } from "../backup-dir/backups-below.ts"
import { afterTakenLocks, type LeftInPlace, type LeftoverGrace, type PruneDecision, plan } from "./prune-plan.ts"
import { scanAll } from "./prune-scan.ts"

export { PruneFailed } from "./prune-failed.ts"
export type { LeftInPlace, LeftoverGrace, LeftoverOutcome, PruneDecision } from "./prune-plan.ts"

export interface PruneOptions {
  readonly dir: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly leftoverGrace: LeftoverGrace
  /**
   * `--trusted-key`: a backup whose manifest none of these signed (by its `backup-manifest.json.sig`) is retention's
   * unverified unit, as on a store (store-prune.ts).
   */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
}

const report = Effect.fnUntraced(function* (decision: PruneDecision, dryRun: boolean) {
  const removing = dryRun ? "would remove" : "remove"
  for (const k of decision.keep) yield* Effect.logInfo(`keep ${k.unit.id}: ${k.reason}`)
  for (const r of decision.remove) yield* Effect.logInfo(`${removing} ${r.unit.id}: ${r.reason}`)
  for (const l of decision.leftovers) {
    if (l.removed) yield* Effect.logInfo(`${removing} leftover ${l.path} (${formatBytes(l.bytes)}): ${l.what}`)
    else yield* Effect.logWarning(`keep leftover ${l.path} (${formatBytes(l.bytes)}): ${l.what}; ${l.reason}`)
  }
  for (const l of decision.left) yield* Effect.logWarning(`${dryRun ? "would leave" : "left"} ${l.path}: ${l.reason}`)
})

/**
 * No backup in the directory nor one level below it, but backups deeper: most likely a directory store's root
 * (`cluster-backup/<cluster-id>/<id>/`), which retention reaches as a store, by its prefix.
 */
const warnOfStoreBelow = (dir: string) =>
  Effect.gen(function* () {
    const deeper = (yield* backupDirsBelow(dir)).filter((d) => d.includes("/"))
    const prefix = deeper[0]?.split("/").slice(0, -1).join("/")
    if (prefix === undefined) return
    yield* Effect.logWarning(
      `no backup in ${dir} nor in a directory right below it${backupsBelowHint(deeper, `a directory store's backups: prune them as a store, with --prefix ${prefix}`)}`,
    )
  })

export const prune = Effect.fn("prune")(function* (options: PruneOptions) {
  if (!hasRule(options.policy)) {
    return yield* new PruneFailed({
      path: options.dir,
      message: "no retention rule given: use --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --max-age or --max-total-size",
    })
  }
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const info = yield* fs.stat(options.dir).pipe(Effect.mapError(fsError(options.dir, "read")))
  if (info.type !== "Directory")
    return yield* new PruneFailed({ path: options.dir, message: `${options.dir} is not a directory: give the directory that holds the backups` })

  return yield* Effect.scoped(
    Effect.gen(function* () {
      // Our own lock on the whole directory, taken before looking: what we see stays ours to change.
      // What it replaced says whether a run of this project died here (then what it left goes at once).
      let ownLock: RunLockState | undefined
      if (!options.dryRun) {
        const recordDir = path.join(options.dir, recordDirName)
        yield* fs.makeDirectory(recordDir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fsError(recordDir, "create")))
        ownLock = (yield* acquireRunLock(backupDirLockPath(path, options.dir), "prune")).replaced
        yield* finishRemoving(options.dir)
      }
      const now = yield* Clock.currentTimeMillis
      const trustedKeys = options.trustedKeys ?? []
      const locations = yield* scanAll(options.dir, ownLock, now, trustedKeys)
      const { decision, work, untrusted } = plan(
        locations,
        options.policy,
        now,
        options.leftoverGrace,
        path,
        trustedKeys.length === 0 ? directoryWords : trustedWords,
      )
      for (const [id, why] of untrusted) yield* Effect.logWarning(`backup ${id} is not trusted: ${why}`)
      if (decision.keep.length + decision.remove.length === 0) yield* warnOfStoreBelow(options.dir)
      if (options.dryRun) {
        yield* report(decision, true)
        return decision
      }
      const left: Array<LeftInPlace> = []
      const taken: Array<string> = []
      for (const w of work) {
        const done = yield* Effect.scoped(applyToLocation(w))
        left.push(...done.left)
        if (done.taken) taken.push(w.location.rel)
      }
      const result = afterTakenLocks(decision, taken, left)
      yield* report(result, false)
      return result
    }),
  )
})
