/**
 * Everything the restore plan is computed from, gathered from the host without changing it: the
 * backup (newest, or `--timestamp`) and its manifest, the member name and node IP, the revision
 * bump from `/var/lib/etcd/revision.json` (or, when an earlier restore moved it, the kept copies), what the installed etcdutl supports, and which of the
 * paths the plan depends on exist. Every host path is read under `root`.
 */
import { hostname } from "node:os"
import { isIP } from "node:net"
import { posix, resolve } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { pathInside } from "../../domain/path-inside.ts"
import { manifestFileName, type BackupTimestamp } from "../../domain/archive-names.ts"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { hostLayout, isKeptRevisionJsonName, pathsToObserve } from "../../domain/host-layout.ts"
import { planRestore, type RestorePlan } from "../../domain/restore-plan.ts"
import { decodeRestorePlanInput, type RestorePlanInput } from "../../domain/restore-plan-input.ts"
import { revisionBumpFrom, type KeptRevisionJson } from "../../domain/revision-bump.ts"
import { checkRegularFile } from "../../services/backup-file.ts"
import { DurableFiles, ownedWithMode } from "../../services/durable-files.ts"
import { Etcdutl } from "../../services/etcdutl.ts"
import { describeFileSystemFailure, errnoCode } from "../../services/file-system-error.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { findPartialRestores, findSnapshotCopy } from "./restore-leftovers.ts"
import { bytesOnDisk, bytesToCopy, existingAncestor, fileSystemOf, lstatOrUndefined } from "./restore-preconditions.ts"
import { backupDirsBelow, backupsBelowHint } from "../backup-dir/backups-below.ts"
import { holdsNoBackupFiles, selectBackup, type SelectedBackup } from "../verify/verify-selection.ts"
import { treeFootprint } from "../../domain/tree-footprint.ts"

export class RestoreInputInvalid extends Schema.TaggedError<RestoreInputInvalid>()("RestoreInputInvalid", {
  what: Schema.String,
  message: Schema.String,
}) {}

export interface RestoreInputOptions {
  /** The backup directory as this process sees it; it must be inside `root`. */
  readonly backupDir: string
  readonly root: string
  readonly timestamp?: BackupTimestamp | undefined
  readonly memberName?: string | undefined
  readonly nodeIp?: string | undefined
  readonly noBump: boolean
  /** `--keep-control-plane-running`: stop and start only etcd. */
  readonly keepControlPlaneRunning?: boolean | undefined
  readonly restoreId: string
  readonly operands?: OperandTable
}

export interface RestoreInputs {
  readonly selected: SelectedBackup
  readonly manifest: BackupManifest
  readonly input: RestorePlanInput
  readonly plan: RestorePlan
  /** The backup directory as this process sees it (resolved). */
  readonly backupDir: string
}

/** OpenShift's `etcd.env` (sourced by its restore scripts): `export NODE_<name>_IP="..."`, `<name>` the node name with `-` and `.` as `_`. */
export const etcdEnvPath = "/etc/kubernetes/static-pod-resources/etcd-certs/configmaps/etcd-scripts/etcd.env"

/** The node IP `etcd.env` records for `memberName`, if any. */
export const nodeIpFromEtcdEnv = (text: string, memberName: string): string | undefined => {
  const variable = `NODE_${memberName.replaceAll(/[-.]/g, "_")}_IP`
  for (const line of text.split("\n")) {
    const m = /^\s*(?:export\s+)?([A-Za-z0-9_]+)=(["']?)([^"'\s]*)\2\s*$/.exec(line)
    if (m !== null && m[1] === variable && isIP(m[3]!) !== 0) return m[3]
  }
  return undefined
}

const invalid = (what: string, message: string) => new RestoreInputInvalid({ what, message })

const attempt = <A, E>(operation: string, path: string, run: (fs: FileSystem.FileSystem) => Effect.Effect<A, E>) =>
  FileSystem.FileSystem.use(run).pipe(Effect.mapError((e) => invalid(`${operation} ${path}`, describeFileSystemFailure(operation, path, e).message)))

const readOptional = (path: string) =>
  attempt("read", path, (fs) =>
    fs.readFileString(path).pipe(
      Effect.catchIf(
        (e) => errnoCode(e) === "ENOENT",
        () => Effect.succeed(undefined),
      ),
    ),
  )

/** The revision.json copies earlier restores moved into the kept-data directory under `root` (regular files only), as host paths with their content. */
const keptRevisionJsons = (root: string) =>
  Effect.gen(function* () {
    const keptDir = posix.join(root, hostLayout.keptDataDir)
    const names = yield* attempt("read the kept-data directory", keptDir, (fs) =>
      fs.readDirectory(keptDir).pipe(
        Effect.catchIf(
          (e) => errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR",
          () => Effect.succeed<ReadonlyArray<string>>([]),
        ),
      ),
    )
    const kept: Array<KeptRevisionJson> = []
    for (const name of names.filter(isKeptRevisionJsonName).sort()) {
      const path = posix.join(keptDir, name)
      if ((yield* lstatOrUndefined(path).pipe(Effect.mapError((e) => invalid("host", e.message))))?.isFile() !== true) continue
      const text = yield* readOptional(path)
      if (text !== undefined) kept.push({ path: posix.join(hostLayout.keptDataDir, name), text })
    }
    return kept
  })

/**
 * `--root` as a real path, refused unless it is a directory holding `/etc/kubernetes`: without it (in `oc debug node`,
 * the debug container's own `/`), it is no control-plane host's root, and every check would say only that some file
 * is missing.
 */
export const resolveRoot = (rootOption: string) =>
  Effect.gen(function* () {
    const root = yield* attempt("resolve --root", rootOption, (fs) => fs.realPath(resolve(rootOption)))
    if ((yield* attempt("inspect --root", root, (fs) => fs.stat(root))).type !== "Directory")
      return yield* invalid("root", `--root ${rootOption} is not a directory`)
    const configDir = posix.join(root, hostLayout.configDir)
    const config = yield* attempt("inspect", configDir, (fs) =>
      fs.stat(configDir).pipe(
        Effect.catchIf(
          (e) => errnoCode(e) === "ENOENT",
          () => Effect.succeed(undefined),
        ),
      ),
    )
    if (config?.type !== "Directory")
      return yield* invalid(
        "root",
        `--root ${rootOption} is not a control-plane host's root: ${configDir} ${config === undefined ? "does not exist" : "is not a directory"}; --root must be the host's / (from oc debug node: --root /host)`,
      )
    return root
  })

/**
 * What a plan needs to know of the host under `root`: the output directories interrupted restores
 * left in etcd's data directory, which of the paths the plan observes exist (`paths`, given those),
 * and, where etcd's data directory is a disk of its own, the sizes of what is moved off it.
 */
export const observeHost = (root: string, paths: (partialRestores: ReadonlyArray<string>) => ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const host = (path: string) => posix.join(root, path)
    const partialRestores = yield* findPartialRestores(root).pipe(Effect.mapError((e) => invalid("host", e.message)))
    const existing: Array<string> = []
    for (const path of paths(partialRestores)) {
      const found = yield* lstatOrUndefined(host(path)).pipe(Effect.mapError((e) => invalid("host", e.message)))
      if (found !== undefined) existing.push(path)
    }

    // A dedicated etcd disk: what the plan moves off it into the kept-data directory is copied, and needs room there.
    const onDevice = (path: string) => fileSystemOf(host(path)).pipe(Effect.mapError((e) => invalid("host", e.message)))
    const measured = (measure: typeof bytesOnDisk, path: string) => measure(host(path)).pipe(Effect.mapError((e) => invalid("host", e.message)))
    const partialDirs = partialRestores.map((id) => posix.join(hostLayout.dataDir, `restore-${id}`))
    const member = posix.join(hostLayout.dataDir, "member")
    const summed = (measure: typeof bytesOnDisk) =>
      Effect.map(
        Effect.forEach(partialDirs, (d) => measured(measure, d)),
        (bs) => bs.reduce((a, b) => a + b, 0),
      )
    const separateDataDisk =
      (yield* onDevice(hostLayout.dataDir)) === (yield* onDevice(hostLayout.keptDataDir))
        ? undefined
        : {
            memberBytes: yield* measured(bytesOnDisk, member),
            partialRestoresBytes: yield* summed(bytesOnDisk),
            memberCopyBytes: yield* measured(bytesToCopy, member),
            partialRestoresCopyBytes: yield* summed(bytesToCopy),
          }
    return { partialRestores, existing, separateDataDisk }
  })

/**
 * Whether copying `snapshot` into the kept-data directory will write none of its data, as `DurableFiles.copyThroughPart`
 * makes it: a reflink there (tried into the directory it will be made in, leaving nothing), or a hard link, for a
 * regular file (not a link) of this process's user, mode 0600, on the file system of the kept-data directory.
 */
const snapshotCopiesNoData = (snapshot: string, keptDataDir: string) =>
  Effect.gen(function* () {
    const info = yield* lstatOrUndefined(snapshot)
    if (info === undefined || !info.isFile()) return false
    if (ownedWithMode(info, 0o600) && info.dev === (yield* fileSystemOf(keptDataDir))) return true
    const into = yield* existingAncestor(keptDataDir)
    return yield* DurableFiles.use((files) => files.reflinks(snapshot, into))
  }).pipe(Effect.orElseSucceed(() => false))

/**
 * `<root>/<path>` when `path` is absolute, missing here and a directory there: the host's path given where this
 * process's is asked (in `oc debug node`, `/home/core/backup` for `/host/home/core/backup`).
 */
const hostPathGivenFor = (root: string, path: string) =>
  FileSystem.FileSystem.use((fs) =>
    Effect.gen(function* () {
      if (root === "/" || !posix.isAbsolute(path) || (yield* fs.exists(path))) return undefined
      const info = yield* fs.stat(posix.join(root, path))
      return info.type === "Directory" ? posix.join(root, path) : undefined
    }),
  ).pipe(Effect.orElseSucceed(() => undefined))

export const gatherRestoreInputs = Effect.fn("gatherRestoreInputs")(function* (options: RestoreInputOptions) {
  const etcdutl = yield* Etcdutl
  const table = options.operands ?? defaultOperands

  const root = yield* resolveRoot(options.root)
  const underRoot = yield* hostPathGivenFor(root, options.backupDir)
  if (underRoot !== undefined) {
    return yield* invalid(
      "backup-dir",
      `the backup directory ${options.backupDir} does not exist here, but ${underRoot} does: the backup directory is a path as this process sees it, not one on the host under --root; give ${underRoot}`,
    )
  }
  const backupDir = yield* attempt("resolve the backup directory", options.backupDir, (fs) => fs.realPath(resolve(options.backupDir)))
  const inRoot = pathInside(root, backupDir)
  if (inRoot === undefined) {
    return yield* invalid(
      "backup-dir",
      `the backup directory ${backupDir} is not inside --root ${root}: the plan names every host path under the root; put the backup under it (e.g. ${posix.join(root, "home/core/backup")})`,
    )
  }
  const hostBackupDir = posix.join("/", inRoot)
  const host = (path: string) => posix.join(root, path)

  const names = yield* attempt("read the backup directory", backupDir, (fs) => fs.readDirectory(backupDir))
  const below = holdsNoBackupFiles(names) ? backupsBelowHint(yield* backupDirsBelow(backupDir)) : ""
  const selected = yield* Effect.fromResult(selectBackup(names, options.timestamp)).pipe(
    Effect.mapError((e) => invalid("backup", `${backupDir}: ${e.message}${below}`)),
  )
  const manifestPath = posix.join(backupDir, manifestFileName)
  const manifest = yield* readBackupManifest(manifestPath, table).pipe(
    Effect.mapError((e) =>
      e._tag === "BackupFileUnreadable" && e.code === "ENOENT"
        ? invalid("manifest", `${manifestPath} is missing: without it the backup's revisions are unknown; run cluster-backup verify ${backupDir}`)
        : invalid("manifest", e._tag === "BackupManifestInvalid" ? `${manifestPath}: ${e.message}` : e.message),
    ),
  )
  // A FIFO or device in their place would hang whatever opens them (verify, etcdutl, the extraction), dry run or not.
  for (const file of [selected.snapshot, selected.resources]) {
    yield* checkRegularFile(posix.join(backupDir, file)).pipe(Effect.mapError((e) => invalid("backup", e.message)))
  }
  if (manifest.timestamp !== selected.timestamp || manifest.files.snapshot.name !== selected.snapshot || manifest.files.resources.name !== selected.resources) {
    return yield* invalid(
      "manifest",
      `${manifestPath} describes backup ${manifest.timestamp} (${manifest.files.snapshot.name}), not the selected ${selected.timestamp} (${selected.snapshot})`,
    )
  }

  const memberName = options.memberName ?? (root === "/" ? hostname() : undefined)
  if (memberName === undefined) return yield* invalid("member-name", "--member-name is required with --root (the etcd member name is this host's node name)")
  let nodeIp = options.nodeIp
  if (nodeIp === undefined) {
    const env = yield* readOptional(host(etcdEnvPath))
    nodeIp = env === undefined ? undefined : nodeIpFromEtcdEnv(env, memberName)
    if (nodeIp === undefined) {
      return yield* invalid(
        "node-ip",
        `--node-ip is required: ${host(etcdEnvPath)} ${env === undefined ? "does not exist" : `has no NODE_${memberName.replaceAll(/[-.]/g, "_")}_IP`} to derive it from`,
      )
    }
  }

  const revisionJson = yield* readOptional(host(posix.join(hostLayout.dataDir, "revision.json")))
  // The kept copies matter only without etcd's own record (and a bump).
  const kept = revisionJson === undefined && !options.noBump ? yield* keptRevisionJsons(root) : []
  const bump = revisionBumpFrom(revisionJson, kept, { noBump: options.noBump })
  const capabilities = yield* etcdutl.capabilities.pipe(Effect.mapError((e) => invalid("etcdutl", e.message)))
  const snapshotCopy = yield* findSnapshotCopy(root, manifest.files.snapshot).pipe(Effect.mapError((e) => invalid("host", e.message)))
  const { partialRestores, existing, separateDataDisk } = yield* observeHost(root, (partials) => pathsToObserve(manifest.revisions.requested, table, partials))
  const snapshotCopyLinked = snapshotCopy === undefined && (yield* snapshotCopiesNoData(posix.join(backupDir, selected.snapshot), host(hostLayout.keptDataDir)))

  const footprint = treeFootprint(manifest.entries)
  const input = yield* Effect.fromResult(
    decodeRestorePlanInput({
      root,
      backupDir: hostBackupDir,
      snapshotFile: selected.snapshot,
      resourcesFile: selected.resources,
      memberName,
      nodeIp,
      restoreId: options.restoreId,
      revisions: manifest.revisions.requested,
      bump,
      etcdutl: capabilities,
      snapshotBytes: manifest.files.snapshot.size,
      resourcesBytes: footprint.bytes,
      resourcesInodes: footprint.inodes,
      existing,
      partialRestores,
      ...(options.keepControlPlaneRunning === true ? { keepControlPlaneRunning: true } : {}),
      ...(snapshotCopy === undefined ? {} : { snapshotCopy }),
      ...(snapshotCopyLinked ? { snapshotCopyLinked } : {}),
      ...(separateDataDisk === undefined ? {} : { separateDataDisk }),
    }),
  ).pipe(Effect.mapError((e) => invalid("input", `the restore's input is invalid: ${e.message}`)))
  const plan = yield* Effect.fromResult(planRestore(input, table)).pipe(Effect.mapError((e) => invalid(e.reason, e.message)))
  return { selected, manifest, input, plan, backupDir } satisfies RestoreInputs
})
