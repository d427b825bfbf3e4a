/**
 * Which backups to delete under a retention policy, given their metadata: the newest `N`,
 * grandfather-father-son buckets (newest per day, week, month), a maximum age and a maximum total
 * size. The newest complete backup is never deleted, whatever the policy; an incomplete backup
 * (a failed or interrupted run) is deleted once a newer complete one exists, and kept while it may
 * still be in progress. Deciding is pure; deleting is `prune`'s job.
 */
import type { BackupTimestamp } from "./archive-names.ts"

export interface BackupUnit {
  /** How the caller names it (a directory, or a timestamp group of files). */
  readonly id: string
  readonly timestamp: BackupTimestamp
  /** The timestamp's instant (epoch ms). */
  readonly at: number
  readonly bytes: number
  /** Snapshot, resource tarball (and manifest, where the layout has one) all present. */
  readonly complete: boolean
}

export interface RetentionPolicy {
  readonly keepLast?: number | undefined
  readonly keepDaily?: number | undefined
  readonly keepWeekly?: number | undefined
  readonly keepMonthly?: number | undefined
  readonly maxAgeMs?: number | undefined
  readonly maxTotalBytes?: number | undefined
}

export interface RetentionDecision {
  readonly keep: ReadonlyArray<{ readonly unit: BackupUnit; readonly reason: string }>
  readonly remove: ReadonlyArray<{ readonly unit: BackupUnit; readonly reason: string }>
}

/** Whether a policy says anything at all (an empty one must not be run: it would keep everything). */
export const hasRule = (p: RetentionPolicy): boolean =>
  [p.keepLast, p.keepDaily, p.keepWeekly, p.keepMonthly, p.maxAgeMs, p.maxTotalBytes].some((v) => v !== undefined)

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const month = (ms: number) => new Date(ms).toISOString().slice(0, 7)
/** ISO week (`2026-W48`), so buckets do not depend on the locale. */
const week = (ms: number) => {
  const d = new Date(ms)
  const target = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  const dow = (new Date(target).getUTCDay() + 6) % 7
  const thursday = target - dow * 86_400_000 + 3 * 86_400_000
  const year = new Date(thursday).getUTCFullYear()
  const firstThursday = Date.UTC(year, 0, 4)
  const fdow = (new Date(firstThursday).getUTCDay() + 6) % 7
  const weekOne = firstThursday - fdow * 86_400_000
  return `${year}-W${String(Math.floor((thursday - 3 * 86_400_000 - weekOne) / (7 * 86_400_000)) + 1).padStart(2, "0")}`
}

/** Newest first; ties broken by id so the decision does not depend on input order. */
const newestFirst = (a: BackupUnit, b: BackupUnit) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

/** The newest backup of each of the `count` most recent buckets that have one. */
const perBucket = (units: ReadonlyArray<BackupUnit>, bucket: (ms: number) => string, count: number) => {
  const chosen: Array<BackupUnit> = []
  const seen = new Set<string>()
  for (const u of units) {
    const b = bucket(u.at)
    if (seen.has(b)) continue
    seen.add(b)
    if (seen.size > count) break
    chosen.push(u)
  }
  return chosen
}

export const decideRetention = (units: ReadonlyArray<BackupUnit>, policy: RetentionPolicy, now: number): RetentionDecision => {
  const sorted = [...units].sort(newestFirst)
  const complete = sorted.filter((u) => u.complete)
  const newest = complete[0]
  const keep = new Map<string, string>()
  const remove = new Map<string, string>()
  if (newest !== undefined) keep.set(newest.id, "the newest complete backup (always kept)")

  for (const u of sorted.filter((x) => !x.complete)) {
    if (newest !== undefined && u.at <= newest.at) remove.set(u.id, `incomplete (a failed or interrupted run), superseded by ${newest.timestamp}`)
    else keep.set(u.id, "incomplete but newer than every complete backup: it may still be in progress")
  }

  const selectors: Array<readonly [number | undefined, (c: number) => ReadonlyArray<BackupUnit>, string]> = [
    [policy.keepLast, (n) => complete.slice(0, n), "one of the newest"],
    [policy.keepDaily, (n) => perBucket(complete, day, n), "the newest of its day"],
    [policy.keepWeekly, (n) => perBucket(complete, week, n), "the newest of its week"],
    [policy.keepMonthly, (n) => perBucket(complete, month, n), "the newest of its month"],
  ]
  const selecting = selectors.some(([n]) => n !== undefined)
  for (const u of complete) {
    if (keep.has(u.id)) continue
    if (!selecting) {
      keep.set(u.id, "no count rule applies")
      continue
    }
    const why = selectors.filter(([n, pick]) => n !== undefined && pick(Math.max(0, n)).includes(u)).map(([, , r]) => r)
    if (why.length > 0) keep.set(u.id, why.join(", "))
    else remove.set(u.id, "not among the backups the count rules keep")
  }

  if (policy.maxAgeMs !== undefined) {
    for (const u of complete) {
      if (u === newest || !keep.has(u.id)) continue
      if (now - u.at > policy.maxAgeMs) {
        keep.delete(u.id)
        remove.set(u.id, "older than the maximum age")
      }
    }
  }

  if (policy.maxTotalBytes !== undefined) {
    let total = sorted.filter((u) => keep.has(u.id)).reduce((a, u) => a + u.bytes, 0)
    for (const u of [...complete].reverse()) {
      if (total <= policy.maxTotalBytes) break
      if (u === newest || !keep.has(u.id)) continue
      keep.delete(u.id)
      remove.set(u.id, "the oldest while the total size is over the limit")
      total -= u.bytes
    }
  }

  return {
    keep: sorted.filter((u) => keep.has(u.id)).map((unit) => ({ unit, reason: keep.get(unit.id)! })),
    remove: sorted.filter((u) => remove.has(u.id)).map((unit) => ({ unit, reason: remove.get(unit.id)! })),
  }
}
