/**
 * What prune sees, changing nothing: each directory that can hold backups (the pruned directory
 * and its subdirectories), its contents classified, its lock, and the age of everything prune
 * could remove without a manifest's word.
 */
import { hostname } from "node:os"
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { BackupTimestamp, manifestFileName } from "../../domain/archive-names.ts"
import {
  type BackupDirNames,
  type BackupGroup,
  classifyBackupDir,
  type DirContents,
  type DirEntry,
  type ManifestClaim,
} from "../../domain/backup-dir-contents.ts"
import { runLockTempPid } from "../../domain/backup-leftovers.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { verificationFileName } from "../../domain/verification-file.ts"
import { operandNames } from "../../domain/operands.ts"
import { contentBytes } from "../../domain/tree-measure.ts"
import { readBackupFileBytes } from "../../services/backup-file.ts"
import { errnoCode } from "../../services/file-system-error.ts"
import { inspectRunLock, ownerLiveness, type RunLockState } from "../../services/run-lock.ts"
import { treeEntryOfInfo, treeSize } from "../../services/tree-size.ts"
import { backupDirLockFileName, backupDirLockPath } from "../backup-dir/backup-dir-lock.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"
import { maxManifestBytes } from "../../domain/backup-manifest.ts"
import { localManifestTrust } from "../backup-dir/manifest-authenticity.ts"
import type { ManifestTrust, TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { recordDirName, snapshotRecordFileName } from "../backup-dir/snapshot-record.ts"
import { resourcesRecordPath, stagingDir } from "../backup-dir/staging-area.ts"
import { fsError } from "./prune-failed.ts"

/** One directory that can hold backups: the pruned directory itself, or one of its subdirectories. */
export interface Location {
  readonly dir: string
  /** Relative path shown in the report ("" for the pruned directory). */
  readonly rel: string
  readonly subdirectory: boolean
  readonly contents: DirContents
  readonly lock: RunLockState
  /** The lock's temporary files (in the record directory) named by a process that is gone. */
  readonly deadLockTemps: ReadonlyArray<string>
  /** For a subdirectory, the newest mtime of anything in it (itself included): it is judged whole. */
  readonly newestAt: number | undefined
  /** The age of each thing prune could remove without a manifest's word, by `itemKey`. */
  readonly ages: ReadonlyMap<string, Age>
  /** With trusted keys, whether one of them signed the manifest (the backup it describes); undefined without keys or such a manifest. */
  readonly manifestTrust: ManifestTrust | undefined
}

/**
 * A run of this project certainly died in `location`: its lock names a process that is gone, or a
 * temporary file of the lock names one (a run killed while it took or replaced the lock).
 */
export const diedThere = (location: Location) => (location.lock._tag === "Stale" && location.lock.owner !== undefined) || location.deadLockTemps.length > 0

/** The newest mtime (epoch ms) of a set of paths and everything under them, and whether any is not a directory. */
export interface Age {
  readonly newestAt: number
  readonly holdsFiles: boolean
}

export const itemKey = {
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

export const ownNames = (path: Path.Path): BackupDirNames => ({
  recordDir: recordDirName,
  manifest: manifestFileName,
  manifestCompanions: [signatureFileName, verificationFileName],
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
const treeBytes = (dir: string): Effect.Effect<number, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* treeSize(
      dir,
      {
        lstat: (p) =>
          fs.lstat(p).pipe(
            Effect.map(treeEntryOfInfo),
            Effect.orElseSucceed(() => undefined),
          ),
        readDirectory: (p) => fs.readDirectory(p).pipe(Effect.orElseSucceed(() => [])),
      },
      contentBytes,
      { hardLinks: "each" },
    )
  })

const decodeRecordTimestamp = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ timestamp: BackupTimestamp })))

/**
 * Lists and classifies one directory and measures the age of what it could remove; its lock is
 * inspected (unless it is prune's own: then `ownLock` is what the lock said before prune took it),
 * never changed.
 */
const scanLocation = Effect.fnUntraced(function* (
  root: string,
  rel: string,
  ownLock: RunLockState | undefined,
  now: number,
  trustedKeys: ReadonlyArray<TrustedKey>,
) {
  const path = yield* Path.Path
  const names = ownNames(path)
  const dir = rel === "" ? root : path.join(root, rel)
  const entries = yield* listEntries(dir, false)
  const recordDir = entries.find((e) => e.name === names.recordDir && e.type === "Directory")
  const recordDirEntries = recordDir === undefined ? undefined : yield* listEntries(path.join(dir, names.recordDir), true)

  const manifestEntry = entries.find((e) => e.name === names.manifest && e.type === "File")
  const manifestPath = path.join(dir, names.manifest)
  // Read once: the signature is checked over the very bytes decoded.
  const manifestRead =
    manifestEntry === undefined
      ? undefined
      : yield* readBackupFileBytes(manifestPath, maxManifestBytes).pipe(
          Effect.flatMap((bytes) => Effect.map(Effect.fromResult(decodeBackupManifestBytes(bytes, manifestPath)), (m) => ({ m, bytes }))),
          Effect.result,
        )
  const manifest: ManifestClaim =
    manifestRead === undefined
      ? { _tag: "Absent" }
      : Result.isFailure(manifestRead)
        ? { _tag: "Invalid", problem: manifestRead.failure.message }
        : {
            _tag: "Describes",
            timestamp: manifestRead.success.m.timestamp,
            snapshot: manifestRead.success.m.files.snapshot,
            resources: manifestRead.success.m.files.resources,
          }
  const manifestTrust =
    trustedKeys.length === 0 || manifestRead === undefined || Result.isFailure(manifestRead)
      ? undefined
      : yield* localManifestTrust(dir, manifestRead.success.bytes, trustedKeys).pipe(
          Effect.catch((e) => Effect.succeed<ManifestTrust>({ trusted: false, why: `its signature file cannot be read: ${e.message}` })),
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
  const deadLockTemps: Array<string> = []
  for (const e of recordDirEntries ?? []) {
    const pid = runLockTempPid(e.name)
    if (pid === undefined || e.type !== "File") continue
    if ((yield* Effect.promise(() => ownerLiveness({ pid, startTicks: null, host: hostname(), command: "", startedAt: "" }))) === "gone")
      deadLockTemps.push(path.join(names.recordDir, e.name))
  }
  const ages = new Map<string, Age>()
  for (const g of contents.groups) ages.set(itemKey.group(g), yield* ageOf(dir, g.files, names, now))
  for (const l of contents.leftovers) ages.set(itemKey.leftover(l.path), yield* ageOf(dir, [l.path], names, now))
  ages.set(itemKey.rest, yield* ageOf(dir, contents.internals, names, now))
  const newestAt = rel === "" ? undefined : (yield* ageOf(dir, [""], names, now)).newestAt
  const location: Location = { dir, rel, subdirectory: rel !== "", contents, lock, deadLockTemps, newestAt, ages, manifestTrust }
  return { location, entries }
})

/** The pruned directory and each subdirectory (not hidden, not a link) that holds anything of this project's. */
export const scanAll = Effect.fnUntraced(function* (root: string, ownLock: RunLockState | undefined, now: number, trustedKeys: ReadonlyArray<TrustedKey> = []) {
  const top = yield* scanLocation(root, "", ownLock, now, trustedKeys)
  const locations: Array<Location> = [top.location]
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  for (const entry of top.entries) {
    if (entry.type !== "Directory" || entry.name.startsWith(".")) continue
    // A subdirectory this user cannot read (a volume root's lost+found) holds nothing prune can judge: it is left as it is.
    const refused = yield* fs.readDirectory(path.join(root, entry.name)).pipe(
      Effect.match({
        onSuccess: () => undefined,
        onFailure: (e) => {
          const code = errnoCode(e)
          return code === "EACCES" || code === "EPERM" ? code : undefined
        },
      }),
    )
    if (refused !== undefined) {
      yield* Effect.logWarning(`cannot read ${path.join(root, entry.name)} (${refused}): left as it is, as nothing in it can be judged`)
      continue
    }
    const { location } = yield* scanLocation(root, entry.name, undefined, now, trustedKeys)
    const c = location.contents
    if (c.groups.length > 0 || c.leftovers.length > 0 || c.internals.length > 0 || c.hasRecordDir) locations.push(location)
  }
  return locations
})
