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
 * - prune holds the lock of the directory it prunes (two prunes never race, a backup run cannot
 *   start there meanwhile) and of each subdirectory while it removes files in it;
 * - a prune killed at any point leaves only states the next prune recognises and finishes: a
 *   backup's snapshot goes first, so a half-deleted backup is incomplete remains, never a backup.
 * Only the lock tells a run in progress: a copy being written without it (`oc cp` into the
 * directory) looks like remains. Hidden subdirectories are never looked at, so copy into one
 * (`.incoming-<name>`) and rename it when complete.
 */
import { rmdir } from "node:fs/promises"
import { Clock, Effect, FileSystem, Path, Result, Schema } from "effect"
import { BackupTimestamp, manifestFileName, parseBackupTimestamp } from "../domain/archive-names.ts"
import { classifyBackupDir, type BackupDirNames, type BackupGroup, type DirContents, type DirEntry, type ManifestClaim } from "../domain/backup-dir-contents.ts"
import { operandNames } from "../domain/operands.ts"
import { decideRetention, hasRule, type BackupUnit, type RetentionDecision, type RetentionPolicy } from "../domain/retention.ts"
import { describeFileSystemFailure } from "../services/file-system-error.ts"
import { readBackupFileBytes } from "../services/backup-file.ts"
import { acquireRunLock, inspectRunLock, type RunLockState } from "../services/run-lock.ts"
import { backupDirLockFileName, backupDirLockPath } from "./backup-dir-lock.ts"
import { readBackupManifest } from "./backup-manifest-file.ts"
import { recordDirName, snapshotRecordFileName } from "./snapshot-record.ts"
import { formatBytes } from "./snapshot-progress.ts"
import { resourcesRecordPath, stagingDir } from "./staging-area.ts"

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

/** Lists and classifies one directory; its lock is inspected (unless it is prune's own), never changed. */
const scanLocation = Effect.fnUntraced(function* (root: string, rel: string, ownLock: boolean) {
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
  const lock: RunLockState = ownLock || recordDir === undefined ? { _tag: "Free" } : yield* inspectRunLock(backupDirLockPath(path, dir))
  const location: Location = { dir, rel, subdirectory: rel !== "", contents, lock }
  return { location, entries }
})

/** The pruned directory and each subdirectory (not hidden, not a link) that holds anything of this project's. */
const scanAll = Effect.fnUntraced(function* (root: string, ownLock: boolean) {
  const top = yield* scanLocation(root, "", ownLock)
  const locations: Array<Location> = [top.location]
  for (const entry of top.entries) {
    if (entry.type !== "Directory" || entry.name.startsWith(".")) continue
    const { location } = yield* scanLocation(root, entry.name, false)
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
  /** The groups to remove: those retention lets go and the incomplete ones. */
  readonly groups: ReadonlyArray<BackupGroup>
}

/** The whole decision from what the scan saw: retention on the backups, the rest on the leftovers. */
const plan = (locations: ReadonlyArray<Location>, policy: RetentionPolicy, now: number, path: Path.Path) => {
  const units: Array<BackupUnit> = []
  const held: Array<{ unit: BackupUnit; reason: string }> = []
  const groups = new Map<string, BackupGroup>()
  const leftovers: Array<LeftoverOutcome> = []
  for (const location of locations) {
    const live = heldBy(location, backupDirLockPath(path, location.dir))
    const outcome = { removed: live === "", reason: live }
    const c = location.contents
    if (location.subdirectory && c.groups.length === 0) {
      leftovers.push({ path: `${location.rel}/`, bytes: 0, what: "a backup directory with no backup left in it (a run or a prune was interrupted there)", ...outcome })
    }
    for (const group of c.groups) {
      const id = groupId(location, group)
      groups.set(id, group)
      if (group.status === "incomplete") {
        leftovers.push({ path: id, bytes: group.bytes, what: `remains of backup ${group.timestamp} (${group.detail})`, ...outcome })
        continue
      }
      const unit: BackupUnit = { id, timestamp: group.timestamp, at: parseBackupTimestamp(group.timestamp).getTime(), bytes: group.bytes, verified: group.status === "verified" }
      if (live !== "") held.push({ unit, reason: live })
      else units.push(unit)
    }
    for (const l of c.leftovers) leftovers.push({ path: location.subdirectory ? `${location.rel}/${l.path}` : l.path, bytes: l.bytes, what: l.what, ...outcome })
  }
  const retention = decideRetention(units, policy, now)
  const removing = new Set(retention.remove.map((r) => r.unit.id))
  const note = (id: string) => {
    const g = groups.get(id)!
    return g.status === "unverified" ? ` [unverified: ${g.detail}]` : ""
  }
  const work: Array<Work> = locations
    .filter((location) => location.lock._tag !== "Held")
    .map((location) => ({
      location,
      groups: location.contents.groups.filter((g) => g.status === "incomplete" || removing.has(groupId(location, g))),
    }))
  const decision: PruneDecision = {
    keep: [...retention.keep, ...held].map((k) => ({ unit: k.unit, reason: k.reason + note(k.unit.id) })),
    remove: retention.remove.map((r) => ({ unit: r.unit, reason: r.reason + note(r.unit.id) })),
    leftovers,
    // What the run will find it must leave (the real run reports what it did leave).
    left: work.flatMap(({ location, groups: going }) =>
      location.subdirectory && going.length === location.contents.groups.length && location.contents.foreign.length > 0
        ? [{ path: `${location.rel}/`, reason: keptForeign(location.contents.foreign) }]
        : [],
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
  const { location, groups } = work
  const at = (rel: string) => path.join(location.dir, rel)
  const c = location.contents
  const emptied = location.subdirectory && groups.length === c.groups.length
  if (groups.length === 0 && c.leftovers.length === 0 && !emptied) return { left: [] as Array<LeftInPlace>, taken: false }
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
  for (const l of c.leftovers) yield* removeEntry(at(l.path), l.tree)
  if (!emptied) return { left: [], taken: false }
  // No backup is left in the subdirectory: its own records go (our lock last), then the directory if nothing else is in it.
  for (const f of c.internals) yield* removeEntry(at(f), false)
  if (locking) yield* removeEntry(lockPath, false)
  const left: Array<LeftInPlace> = []
  if (c.hasRecordDir) yield* removeEmptyDir(at(names.recordDir))
  if (!(yield* removeEmptyDir(location.dir))) {
    left.push({ path: `${location.rel}/`, reason: keptForeign(c.foreign) })
  }
  return { left, taken: false }
})

export interface PruneOptions {
  readonly dir: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
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
      if (!options.dryRun) {
        // Our own lock on the whole directory, taken before looking: what we see stays ours to change.
        const recordDir = path.join(options.dir, recordDirName)
        yield* fs.makeDirectory(recordDir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fsError(recordDir, "create")))
        yield* acquireRunLock(backupDirLockPath(path, options.dir), "prune")
      }
      const locations = yield* scanAll(options.dir, !options.dryRun)
      const { decision, work } = plan(locations, options.policy, yield* Clock.currentTimeMillis, path)
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
