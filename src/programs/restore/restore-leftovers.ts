/**
 * What a killed restore leaves, and the lock that tells whether a restore is still running.
 *
 * - `/etc/kubernetes/.cluster-backup-extract-*`: the extraction's staging directory, holding the
 *   decoded keys and certificates of the tarball. A copy of the backup's content: the next
 *   restore removes it (`sweepLeftovers`), under the lock, so never while a live restore
 *   extracts into it.
 * - `/var/lib/etcd/restore-<uuid>`: etcdutl's output of a restore killed before install-member.
 *   Not removed: the plan moves it into the kept-data directory (`findPartialRestores` feeds the
 *   plan's `set-aside-partial-restores` step).
 * - `/var/lib/etcd-backup/snapshot.db*`: the snapshot's copy. Kept (a record of what was
 *   restored); a rerun restores from it instead of copying again (`findSnapshotCopy`).
 * - `.cluster-backup-part-*` and `.cluster-backup-trash-*` in `/var/lib/etcd` and
 *   `/var/lib/etcd-backup`: a move off a dedicated etcd disk killed half-way
 *   (`src/services/cross-device-move.ts`). Neither is ever the only copy of anything: the next
 *   restore removes them (`sweepLeftovers`), under the lock.
 * - `/var/lib/etcd-backup/.restored-member.json.part` and `.stood-down.json.part`: a record of the
 *   restored member or of a stand-down, killed while written (its step writes it again); removed by
 *   the next run.
 * - `.cluster-backup-removing-*` in the directories that hold what a recovery kept: what a killed
 *   `prune-host` was removing, renamed out of its kept name first; removed by the next run.
 *
 * The lock, `/etc/kubernetes/.cluster-backup-restore.lock` under the root, is held for the whole
 * of a real run (`src/services/run-lock.ts`).
 */
import { posix } from "node:path"
import { Effect, Schema } from "effect"
import { keptDirectories, removingPrefix } from "../../domain/kept-on-host.ts"
import { hostLayout, isSnapshotCopyName, partialRestoreId } from "../../domain/host-layout.ts"
import { movePartPrefix, moveTrashPrefix } from "../../services/cross-device-move.ts"
import { DurableFiles, replacingPartOf } from "../../services/durable-files.ts"
import { acquireRunLock } from "../../services/run-lock.ts"
import { digestFile } from "../verify/verify-file-digest.ts"

const copyDigests = new Map<string, string>()

/**
 * A copy of the backup's snapshot that an interrupted restore left in the kept-data directory
 * under `root` (a regular file named as `copy-snapshot` names it, with the manifest's size and
 * sha256), as a host path without the root; undefined when there is none. The copy is written via
 * `.part` and renamed, so one under its final name is whole; the sha256 proves it is this backup's.
 * Hashing is done once per file and process (the real run plans twice).
 */
export const findSnapshotCopy = (root: string, expected: { readonly size: number; readonly sha256: string }) =>
  Effect.gen(function* () {
    const keptDir = posix.join(root, hostLayout.keptDataDir)
    for (const name of (yield* list(keptDir)).filter(isSnapshotCopyName).sort()) {
      const path = posix.join(keptDir, name)
      const info = yield* DurableFiles.use((files) => files.lstat(path)).pipe(Effect.mapError(failure))
      if (info === undefined || !info.isFile() || info.size !== expected.size) continue
      const key = `${path}:${info.ino}:${info.size}:${info.mtimeMs}`
      const sha256 =
        copyDigests.get(key) ??
        (yield* digestFile(path, expected.size).pipe(
          Effect.map((d) => d.sha256),
          Effect.orElseSucceed(() => ""),
        ))
      copyDigests.set(key, sha256)
      if (sha256 === expected.sha256) return posix.join(hostLayout.keptDataDir, name)
    }
    return undefined
  })

/** The extraction's staging directories are `mkdtemp(<target>/.cluster-backup-extract-)`. */
export const extractStagingPrefix = ".cluster-backup-extract-"

/** The restore lock of a host root. */
export const restoreLockPath = (root: string) => posix.join(root, hostLayout.configDir, ".cluster-backup-restore.lock")

export class RestoreLeftoverError extends Schema.TaggedError<RestoreLeftoverError>()("RestoreLeftoverError", {
  path: Schema.String,
  message: Schema.String,
}) {}

const failure = (e: { readonly path: string; readonly message: string }) => new RestoreLeftoverError({ path: e.path, message: e.message })

/** The names in the host directory `dir`; none where it is missing or no directory. */
export const namesIn = (dir: string) =>
  DurableFiles.use((files) => files.readDirectory(dir)).pipe(
    Effect.catchIf(
      (e) => e.code === "ENOENT" || e.code === "ENOTDIR",
      () => Effect.succeed<ReadonlyArray<string>>([]),
    ),
  )

const list = (dir: string) =>
  namesIn(dir).pipe(
    Effect.map((names) => [...names]),
    Effect.mapError(failure),
  )

const isDirectory = (path: string) =>
  DurableFiles.use((files) => files.lstat(path)).pipe(
    Effect.map((s) => s?.isDirectory() === true),
    Effect.orElseSucceed(() => false),
  )

/** Ids of the `restore-<uuid>` directories in etcd's data directory under `root` (links and files of that name are not ours). */
export const findPartialRestores = (root: string) =>
  Effect.gen(function* () {
    const dataDir = posix.join(root, hostLayout.dataDir)
    const ids: Array<string> = []
    for (const name of yield* list(dataDir)) {
      const id = partialRestoreId(name)
      if (id !== undefined && (yield* isDirectory(posix.join(dataDir, name)))) ids.push(id)
    }
    return ids.sort()
  })

/** Something a killed restore left that the next one removes: its path and what it is. */
export interface Leftover {
  readonly path: string
  readonly what: string
  /** Only space: a run goes on when it cannot be removed (it says so) rather than fail for it. */
  readonly onlySpace?: true
}

/** What the sweep did with a leftover: removed, or (only space) left, and why. */
export interface SweptLeftover extends Leftover {
  readonly notRemoved?: string
}

/** A swept leftover as the runs print it. */
export const renderSwept = (l: SweptLeftover): string =>
  l.notRemoved === undefined ? `removed  ${l.path}: ${l.what}` : `left     ${l.path}: ${l.what}; it could not be removed (${l.notRemoved}): remove it by hand`

const leftoverKinds: ReadonlyArray<{
  readonly dir: string
  readonly prefix: string
  readonly directoriesOnly: boolean
  readonly what: string
  readonly onlySpace?: true
}> = [
  {
    dir: hostLayout.configDir,
    prefix: extractStagingPrefix,
    directoriesOnly: true,
    what: "the extraction staging directory of a killed restore (decoded keys)",
  },
  ...[hostLayout.dataDir, hostLayout.keptDataDir].flatMap((dir) => [
    {
      dir,
      prefix: movePartPrefix,
      directoriesOnly: false,
      what: "the partial copy of a move off etcd's disk that a killed restore left (the original was still in place)",
    },
    {
      dir,
      prefix: moveTrashPrefix,
      directoriesOnly: false,
      what: "the original of a move off etcd's disk that a killed restore had already copied in full",
    },
  ]),
  ...[hostLayout.restoredMemberRecord, hostLayout.stoodDownRecord].map((record) => ({
    dir: hostLayout.keptDataDir,
    prefix: posix.basename(replacingPartOf(record)),
    directoriesOnly: false,
    what: `the partial ${posix.basename(record)} that a killed run left (the record is written again)`,
  })),
  ...keptDirectories.map((dir) => ({
    dir,
    prefix: removingPrefix,
    directoriesOnly: false,
    what: "what a killed prune-host was removing (already out of its kept name)",
    // Never the only copy of anything a run needs: one that cannot be removed must not block a restore.
    onlySpace: true as const,
  })),
]

/** What killed restores left under `root` (changes nothing). */
export const findLeftovers = (root: string) =>
  Effect.gen(function* () {
    const found: Array<Leftover> = []
    for (const kind of leftoverKinds) {
      const dir = posix.join(root, kind.dir)
      for (const name of (yield* list(dir)).sort()) {
        const path = posix.join(dir, name)
        if (name.startsWith(kind.prefix) && (!kind.directoriesOnly || (yield* isDirectory(path))))
          found.push({ path, what: kind.what, ...(kind.onlySpace === undefined ? {} : { onlySpace: kind.onlySpace }) })
      }
    }
    return found
  })

/**
 * Removes what killed restores left under `root` and returns it; a leftover that is only space and cannot be
 * removed is returned with why. Only call it while holding the restore lock.
 */
export const sweepLeftovers = (root: string) =>
  Effect.gen(function* () {
    const swept: Array<SweptLeftover> = []
    for (const leftover of yield* findLeftovers(root)) {
      const removed = yield* Effect.result(DurableFiles.use((files) => files.removeTree(leftover.path)))
      if (removed._tag === "Success") swept.push(leftover)
      else if (leftover.onlySpace === true) swept.push({ ...leftover, notRemoved: removed.failure.message })
      else return yield* failure(removed.failure)
    }
    return swept
  })

/**
 * For the host-side runs but the restore (whose sweep also runs at its end): takes the host's restore lock for the
 * enclosing scope, then removes what killed runs left, saying so through `line`.
 */
export const holdHostLock = (root: string, command: string, line: (text: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const lock = yield* acquireRunLock(restoreLockPath(root), command)
    if (lock.replaced._tag === "Stale") yield* line(`A run on this host was killed (its lock ${restoreLockPath(root)} was left): sweeping what it left.`)
    for (const l of yield* sweepLeftovers(root)) yield* line(renderSwept(l))
  })
