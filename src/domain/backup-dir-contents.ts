/**
 * What a directory that holds backups contains, as prune sees it: which files form a backup (one
 * timestamp's snapshot and resource tarball), whether a manifest vouches for it, what a killed run
 * left behind, and what is not this project's at all. Pure: the caller lists the directory.
 *
 * A backup is *verified* when `backup-manifest.json` decodes and names exactly its two files with
 * their sizes (names and sizes, not hashes: hashing multi-GiB snapshots on every prune is too slow;
 * `verify` proves the content). A directory has one manifest, so of several backups side by side
 * (OpenShift's flat layout) at most one is verified; the others are *unverified*. A timestamp with
 * only some of a backup's files (a run that died, a prune killed mid-delete) is *incomplete*: the
 * remains of a backup, not a backup.
 */
import { parseBackupFileName, type BackupTimestamp } from "./archive-names.ts"
import { backupDirectoryLeftover, manifestFilesOf, recordDirectoryLeftover, type LeftoverKind } from "./backup-leftovers.ts"

/** A directory entry; `Other` is anything prune never touches (symbolic link, FIFO, device, socket). */
export interface DirEntry {
  readonly name: string
  readonly type: "File" | "Directory" | "Other"
  /** Bytes: the file's size, or everything under a directory. */
  readonly bytes: number
}

/** The names this project writes into a backup directory (from the programs that write them). */
export interface BackupDirNames {
  /** `.cluster-backup` */
  readonly recordDir: string
  /** `backup-manifest.json` */
  readonly manifest: string
  /** `backup-manifest.json.sig` (backup-create --signing-key) and `verification.json` (verify --report-out): they go with the manifest. */
  readonly manifestCompanions: ReadonlyArray<string>
  /** `snapshot.json` (in the record directory) */
  readonly snapshotRecord: string
  /** `resources-<operand>.json` (in the record directory) */
  readonly resourcesRecords: ReadonlyArray<string>
  /** `staging`: the tree of decoded ConfigMaps and Secrets the tarball is written from (in the record directory) */
  readonly stagingTree: string
  /** `run.lock` (in the record directory) */
  readonly lockFile: string
}

/**
 * A file the manifest names; `encrypted` is the form a store holds (only a store's or a downloaded
 * manifest records it). A directory store's backup directory holds that form instead of the file.
 */
export interface DescribedFile {
  readonly name: string
  readonly size: number
  readonly encrypted?: { readonly name: string; readonly size: number } | undefined
}

/** What the manifest file says, as far as prune needs it. */
export type ManifestClaim =
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Invalid"; readonly problem: string }
  | {
      readonly _tag: "Describes"
      readonly timestamp: BackupTimestamp
      readonly snapshot: DescribedFile
      readonly resources: DescribedFile
    }

export interface DirListing {
  readonly entries: ReadonlyArray<DirEntry>
  /** The record directory's entries, when it is a directory. */
  readonly recordDirEntries: ReadonlyArray<DirEntry> | undefined
  readonly manifest: ManifestClaim
  /** The timestamp `snapshot.json` names, when it can be read. */
  readonly snapshotRecordTimestamp: BackupTimestamp | undefined
}

export type BackupStatus = "verified" | "unverified" | "incomplete"

export interface BackupGroup {
  readonly timestamp: BackupTimestamp
  readonly status: BackupStatus
  /** Why it is unverified or incomplete ("" when verified). */
  readonly detail: string
  readonly bytes: number
  /**
   * Paths relative to the directory, in the order to delete them: the snapshot first, so a
   * deletion cut short leaves an incomplete group (never a complete-looking one) for the next run.
   */
  readonly files: ReadonlyArray<string>
}

/** Something a killed or failed run of this project left: removed whatever the retention policy. */
export interface Leftover {
  readonly path: string
  readonly bytes: number
  readonly what: string
  readonly tree: boolean
}

export interface DirContents {
  readonly groups: ReadonlyArray<BackupGroup>
  readonly leftovers: ReadonlyArray<Leftover>
  /** This project's files that belong to the directory rather than to one backup (the lock, an unreadable record or manifest): removed only with the directory. */
  readonly internals: ReadonlyArray<string>
  /** Whether the record directory exists (removed last, with the directory). */
  readonly hasRecordDir: boolean
  /** Not this project's: never removed. */
  readonly foreign: ReadonlyArray<string>
}

const leftoverWhat: Readonly<Record<LeftoverKind, string>> = {
  "partial snapshot": "unfinished snapshot of an interrupted backup-init",
  "partial tarball": "unfinished resource tarball of an interrupted backup-create",
  "unfinished atomic write": "temporary file of an interrupted write",
  "revision tree being built": "decoded ConfigMaps and Secrets of an interrupted backup-resources",
  "encrypted copy of an upload": "age ciphertext of an interrupted backup-upload",
}
const lockTempOf = (lock: string, name: string) => /^\.(new|stale)-\d+-[0-9a-f]+$/.test(name.slice(lock.length)) && name.startsWith(lock)

interface Pending {
  snapshots: Array<DirEntry>
  tarballs: Array<DirEntry>
}

/** Classifies every entry of one directory (and of its record directory) exactly once. */
export const classifyBackupDir = (listing: DirListing, names: BackupDirNames): DirContents => {
  const byTimestamp = new Map<BackupTimestamp, Pending>()
  const leftovers: Array<Leftover> = []
  const internals: Array<string> = []
  const foreign: Array<string> = []
  let manifestEntry: DirEntry | undefined
  const companions: Array<DirEntry> = []
  const manifestFiles = listing.manifest._tag === "Describes" ? manifestFilesOf(listing.manifest) : []
  // The stored (age-encrypted) form of a file the manifest names, in the file's place where the file
  // itself is absent (a directory store's backup): it is that file of the backup, not a stranger.
  const plainFiles = new Set(listing.entries.filter((e) => e.type === "File").map((e) => e.name))
  const storedForms = new Map(
    listing.manifest._tag === "Describes"
      ? [listing.manifest.snapshot, listing.manifest.resources].flatMap((f) =>
          f.encrypted !== undefined && !plainFiles.has(f.name) ? [[f.encrypted.name, f.name] as const] : [],
        )
      : [],
  )

  for (const e of listing.entries) {
    if (e.name === names.recordDir) {
      if (e.type !== "Directory" || listing.recordDirEntries === undefined) foreign.push(e.name)
      continue
    }
    if (e.type !== "File") {
      foreign.push(e.name)
      continue
    }
    if (e.name === names.manifest) {
      manifestEntry = e
      continue
    }
    if (names.manifestCompanions.includes(e.name)) {
      companions.push(e)
      continue
    }
    const kind = backupDirectoryLeftover(e.name, manifestFiles)
    if (kind !== undefined) {
      leftovers.push({ path: e.name, bytes: e.bytes, what: leftoverWhat[kind], tree: false })
      continue
    }
    const parsed = parseBackupFileName(storedForms.get(e.name) ?? e.name)
    if (parsed === undefined) {
      foreign.push(e.name)
      continue
    }
    const pending = byTimestamp.get(parsed.timestamp) ?? { snapshots: [], tarballs: [] }
    ;(parsed.kind === "snapshot" ? pending.snapshots : pending.tarballs).push(e)
    byTimestamp.set(parsed.timestamp, pending)
  }

  const claim = listing.manifest
  const described = claim._tag === "Describes" && manifestEntry !== undefined ? claim : undefined
  const recordPath = `${names.recordDir}/${names.snapshotRecord}`
  let recordEntry: DirEntry | undefined

  for (const e of listing.recordDirEntries ?? []) {
    const inRecord = `${names.recordDir}/${e.name}`
    const kind = recordDirectoryLeftover(e.name)
    if (e.type === "File" && e.name === names.snapshotRecord) recordEntry = e
    else if (kind !== undefined && e.type === (kind === "revision tree being built" ? "Directory" : "File")) {
      leftovers.push({ path: inRecord, bytes: e.bytes, what: leftoverWhat[kind], tree: e.type === "Directory" })
    } else if (e.type === "File" && names.resourcesRecords.includes(e.name)) {
      // Outside a live run (prune never looks where one holds the lock) these belong to no backup in progress.
      leftovers.push({ path: inRecord, bytes: e.bytes, what: "record of a backup-resources run whose backup was finished or abandoned", tree: false })
    } else if (e.type === "Directory" && names.stagingTree === e.name) {
      leftovers.push({ path: inRecord, bytes: e.bytes, what: "decoded ConfigMaps and Secrets staged for a backup that was finished or abandoned", tree: true })
    } else if (e.type === "File" && (e.name === names.lockFile || lockTempOf(names.lockFile, e.name))) internals.push(inRecord)
    else foreign.push(inRecord)
  }

  const groups: Array<BackupGroup> = []
  for (const [timestamp, p] of [...byTimestamp].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const files = [...p.snapshots, ...p.tarballs]
    const paths = files.map((f) => f.name)
    let bytes = files.reduce((a, f) => a + f.bytes, 0)
    const ownsManifest = described !== undefined && described.timestamp === timestamp
    if (ownsManifest) {
      // Before the manifest: a deletion cut short never leaves them without the manifest they belong to.
      for (const c of companions) {
        paths.push(c.name)
        bytes += c.bytes
      }
      paths.push(names.manifest)
      bytes += manifestEntry!.bytes
    }
    if (recordEntry !== undefined && listing.snapshotRecordTimestamp === timestamp) {
      paths.push(recordPath)
      bytes += recordEntry.bytes
    }
    const complete = p.snapshots.length === 1 && p.tarballs.length === 1
    const detail = !complete
      ? p.snapshots.length === 0
        ? "its snapshot is missing"
        : p.tarballs.length === 0
          ? "its resource tarball is missing"
          : "it has more than one snapshot or resource tarball"
      : unverifiedBecause(claim, manifestEntry !== undefined, timestamp, p.snapshots[0]!, p.tarballs[0]!, names.manifest)
    groups.push({ timestamp, status: !complete ? "incomplete" : detail === "" ? "verified" : "unverified", detail, bytes, files: paths })
  }

  const grouped = (ts: BackupTimestamp | undefined) => ts !== undefined && byTimestamp.has(ts)
  if (described !== undefined && !grouped(described.timestamp)) {
    for (const c of companions) {
      leftovers.push({ path: c.name, bytes: c.bytes, what: `${c.name} of backup ${described.timestamp}, whose files are gone`, tree: false })
    }
    leftovers.push({ path: names.manifest, bytes: manifestEntry!.bytes, what: `manifest of backup ${described.timestamp}, whose files are gone`, tree: false })
  } else if (described === undefined) {
    // Beside no manifest that describes a backup (an unreadable one, or none): the directory's, removed with it.
    internals.push(...companions.map((c) => c.name))
    if (manifestEntry !== undefined) internals.push(names.manifest)
  }
  if (recordEntry !== undefined && !grouped(listing.snapshotRecordTimestamp)) {
    if (listing.snapshotRecordTimestamp !== undefined) {
      leftovers.push({
        path: recordPath,
        bytes: recordEntry.bytes,
        what: `snapshot record of backup ${listing.snapshotRecordTimestamp}, whose files are gone`,
        tree: false,
      })
    } else internals.push(recordPath)
  }

  return { groups, leftovers, internals, hasRecordDir: listing.recordDirEntries !== undefined, foreign }
}

const unverifiedBecause = (
  claim: ManifestClaim,
  present: boolean,
  timestamp: BackupTimestamp,
  snapshot: DirEntry,
  tarball: DirEntry,
  manifestName: string,
): string => {
  if (!present || claim._tag === "Absent") return `no ${manifestName} describes it`
  if (claim._tag === "Invalid") return `${manifestName} is not valid: ${claim.problem}`
  if (claim.timestamp !== timestamp) return `${manifestName} describes backup ${claim.timestamp}, not this one`
  for (const [file, described] of [
    [snapshot, claim.snapshot],
    [tarball, claim.resources],
  ] as const) {
    const want = described.encrypted !== undefined && file.name === described.encrypted.name ? described.encrypted : described
    if (file.name !== want.name) return `${manifestName} names ${want.name}, the directory holds ${file.name}`
    if (file.bytes !== want.size) return `${manifestName} gives ${want.name} ${want.size} bytes, the file has ${file.bytes}`
  }
  return ""
}

/**
 * What is known of something prune would remove although no manifest vouches for it: the remains
 * of a backup, a leftover, an unverified backup retention lets go, a subdirectory with no backup
 * left. Only a lock proves a run in progress, and a copy written without one (`oc cp` into a new
 * subdirectory, a directory store's `.part`) looks exactly like remains: its age is the only sign.
 */
export interface RemovalEvidence {
  /** The newest mtime (epoch ms) of anything in it, directories included (lstat: links not followed). */
  readonly newestAt: number
  /** Whether it holds anything but directories (removing only empty directories loses nothing). */
  readonly holdsFiles: boolean
  /** A lock there names a run of this project whose process is certainly gone. */
  readonly deadRun: boolean
}

export type RemovalVerdict =
  | { readonly _tag: "Remove"; readonly because: "a dead run's" | "old enough" | "no file" }
  | { readonly _tag: "Keep"; readonly ageMs: number; readonly reason: string }

/** "40 s", "3 min", "5 h", "2 days": how long ago, for a person. */
export const formatAge = (ms: number): string => {
  const s = Math.floor(Math.max(0, ms) / 1000)
  if (s < 120) return `${s} s`
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min`
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)} h`
  return `${Math.floor(s / 86_400)} days`
}

/**
 * Whether prune may remove it now: at once when a dead run of this project left it (its lock is
 * stale) or when it holds no file; otherwise only once nothing in it was modified for `graceMs`
 * (0: now). A modification time in the future counts as now. `grace` is how the flag reads.
 */
export const removalVerdict = (evidence: RemovalEvidence, now: number, graceMs: number, grace: string): RemovalVerdict => {
  if (evidence.deadRun) return { _tag: "Remove", because: "a dead run's" }
  if (!evidence.holdsFiles) return { _tag: "Remove", because: "no file" }
  const ageMs = Math.max(0, now - evidence.newestAt)
  if (ageMs >= graceMs) return { _tag: "Remove", because: "old enough" }
  return {
    _tag: "Keep",
    ageMs,
    reason: `kept: modified ${formatAge(ageMs)} ago, may be a copy in progress; prune removes it after ${grace} or with --leftover-grace 0`,
  }
}
