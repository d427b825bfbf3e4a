/**
 * Which backups to delete under a retention policy, given their metadata: the newest `N`,
 * grandfather-father-son buckets (newest per day, week, month), a maximum age and a maximum total
 * size. Deciding is pure; deleting is `prune`'s job.
 *
 * Verified backups (a manifest vouches for their files) come first everywhere:
 * - the newest verified backup is never deleted, whatever the policy (when there is none, the
 *   newest unverified backup is kept instead, so a rule never empties a directory);
 * - a count rule gives its slots to verified backups first; an unverified backup gets a slot only
 *   when the verified ones left it free (keep-last 3 with 2 verified keeps them and the newest
 *   unverified one);
 * - over the size limit, every unverified backup goes (oldest first) before a verified one does.
 * So a verified backup is never deleted in favour of an unverified one. Incomplete remains of a
 * backup are not backups: prune removes them with the other leftovers, outside this decision.
 *
 * A backup that `verify` passed (`checked`, its verification.json in a store) is a restore known to
 * work: the newest such backup is kept too, whatever the policy, even when newer ones are not checked.
 *
 * A backup dated more than `futureSkewMs` ahead of `now` is kept outside the rules (no slot, no age,
 * not counted in the size), so a clock that once ran fast does not push every later backup out.
 */
import type { BackupTimestamp } from "./archive-names.ts"

export interface BackupUnit {
  /** How the caller names it (a directory, or a timestamp group of files). */
  readonly id: string
  readonly timestamp: BackupTimestamp
  /** The timestamp's instant (epoch ms). */
  readonly at: number
  readonly bytes: number
  /** A valid manifest names exactly its files with their sizes. */
  readonly verified: boolean
  /** `verify` passed it (a verification.json vouches for it); absent: not known to. */
  readonly checked?: boolean | undefined
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

/**
 * The backups a count rule keeps: its `count` slots go to verified backups first; unverified ones
 * get only the slots left over, in buckets no kept verified backup holds.
 */
const verifiedFirst = (
  verified: ReadonlyArray<BackupUnit>,
  unverified: ReadonlyArray<BackupUnit>,
  pick: (units: ReadonlyArray<BackupUnit>, count: number) => ReadonlyArray<BackupUnit>,
  bucketOf: (u: BackupUnit) => string,
  count: number,
): ReadonlyArray<BackupUnit> => {
  const first = pick(verified, count)
  const taken = new Set(first.map(bucketOf))
  return [
    ...first,
    ...pick(
      unverified.filter((u) => !taken.has(bucketOf(u))),
      count - first.length,
    ),
  ]
}

/** Of backups sorted newest first, those kept whatever the policy: the newest (verified ones first), and the newest verify passed. */
const alwaysKept = (sorted: ReadonlyArray<BackupUnit>) => ({
  newest: sorted.find((u) => u.verified) ?? sorted[0],
  newestChecked: sorted.find((u) => u.checked === true && u.verified),
})

/** Backups kept outside the rules (no slot, no age, not counted in the size, never removed), each with its reason. */
export const keptOutside = (
  units: ReadonlyArray<BackupUnit>,
  reason: (u: BackupUnit) => string,
): ReadonlyArray<{ readonly unit: BackupUnit; readonly reason: string }> => units.map((unit) => ({ unit, reason: reason(unit) }))

/** How far ahead of the deciding clock a backup's timestamp may be before that clock or the backup's is taken for wrong. */
export const futureSkewMs = 5 * 60_000

/**
 * The words the reasons use for a verified and an unverified unit. A store's `list` says VERIFIED of a backup `verify`
 * passed, so its prune calls the backups its manifest vouches for "complete", as list's STATE does; with trusted keys,
 * "trusted" those whose manifest a trusted key signed, and "untrusted" the others.
 */
export interface RetentionWords {
  readonly verified: string
  readonly unverified: string
}

export const directoryWords: RetentionWords = { verified: "verified", unverified: "unverified" }

/** With trusted keys: a backup counts as verified only when one of them signed its manifest. */
export const trustedWords: RetentionWords = { verified: "trusted", unverified: "untrusted" }

export const decideRetention = (
  units: ReadonlyArray<BackupUnit>,
  policy: RetentionPolicy,
  now: number,
  words: RetentionWords = directoryWords,
): RetentionDecision => {
  const verifiedAs = words.verified
  // A backup dated ahead of now (a node whose clock ran fast took it) would be "the newest" for ever, never too old:
  // with keep-last 1 every later backup would go, the one just uploaded included. It is kept and takes no slot.
  const ahead = units.filter((u) => u.at > now + futureSkewMs)
  if (ahead.length > 0) {
    const rest = decideRetention(
      units.filter((u) => !ahead.includes(u)),
      policy,
      now,
      words,
    )
    const reason = (u: BackupUnit) =>
      `dated ${new Date(u.at).toISOString()}, ahead of this clock (${new Date(now).toISOString()}): kept, taking no slot of the rules (the clock that took it or this one is wrong)`
    return { keep: [...keptOutside([...ahead].sort(newestFirst), reason), ...rest.keep], remove: rest.remove }
  }
  const sorted = [...units].sort(newestFirst)
  const verified = sorted.filter((u) => u.verified)
  const unverified = sorted.filter((u) => !u.verified)
  const { newest, newestChecked } = alwaysKept(sorted)
  const guarded = new Set([newest, newestChecked].filter((u) => u !== undefined))
  const keep = new Map<string, string>()
  const remove = new Map<string, string>()
  if (newestChecked !== undefined) keep.set(newestChecked.id, "the newest backup verify passed (always kept)")
  if (newest !== undefined && newest !== newestChecked) {
    keep.set(newest.id, newest.verified ? `the newest ${verifiedAs} backup (always kept)` : `the newest backup, and none is ${verifiedAs} (always kept)`)
  }

  const rules: Array<
    readonly [number | undefined, (us: ReadonlyArray<BackupUnit>, n: number) => ReadonlyArray<BackupUnit>, (u: BackupUnit) => string, string]
  > = [
    [policy.keepLast, (us, n) => us.slice(0, n), (u) => u.id, "one of the newest"],
    [policy.keepDaily, (us, n) => perBucket(us, day, n), (u) => day(u.at), "the newest of its day"],
    [policy.keepWeekly, (us, n) => perBucket(us, week, n), (u) => week(u.at), "the newest of its week"],
    [policy.keepMonthly, (us, n) => perBucket(us, month, n), (u) => month(u.at), "the newest of its month"],
  ]
  const chosen = rules.flatMap(([n, pick, bucketOf, reason]) =>
    n === undefined ? [] : [{ units: verifiedFirst(verified, unverified, pick, bucketOf, Math.max(0, n)), reason }],
  )
  const unverifiedNote = ` (${words.unverified}: a slot no ${verifiedAs} backup needed)`
  for (const u of sorted) {
    if (keep.has(u.id)) continue
    if (chosen.length === 0) {
      keep.set(u.id, "no count rule applies")
      continue
    }
    const why = chosen.filter((c) => c.units.includes(u)).map((c) => c.reason)
    if (why.length > 0) keep.set(u.id, why.join(", ") + (u.verified ? "" : unverifiedNote))
    else
      remove.set(
        u.id,
        u.verified
          ? "not among the backups the count rules keep"
          : `${words.unverified}, and not among the backups the count rules keep (${verifiedAs} backups take the slots first)`,
      )
  }

  if (policy.maxAgeMs !== undefined) {
    for (const u of sorted) {
      if (guarded.has(u) || !keep.has(u.id)) continue
      if (now - u.at > policy.maxAgeMs) {
        keep.delete(u.id)
        remove.set(u.id, "older than the maximum age")
      }
    }
  }

  if (policy.maxTotalBytes !== undefined) {
    let total = sorted.filter((u) => keep.has(u.id)).reduce((a, u) => a + u.bytes, 0)
    // Every unverified backup goes before any verified one; oldest first within each.
    for (const u of [...[...unverified].reverse(), ...[...verified].reverse()]) {
      if (total <= policy.maxTotalBytes) break
      if (guarded.has(u) || !keep.has(u.id)) continue
      keep.delete(u.id)
      remove.set(
        u.id,
        u.verified
          ? "the oldest while the total size is over the limit"
          : `${words.unverified}, removed before any ${verifiedAs} backup while the total size is over the limit`,
      )
      total -= u.bytes
    }
  }

  return {
    keep: sorted.filter((u) => keep.has(u.id)).map((unit) => ({ unit, reason: keep.get(unit.id)! })),
    remove: sorted.filter((u) => remove.has(u.id)).map((unit) => ({ unit, reason: remove.get(unit.id)! })),
  }
}

/**
 * The decision that makes room for `incoming` before it is stored: the backups the policy removes once `incoming` is
 * there, save those always kept while it is not (the newest backup, the newest verify passed: an upload that then
 * fails must not leave the store without them). `incoming` itself is in neither list; a unit of its id is replaced by it.
 */
export const decideRetentionBefore = (
  units: ReadonlyArray<BackupUnit>,
  incoming: BackupUnit,
  policy: RetentionPolicy,
  now: number,
  words: RetentionWords = directoryWords,
): RetentionDecision => {
  const verifiedAs = words.verified
  const others = units.filter((u) => u.id !== incoming.id)
  const after = decideRetention([...others, incoming], policy, now, words)
  const { newest, newestChecked } = alwaysKept(others.filter((u) => u.at <= now + futureSkewMs).sort(newestFirst))
  const held = new Set([newest, newestChecked].flatMap((u) => (u === undefined ? [] : [u.id])))
  const kept = after.keep.filter((k) => k.unit.id !== incoming.id)
  const heldBack = after.remove
    .filter((r) => held.has(r.unit.id))
    .map(({ unit }) => ({
      unit,
      reason: `${unit === newestChecked ? "the newest backup verify passed" : `the newest ${verifiedAs} backup`} while backup ${incoming.id} is not stored yet (kept until then)`,
    }))
  return {
    keep: [...kept, ...heldBack].sort((a, b) => newestFirst(a.unit, b.unit)),
    remove: after.remove.filter((r) => r.unit.id !== incoming.id && !held.has(r.unit.id)),
  }
}
