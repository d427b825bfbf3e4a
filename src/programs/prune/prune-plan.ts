/**
 * The whole decision of prune from what the scan saw, before anything is removed: retention on
 * the backups, the grace and dead-run rules on the leftovers, and the work for each location.
 */
import type { Path } from "effect"
import { parseBackupTimestamp } from "../../domain/archive-names.ts"
import { type BackupGroup, type Leftover, type RemovalVerdict, removalVerdict } from "../../domain/backup-dir-contents.ts"
import { type BackupUnit, decideRetention, directoryWords, type RetentionDecision, type RetentionPolicy, type RetentionWords } from "../../domain/retention.ts"
import { backupDirLockPath } from "../backup-dir/backup-dir-lock.ts"
import { diedThere, itemKey, type Location } from "./prune-scan.ts"

/** A leftover or the remains of a backup: removed whatever the policy, unless a live run owns it. */
export interface LeftoverOutcome {
  /** Relative to the pruned directory. */
  readonly path: string
  readonly bytes: number
  readonly what: string
  readonly removed: boolean
  /** Why it was kept (empty when removed). */
  readonly reason: string
}

/** Something prune would have removed but left in place, and why. */
export interface LeftInPlace {
  readonly path: string
  readonly reason: string
}

export interface PruneDecision extends RetentionDecision {
  readonly leftovers: ReadonlyArray<LeftoverOutcome>
  readonly left: ReadonlyArray<LeftInPlace>
}

const groupId = (location: Location, group: BackupGroup) =>
  !location.subdirectory ? group.timestamp : location.contents.groups.length === 1 ? `${location.rel}/` : `${location.rel}/${group.timestamp}`

const heldBy = (location: Location, lockPath: string) =>
  location.lock._tag === "Held"
    ? `a live run holds ${lockPath}: ${location.lock.owner.command} (PID ${location.lock.owner.pid} on ${location.lock.owner.host}, started ${location.lock.owner.startedAt})`
    : ""

export interface Work {
  readonly location: Location
  /** The groups to remove: those retention lets go and the incomplete ones old enough (or a dead run's). */
  readonly groups: ReadonlyArray<BackupGroup>
  readonly leftovers: ReadonlyArray<Leftover>
  /** Whether, once they are gone, the subdirectory's own files, its record directory and the subdirectory itself go too (if nothing else is in them). */
  readonly emptied: boolean
}

/** How long what no manifest vouches for must be left untouched before prune removes it without a dead run's lock. */
export interface LeftoverGrace {
  readonly ms: number
  /** As the flag reads ("24h"). */
  readonly text: string
}

/** The whole decision from what the scan saw: retention on the backups, the rest on the leftovers. */
export const plan = (
  locations: ReadonlyArray<Location>,
  policy: RetentionPolicy,
  now: number,
  grace: LeftoverGrace,
  path: Path.Path,
  words: RetentionWords = directoryWords,
) => {
  const units: Array<BackupUnit> = []
  const held: Array<{ unit: BackupUnit; reason: string }> = []
  const groups = new Map<string, BackupGroup>()
  const leftovers: Array<LeftoverOutcome> = []
  /** Unverified backups in a subdirectory that may be a copy in progress: kept, outside retention (yet). */
  const young: Array<{ unit: BackupUnit; reason: string }> = []
  const pending: Array<{ location: Location; incomplete: Array<BackupGroup>; leftovers: Array<Leftover>; whole: RemovalVerdict }> = []
  /** Backups whose manifest no trusted key signed, with why. */
  const untrusted = new Map<string, string>()
  for (const location of locations) {
    const live = heldBy(location, backupDirLockPath(path, location.dir))
    const c = location.contents
    const deadRun = diedThere(location)
    const verdict = (key: string): RemovalVerdict => {
      const age = location.ages.get(key) ?? { newestAt: now, holdsFiles: true }
      return removalVerdict({ newestAt: location.newestAt ?? age.newestAt, holdsFiles: age.holdsFiles, deadRun }, now, grace.ms, grace.text)
    }
    const outcome = (v: RemovalVerdict) =>
      live !== "" ? { removed: false, reason: live } : v._tag === "Keep" ? { removed: false, reason: v.reason } : { removed: true, reason: "" }
    const verdicts: Array<RemovalVerdict> = [verdict(itemKey.rest)]
    const incomplete: Array<BackupGroup> = []
    const incompleteOutcomes: Array<LeftoverOutcome> = []
    for (const group of c.groups) {
      const id = groupId(location, group)
      groups.set(id, group)
      if (group.status === "incomplete") {
        const v = verdict(itemKey.group(group))
        verdicts.push(v)
        const o = outcome(v)
        incompleteOutcomes.push({ path: id, bytes: group.bytes, what: `remains of backup ${group.timestamp} (${group.detail})`, ...o })
        if (o.removed) incomplete.push(group)
        continue
      }
      // With trusted keys, a backup whose manifest none signed is retention's unverified unit (a finished one all the same).
      const trust = group.status === "verified" ? location.manifestTrust : undefined
      if (trust?.trusted === false) untrusted.set(id, trust.why)
      const unit: BackupUnit = {
        id,
        timestamp: group.timestamp,
        at: parseBackupTimestamp(group.timestamp).getTime(),
        bytes: group.bytes,
        verified: group.status === "verified" && trust?.trusted !== false,
      }
      // OpenShift's own backups lie unverified side by side in the pruned directory: only a subdirectory is judged as a possible copy.
      // So is an untrusted one there: its signature may be what the copy has not written yet.
      const copy = location.subdirectory && !unit.verified ? verdict(itemKey.group(group)) : undefined
      if (copy !== undefined) verdicts.push(copy)
      if (live !== "") held.push({ unit, reason: live })
      // A possible copy in progress is kept, and takes no slot from a finished backup (nor is the newest kept in its stead).
      else if (copy?._tag === "Keep") young.push({ unit, reason: copy.reason })
      else units.push(unit)
    }
    const going: Array<Leftover> = []
    const leftoverOutcomes: Array<LeftoverOutcome> = []
    for (const l of c.leftovers) {
      const v = verdict(itemKey.leftover(l.path))
      verdicts.push(v)
      const o = outcome(v)
      leftoverOutcomes.push({ path: location.subdirectory ? `${location.rel}/${l.path}` : l.path, bytes: l.bytes, what: l.what, ...o })
      if (o.removed) going.push(l)
    }
    // A subdirectory goes whole or not at all: it is emptied only when nothing in it is kept as a possible copy.
    const whole = verdicts.find((v) => v._tag === "Keep") ?? verdicts[0]!
    if (location.subdirectory && c.groups.length === 0) {
      leftovers.push({
        path: `${location.rel}/`,
        bytes: 0,
        what: "a backup directory with no backup left in it (a run or a prune was interrupted there)",
        ...outcome(whole),
      })
    }
    leftovers.push(...incompleteOutcomes, ...leftoverOutcomes)
    if (live === "") pending.push({ location, incomplete, leftovers: going, whole })
  }
  const retention = decideRetention(units, policy, now, words)
  const removing = new Set(retention.remove.map((r) => r.unit.id))
  const note = (id: string) => {
    const g = groups.get(id)!
    const why = untrusted.get(id)
    return g.status === "unverified" ? ` [unverified: ${g.detail}]` : why !== undefined ? ` [untrusted: ${why}]` : ""
  }
  const work: Array<Work> = pending.map(({ location, incomplete, leftovers: going, whole }) => {
    const removed = [...incomplete, ...location.contents.groups.filter((g) => removing.has(groupId(location, g)))]
    const emptied = location.subdirectory && removed.length === location.contents.groups.length && whole._tag === "Remove"
    return { location, groups: removed, leftovers: going, emptied }
  })
  const decision: PruneDecision = {
    keep: [...retention.keep, ...held, ...young].map((k) => ({ unit: k.unit, reason: k.reason + note(k.unit.id) })),
    remove: retention.remove.map((r) => ({ unit: r.unit, reason: r.reason + note(r.unit.id) })),
    leftovers,
    // What the run will find it must leave (the real run reports what it did leave).
    left: work.flatMap(({ location, emptied }) =>
      emptied && location.contents.foreign.length > 0 ? [{ path: `${location.rel}/`, reason: keptForeign(location.contents.foreign) }] : [],
    ),
  }
  return { decision, work, untrusted }
}

export const keptForeign = (foreign: ReadonlyArray<string>) =>
  `no backup is left in it, but it holds files prune does not own${foreign.length > 0 ? ` (${foreign.join(", ")})` : " (added meanwhile)"}: kept them and the directory`

/** The decision, corrected for subdirectories whose lock a live run took after the scan: nothing there was removed. */
export const afterTakenLocks = (decision: PruneDecision, taken: ReadonlyArray<string>, left: ReadonlyArray<LeftInPlace>): PruneDecision => {
  const inTaken = (id: string) => taken.some((rel) => id === `${rel}/` || id.startsWith(`${rel}/`))
  const reason = "its directory's lock was taken by a live run meanwhile"
  return {
    keep: [...decision.keep, ...decision.remove.filter((r) => inTaken(r.unit.id)).map((r) => ({ unit: r.unit, reason }))],
    remove: decision.remove.filter((r) => !inTaken(r.unit.id)),
    leftovers: decision.leftovers.map((l) => (l.removed && inTaken(l.path) ? { ...l, removed: false, reason } : l)),
    left,
  }
}
