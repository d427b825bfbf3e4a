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
import { rmdir } from "node:fs/promises"
import { hostname } from "node:os"
import { Clock, Effect, FileSystem, Path, Result, Schema } from "effect"
import { BackupTimestamp, manifestFileName, parseBackupTimestamp } from "../../domain/archive-names.ts"
import {
  classifyBackupDir,
  removalVerdict,
  type BackupDirNames,
  type BackupGroup,
  type DirContents,
  type DirEntry,
  type Leftover,
  type ManifestClaim,
  type RemovalVerdict,
} from "../../domain/backup-dir-contents.ts"
import { runLockTempPid } from "../../domain/backup-leftovers.ts"
import { operandNames } from "../../domain/operands.ts"
import { decideRetention, hasRule, type BackupUnit, type RetentionDecision, type RetentionPolicy } from "../../domain/retention.ts"
import { describeFileSystemFailure } from "../../services/file-system-error.ts"
import { readBackupFileBytes } from "../../services/backup-file.ts"
import { acquireRunLock, inspectRunLock, ownerLiveness, type RunLockState } from "../../services/run-lock.ts"
import { backupDirLockFileName, backupDirLockPath } from "../backup-dir/backup-dir-lock.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { recordDirName, snapshotRecordFileName } from "../backup-dir/snapshot-record.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { resourcesRecordPath, stagingDir } from "../backup-dir/staging-area.ts"

export class PruneFailed extends Schema.TaggedError<PruneFailed>()("PruneFailed", {
  path: Schema.String,
  message: Schema.String,
}) {}

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

const fsError = (path: string, doing: string) => (e: unknown) =>
  new PruneFailed({ path, message: `${describeFileSystemFailure(doing, path, e).message} (then run prune again)` })

/** One directory that can hold backups: the pruned directory itself, or one of its subdirectories. */
interface Location {
  readonly dir: string
  /** Relative path shown in the report ("" for the pruned directory). */
  readonly rel: string
  readonly subdirectory: boolean
  readonly contents: DirContents
  readonly lock: RunLockState
  /**
   * A run of this project certainly died here: the lock names a process that is gone, or a
   * temporary file of the lock names one (a run killed while it took or replaced the lock).
   */
  readonly deadRun: boolean
  /** For a subdirectory, the newest mtime of anything in it (itself included): it is judged whole. */
  readonly newestAt: number | undefined
  /** The age of each thing prune could remove without a manifest's word, by `itemKey`. */
  readonly ages: ReadonlyMap<string, Age>
}

/** The newest mtime (epoch ms) of a set of paths and everything under them, and whether any is not a directory. */
interface Age {
  readonly newestAt: number
  readonly holdsFiles: boolean
}

const itemKey = {
  group: (g: BackupGroup) => `group ${g.timestamp}`,
  leftover: (path: string) => `leftover ${path}`,
  rest: "the directory's own files",
} as const

/** The run lock and the temporary files it is taken with: this project's lock machinery, not data. */
const isLockFile = (names: BackupDirNames, rel: string) => {
  const name = rel.slice(rel.lastIndexOf("/") + 1)
  return rel.startsWith(`${names.recordDir}/`) && (name === names.lockFile || runLockTempPid(name) !== undefined)
}

const maxRecordBytes = 1024 * 1024

const ownNames = (path: Path.Path): BackupDirNames => ({
  recordDir: recordDirName,
  manifest: manifestFileName,
  snapshotRecord: snapshotRecordFileName,
  resourcesRecords: operandNames.map((o) => path.basename(resourcesRecordPath(path, "/", o))),
  stagingTree: path.basename(stagingDir(path, "/")),
  lockFile: backupDirLockFileName,
})

/** The entries of `dir` with their types and sizes (a directory's size is what is under it); entries that vanish meanwhile are skipped. */
const listEntries = Effect.fnUntraced(function* (dir: string, measureTrees: boolean) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(fsError(dir, "list")))
  const entries: Array<DirEntry> = []
  for (const name of names.sort()) {
    const info = yield* fs.lstat(path.join(dir, name)).pipe(Effect.option)
    if (info._tag === "None") continue
    const type = info.value.type === "File" ? "File" : info.value.type === "Directory" ? "Directory" : "Other"
    const bytes = type === "File" ? Number(info.value.size) : type === "Directory" && measureTrees ? yield* treeBytes(path.join(dir, name)) : 0
    entries.push({ name, type, bytes })
  }
  return entries
})

/**
 * The age of `targets` (paths under `dir`): the newest mtime of each and of everything under a
 * directory among them (lstat: links are not followed). What vanishes meanwhile is skipped; what
 * has no mtime counts as modified now.
 */
const ageOf = Effect.fnUntraced(function* (dir: string, targets: ReadonlyArray<string>, names: BackupDirNames, now: number) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  let newestAt = Number.NEGATIVE_INFINITY
  let holdsFiles = false
  const see = Effect.fnUntraced(function* (rel: string) {
    const info = yield* fs.lstat(rel === "" ? dir : path.join(dir, rel)).pipe(Effect.option)
    if (info._tag === "None") return false
    newestAt = Math.max(newestAt, info.value.mtime._tag === "Some" ? info.value.mtime.value.getTime() : now)
    if (info.value.type !== "Directory" && !isLockFile(names, rel)) holdsFiles = true
    return info.value.type === "Directory"
  })
  for (const target of targets) {
    if (!(yield* see(target))) continue
    const under = yield* fs.readDirectory(target === "" ? dir : path.join(dir, target), { recursive: true }).pipe(Effect.orElseSucceed(() => []))
    for (const name of under) yield* see(target === "" ? name : path.join(target, name))
  }
  return { newestAt, holdsFiles }
})

/** Bytes of the regular files under `dir` (links are not followed); unreadable parts count as 0. */
const treeBytes = (dir: string): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(dir, { recursive: true }).pipe(Effect.orElseSucceed(() => []))
    let total = 0
    for (const name of names) {
      const info = yield* fs.lstat(path.join(dir, name)).pipe(Effect.option)
      if (info._tag === "Some" && info.value.type === "File") total += Number(info.value.size)
    }
    return total
  })

const decodeRecordTimestamp = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ timestamp: BackupTimestamp })))

/**
 * Lists and classifies one directory and measures the age of what it could remove; its lock is
 * inspected (unless it is prune's own: then `ownLock` is what the lock said before prune took it),
 * never changed.
 */
const scanLocation = Effect.fnUntraced(function* (root: string, rel: string, ownLock: RunLockState | undefined, now: number) {
  const path = yield* Path.Path
  const names = ownNames(path)
  const dir = rel === "" ? root : path.join(root, rel)
  const entries = yield* listEntries(dir, false)
  const recordDir = entries.find((e) => e.name === names.recordDir && e.type === "Directory")
  const recordDirEntries = recordDir === undefined ? undefined : yield* listEntries(path.join(dir, names.recordDir), true)

  const manifestEntry = entries.find((e) => e.name === names.manifest && e.type === "File")
  const manifest: ManifestClaim =
    manifestEntry === undefined
      ? { _tag: "Absent" }
      : yield* readBackupManifest(path.join(dir, names.manifest)).pipe(
          Effect.match({
            onSuccess: (m): ManifestClaim => ({ _tag: "Describes", timestamp: m.timestamp, snapshot: m.files.snapshot, resources: m.files.resources }),
            onFailure: (e): ManifestClaim => ({ _tag: "Invalid", problem: e.message }),
          }),
        )
  // Only the timestamp matters here: an unreadable record names no backup.
  const recordTs =
    recordDirEntries?.some((e) => e.name === names.snapshotRecord && e.type === "File") === true
      ? yield* readBackupFileBytes(path.join(dir, names.recordDir, names.snapshotRecord), maxRecordBytes).pipe(
          Effect.map((bytes) => decodeRecordTimestamp(bytes.toString("utf8"))),
          Effect.orElseSucceed(() => undefined),
        )
      : undefined
  const contents = classifyBackupDir(
    { entries, recordDirEntries, manifest, snapshotRecordTimestamp: recordTs?._tag === "Some" ? recordTs.value.timestamp : undefined },
    names,
  )
  const lock: RunLockState = ownLock ?? (recordDir === undefined ? { _tag: "Free" } : yield* inspectRunLock(backupDirLockPath(path, dir)))
  let deadRun = lock._tag === "Stale" && lock.owner !== undefined
  for (const e of recordDirEntries ?? []) {
    const pid = runLockTempPid(e.name)
    if (deadRun || pid === undefined || e.type !== "File") continue
    deadRun = (yield* Effect.promise(() => ownerLiveness({ pid, startTicks: null, host: hostname(), command: "", startedAt: "" }))) === "gone"
  }
  const ages = new Map<string, Age>()
  for (const g of contents.groups) ages.set(itemKey.group(g), yield* ageOf(dir, g.files, names, now))
  for (const l of contents.leftovers) ages.set(itemKey.leftover(l.path), yield* ageOf(dir, [l.path], names, now))
  ages.set(itemKey.rest, yield* ageOf(dir, contents.internals, names, now))
  const newestAt = rel === "" ? undefined : (yield* ageOf(dir, [""], names, now)).newestAt
  const location: Location = { dir, rel, subdirectory: rel !== "", contents, lock, deadRun, newestAt, ages }
  return { location, entries }
})

/** The pruned directory and each subdirectory (not hidden, not a link) that holds anything of this project's. */
const scanAll = Effect.fnUntraced(function* (root: string, ownLock: RunLockState | undefined, now: number) {
  const top = yield* scanLocation(root, "", ownLock, now)
  const locations: Array<Location> = [top.location]
  for (const entry of top.entries) {
    if (entry.type !== "Directory" || entry.name.startsWith(".")) continue
    const { location } = yield* scanLocation(root, entry.name, undefined, now)
    const c = location.contents
    if (c.groups.length > 0 || c.leftovers.length > 0 || c.internals.length > 0 || c.hasRecordDir) locations.push(location)
  }
  return locations
})

const groupId = (location: Location, group: BackupGroup) =>
  !location.subdirectory ? group.timestamp : location.contents.groups.length === 1 ? `${location.rel}/` : `${location.rel}/${group.timestamp}`

const heldBy = (location: Location, lockPath: string) =>
  location.lock._tag === "Held"
    ? `a live run holds ${lockPath}: ${location.lock.owner.command} (PID ${location.lock.owner.pid} on ${location.lock.owner.host}, started ${location.lock.owner.startedAt})`
    : ""

interface Work {
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
const plan = (locations: ReadonlyArray<Location>, policy: RetentionPolicy, now: number, grace: LeftoverGrace, path: Path.Path) => {
  const units: Array<BackupUnit> = []
  const held: Array<{ unit: BackupUnit; reason: string }> = []
  const groups = new Map<string, BackupGroup>()
  const leftovers: Array<LeftoverOutcome> = []
  /** Unverified backups in a subdirectory that may be a copy in progress: retention may not remove them (yet). */
  const young = new Map<string, string>()
  const pending: Array<{ location: Location; incomplete: Array<BackupGroup>; leftovers: Array<Leftover>; whole: RemovalVerdict }> = []
  for (const location of locations) {
    const live = heldBy(location, backupDirLockPath(path, location.dir))
    const c = location.contents
    const deadRun = location.deadRun
    const verdict = (key: string): RemovalVerdict => {
      const age = location.ages.get(key) ?? { newestAt: now, holdsFiles: true }
      return removalVerdict({ newestAt: location.newestAt ?? age.newestAt, holdsFiles: age.holdsFiles, deadRun }, now, grace.ms, grace.text)
    }
    const outcome = (v: RemovalVerdict) => (live !== "" ? { removed: false, reason: live } : v._tag === "Keep" ? { removed: false, reason: v.reason } : { removed: true, reason: "" })
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
      const unit: BackupUnit = { id, timestamp: group.timestamp, at: parseBackupTimestamp(group.timestamp).getTime(), bytes: group.bytes, verified: group.status === "verified" }
      if (live !== "") held.push({ unit, reason: live })
      else units.push(unit)
      // OpenShift's own backups lie unverified side by side in the pruned directory: only a subdirectory is judged as a possible copy.
      if (location.subdirectory && !unit.verified) {
        const v = verdict(itemKey.group(group))
        verdicts.push(v)
        if (v._tag === "Keep") young.set(id, v.reason)
      }
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
      leftovers.push({ path: `${location.rel}/`, bytes: 0, what: "a backup directory with no backup left in it (a run or a prune was interrupted there)", ...outcome(whole) })
    }
    leftovers.push(...incompleteOutcomes, ...leftoverOutcomes)
    if (live === "") pending.push({ location, incomplete, leftovers: going, whole })
  }
  const retention = decideRetention(units, policy, now)
  const removing = new Set(retention.remove.filter((r) => !young.has(r.unit.id)).map((r) => r.unit.id))
  const note = (id: string) => {
    const g = groups.get(id)!
    return g.status === "unverified" ? ` [unverified: ${g.detail}]` : ""
  }
  const work: Array<Work> = pending.map(({ location, incomplete, leftovers: going, whole }) => {
    const removed = [...incomplete, ...location.contents.groups.filter((g) => removing.has(groupId(location, g)))]
    const emptied = location.subdirectory && removed.length === location.contents.groups.length && whole._tag === "Remove"
    return { location, groups: removed, leftovers: going, emptied }
  })
  const spared = retention.remove.filter((r) => young.has(r.unit.id))
  const decision: PruneDecision = {
    keep: [
      ...[...retention.keep, ...held].map((k) => ({ unit: k.unit, reason: k.reason + note(k.unit.id) })),
      ...spared.map((r) => ({ unit: r.unit, reason: `${young.get(r.unit.id)!} (retention lets it go: ${r.reason}${note(r.unit.id)})` })),
    ],
    remove: retention.remove.filter((r) => removing.has(r.unit.id)).map((r) => ({ unit: r.unit, reason: r.reason + note(r.unit.id) })),
    leftovers,
    // What the run will find it must leave (the real run reports what it did leave).
    left: work.flatMap(({ location, emptied }) =>
      emptied && location.contents.foreign.length > 0 ? [{ path: `${location.rel}/`, reason: keptForeign(location.contents.foreign) }] : [],
    ),
  }
  return { decision, work }
}

const keptForeign = (foreign: ReadonlyArray<string>) =>
  `no backup is left in it, but it holds files prune does not own${foreign.length > 0 ? ` (${foreign.join(", ")})` : " (added meanwhile)"}: kept them and the directory`

/** Removes `target` (a file, or a tree when `tree`); already gone is fine. */
const removeEntry = Effect.fnUntraced(function* (target: string, tree: boolean) {
  const fs = yield* FileSystem.FileSystem
  yield* fs.remove(target, { recursive: tree, force: true }).pipe(Effect.mapError(fsError(target, "remove")))
})

/** Removes `dir` if it is empty (rmdir: atomic, so what appears in it meanwhile is never removed); false when something is in it. */
const removeEmptyDir = (dir: string) =>
  Effect.tryPromise({
    try: () => rmdir(dir).then(() => true),
    catch: (e) => e as NodeJS.ErrnoException,
  }).pipe(
    Effect.catch((e) =>
      e.code === "ENOTEMPTY" || e.code === "EEXIST" ? Effect.succeed(false) : e.code === "ENOENT" ? Effect.succeed(true) : Effect.fail(fsError(dir, "remove")(e)),
    ),
  )

/**
 * Applies a location's share of the plan, holding the location's lock (the pruned directory's is
 * already held). Returns what it had to leave in place, and whether a live run took the lock
 * since the scan (then nothing was changed there).
 */
const applyToLocation = Effect.fnUntraced(function* (work: Work) {
  const path = yield* Path.Path
  const names = ownNames(path)
  const { location, groups, leftovers, emptied } = work
  const at = (rel: string) => path.join(location.dir, rel)
  const c = location.contents
  if (groups.length === 0 && leftovers.length === 0 && !emptied) return { left: [] as Array<LeftInPlace>, taken: false }
  const lockPath = backupDirLockPath(path, location.dir)
  const locking = location.subdirectory && c.hasRecordDir
  if (locking) {
    const taken = yield* acquireRunLock(lockPath, "prune").pipe(Effect.result)
    if (Result.isFailure(taken)) {
      if (taken.failure._tag === "RunLockHeld") return { left: [{ path: `${location.rel}/`, reason: `nothing removed: ${taken.failure.message}` }], taken: true }
      return yield* new PruneFailed({ path: lockPath, message: taken.failure.message })
    }
  }
  for (const g of groups) for (const f of g.files) yield* removeEntry(at(f), false)
  for (const l of leftovers) yield* removeEntry(at(l.path), l.tree)
  if (!emptied) return { left: [], taken: false }
  // No backup is left in the subdirectory: its own records go (our lock last), then the directory if nothing else is in it.
  // Once the record directory is gone nothing says the subdirectory was ours: the pruned directory's record says it until it is gone.
  const marker = removingMarkerPath(path, path.dirname(location.dir))
  const fs = yield* FileSystem.FileSystem
  yield* fs.writeFileString(marker, JSON.stringify({ subdirectory: location.rel })).pipe(Effect.mapError(fsError(marker, "write")))
  for (const f of c.internals) yield* removeEntry(at(f), false)
  if (locking) yield* removeEntry(lockPath, false)
  const left: Array<LeftInPlace> = []
  if (c.hasRecordDir) yield* removeEmptyDir(at(names.recordDir))
  if (!(yield* removeEmptyDir(location.dir))) {
    left.push({ path: `${location.rel}/`, reason: keptForeign(c.foreign) })
  }
  yield* removeEntry(marker, false)
  return { left, taken: false }
})

/** `<dir>/.cluster-backup/prune-removing.json`: the subdirectory prune is emptying, while it removes the subdirectory's own record directory and then the subdirectory. */
const removingMarkerPath = (path: Path.Path, root: string) => path.join(root, recordDirName, "prune-removing.json")

const decodeRemoving = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ subdirectory: Schema.String })))

/** Finishes the emptying of a subdirectory a killed prune had begun: the directory goes if it is still empty (rmdir: never what appeared in it since). */
const finishRemoving = Effect.fnUntraced(function* (root: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const marker = removingMarkerPath(path, root)
  const text = yield* fs.readFileString(marker).pipe(Effect.option)
  if (text._tag === "None") return
  const named = decodeRemoving(text.value)
  if (named._tag === "Some" && /^[^/\0]+$/.test(named.value.subdirectory) && !named.value.subdirectory.startsWith(".")) {
    const dir = path.join(root, named.value.subdirectory)
    const info = yield* fs.lstat(dir).pipe(Effect.option)
    if (info._tag === "Some" && info.value.type === "Directory" && (yield* removeEmptyDir(dir))) {
      yield* Effect.logInfo(`removed ${named.value.subdirectory}/: the empty backup directory an interrupted prune was removing`)
    }
  }
  yield* removeEntry(marker, false)
})

export interface PruneOptions {
  readonly dir: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly leftoverGrace: LeftoverGrace
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

/** The decision, corrected for subdirectories whose lock a live run took after the scan: nothing there was removed. */
const afterTakenLocks = (decision: PruneDecision, taken: ReadonlyArray<string>, left: ReadonlyArray<LeftInPlace>): PruneDecision => {
  const inTaken = (id: string) => taken.some((rel) => id === `${rel}/` || id.startsWith(`${rel}/`))
  const reason = "its directory's lock was taken by a live run meanwhile"
  return {
    keep: [...decision.keep, ...decision.remove.filter((r) => inTaken(r.unit.id)).map((r) => ({ unit: r.unit, reason }))],
    remove: decision.remove.filter((r) => !inTaken(r.unit.id)),
    leftovers: decision.leftovers.map((l) => (l.removed && inTaken(l.path) ? { ...l, removed: false, reason } : l)),
    left,
  }
}

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
  if (info.type !== "Directory") return yield* new PruneFailed({ path: options.dir, message: `${options.dir} is not a directory: give the directory that holds the backups` })

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
      const locations = yield* scanAll(options.dir, ownLock, now)
      const { decision, work } = plan(locations, options.policy, now, options.leftoverGrace, path)
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
