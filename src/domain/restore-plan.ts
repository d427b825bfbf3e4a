/**
 * The host-side restore of a backup, as data: the ordered steps that replace OpenShift's
 * `cluster-restore.sh` (reference doc, section 5), each with the exact paths and commands it
 * touches, what must hold before it runs, and what to do when it fails. `--dry-run` prints this
 * plan; a real run executes exactly this plan. Nothing here touches the host: the plan is a
 * function of its input, observations of the host (which paths exist) included, so re-planning
 * after a partial run continues where the last one stopped: steps already done are left out, the
 * output of an etcdutl that was killed (`restore-<uuid>`) is moved aside by a step of its own, and
 * a verified snapshot copy from an earlier attempt is restored from instead of copied again.
 * Every precondition is either checked before the first step (`isUpfront`: the backup, etcdutl,
 * space, the type of every directory the plan writes into) or right before its step.
 *
 * The first steps (the control plane and etcd stopped, etcd's data kept aside) are also the whole
 * of `planStandDown`: what the other control-plane hosts do before the restore.
 *
 * Differences from `cluster-restore.sh`, on purpose: nothing is ever deleted (an old
 * `/var/lib/etcd-backup/member` is kept and the new one gets a unique name; replaced revision
 * directories are moved aside, not overwritten; from a dedicated etcd disk a moved member is
 * removed only once its fsynced copy has its final name), the tarball is validated and extracted through a
 * staging directory, `etcdutl snapshot restore` runs directly (no restore pod) with
 * `--skip-hash-check=false` spelled out, and the revision bump is computed here.
 */
import { isIP } from "node:net"
import { posix } from "node:path"
import { Result, Schema } from "effect"
import { podDirectory, podManifestPath, staticPodResourcesDir } from "./archive-layout.ts"
import { defaultOperands, operandList, type OperandTable } from "./operands.ts"
import { RevisionSet } from "./revisions.ts"
import { isWithin } from "./path-inside.ts"
import { bumpAmount, maxRevisionBump, RevisionBump } from "./revision-bump.ts"

// ---------------------------------------------------------------------------------------------
// Input

const absolutePath = Schema.String.check(
  Schema.makeFilter((p: string) =>
    p.startsWith("/") && posix.normalize(p) === p && (p === "/" || !p.endsWith("/"))
      ? undefined
      : `expected a normalized absolute path, got ${JSON.stringify(p)}`,
  ),
)
const fileName = Schema.String.check(
  Schema.makeFilter((n: string) =>
    n !== "" && n !== "." && n !== ".." && !n.includes("/") && !n.includes("\u0000") ? undefined : `expected a plain file name, got ${JSON.stringify(n)}`,
  ),
)

/** What `etcdutl --help`/`version` revealed about the binary the restore will run. */
export const EtcdutlCapabilities = Schema.Struct({
  /** How to run it (a path or a name on PATH); not a host path the plan touches. */
  command: Schema.NonEmptyString,
  version: Schema.String,
  bumpRevision: Schema.Boolean,
  markCompacted: Schema.Boolean,
})
export type EtcdutlCapabilities = typeof EtcdutlCapabilities.Type

export const restoreIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const RestoreId = Schema.String.check(Schema.isPattern(restoreIdPattern))

/**
 * The restore whose etcdutl output directory `name` (an entry of etcd's data directory) is, if it
 * is one: only this tool names a directory there `restore-<uuid>`, and a restore that completed
 * removed it (install-member), so one that exists was left by an interrupted restore.
 */
export const partialRestoreId = (name: string): string | undefined => {
  const m = /^restore-(.+)$/.exec(name)
  return m !== null && restoreIdPattern.test(m[1]!) ? m[1] : undefined
}

/** Sizes measured where etcd's data directory is a disk of its own (see `RestorePlanInput`). */
const SeparateDataDisk = Schema.Struct({
  memberBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  partialRestoresBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  memberCopyBytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  partialRestoresCopyBytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
})

export const RestorePlanInput = Schema.Struct({
  /** Prefix of every host path (the host's `/` as mounted where the restore runs). */
  root: absolutePath,
  /** The backup directory, as a host path. */
  backupDir: absolutePath,
  snapshotFile: fileName,
  resourcesFile: fileName,
  /** The etcd member name of this host (its node name). */
  memberName: Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9]([-a-zA-Z0-9._]{0,251}[a-zA-Z0-9])?$/)),
  /** This host's IP: the member's peer URL is `https://<ip>:2380`. */
  nodeIp: Schema.String.check(Schema.makeFilter((ip: string) => (isIP(ip) === 0 ? `expected an IPv4 or IPv6 address, got ${JSON.stringify(ip)}` : undefined))),
  /** A fresh UUID: names the cluster token and the restore's directories. */
  restoreId: RestoreId,
  /** The revisions the backup holds (from its manifest). */
  revisions: RevisionSet,
  bump: RevisionBump,
  etcdutl: EtcdutlCapabilities,
  snapshotBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** What the tarball's files take once extracted (`treeFootprint`: whole blocks, a block per directory). */
  resourcesBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** The inodes they take (files and directories). */
  resourcesInodes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /**
   * Leave kube-apiserver, kube-controller-manager and kube-scheduler running (`cluster-restore.sh`
   * with ETCD_RESTORE_SKIP_MOVE_CP_STATIC_PODS): the restore then stops and starts only etcd.
   */
  keepControlPlaneRunning: Schema.optionalKey(Schema.Boolean),
  /** Host paths (without root) found to exist, among `pathsToObserve(...)`. */
  existing: Schema.Array(Schema.String),
  /**
   * A copy of this backup's snapshot an earlier, interrupted restore made in the kept-data
   * directory (host path, found to have the manifest's size and sha256): used instead of copying again.
   */
  snapshotCopy: Schema.optionalKey(absolutePath),
  /**
   * The copy of the snapshot will be a hard link (observed: a 0600 regular file of the restore's user on the kept-data
   * directory's file system), so it needs no room there. A tight disk in a disaster must not refuse a restore for room
   * it will not use; a file changed before the step is copied instead, and a copy short of room fails leaving no part.
   */
  snapshotCopyLinked: Schema.optionalKey(Schema.Boolean),
  /** Ids of the `/var/lib/etcd/restore-<id>` directories found (see `partialRestoreId`). */
  partialRestores: Schema.optionalKey(Schema.Array(RestoreId)),
  /**
   * Present when etcd's data directory is a file system of its own (a dedicated etcd disk), not
   * the kept-data directory's: what the plan moves from one to the other is copied, then removed.
   * The footprints (allocated blocks: what moving them off frees) of the old member and of the partial
   * restores' directories, and what their copies take in the kept-data directory (`...CopyBytes`: a copy
   * writes a sparse file's holes as zeros; the footprints when absent).
   */
  separateDataDisk: Schema.optionalKey(SeparateDataDisk),
})
export type RestorePlanInput = typeof RestorePlanInput.Type

export const decodeRestorePlanInput = Schema.decodeUnknownResult(RestorePlanInput, { errors: "all" })

/** A stand-down's input: the host as observed (`stopPathsToObserve`), as a restore's. */
export const StandDownInput = Schema.Struct({
  root: absolutePath,
  /** A fresh UUID: names what this run moves where an earlier run took the usual name. */
  standDownId: RestoreId,
  existing: Schema.Array(Schema.String),
  partialRestores: Schema.optionalKey(Schema.Array(RestoreId)),
  separateDataDisk: Schema.optionalKey(SeparateDataDisk),
})
export type StandDownInput = typeof StandDownInput.Type

export const decodeStandDownInput = Schema.decodeUnknownResult(StandDownInput, { errors: "all" })

// ---------------------------------------------------------------------------------------------
// Host layout (host paths, before the root prefix)

export const hostLayout = {
  manifestsDir: "/etc/kubernetes/manifests",
  stoppedManifestsDir: "/etc/kubernetes/manifests-stopped",
  configDir: "/etc/kubernetes",
  dataDir: "/var/lib/etcd",
  keptDataDir: "/var/lib/etcd-backup",
  /** What the last restore on this host put in place as etcd's member (`restored-member-record.ts`). */
  restoredMemberRecord: "/var/lib/etcd-backup/restored-member.json",
  /** When a stand-down set this host's member aside (`stood-down-record.ts`). */
  stoodDownRecord: "/var/lib/etcd-backup/stood-down.json",
} as const

/** One of the host's records (`restoredMemberRecord`, `stoodDownRecord`) as read: its text, none, or why it could not be read. */
export type HostRecordRead = string | undefined | { readonly unreadable: string }

/** A host record that was there, decoded with `decode`: the record, or why it is unreadable (cannot be read, or does not decode). */
export const decodeHostRecord = <A>(
  read: Exclude<HostRecordRead, undefined>,
  decode: (text: string) => Result.Result<A, { readonly message: string }>,
): { readonly _tag: "Decoded"; readonly record: A } | { readonly _tag: "Unreadable"; readonly reason: string } => {
  if (typeof read !== "string") return { _tag: "Unreadable", reason: read.unreadable }
  const decoded = decode(read)
  return Result.isFailure(decoded) ? { _tag: "Unreadable", reason: decoded.failure.message } : { _tag: "Decoded", record: decoded.success }
}

/** Containers of the etcd static pod (as `cluster-restore.sh` waits for them) and etcd's ports. */
export const etcdContainers = ["etcd", "etcdctl", "etcd-metrics", "etcd-readyz", "etcd-rev"] as const
export const etcdPorts = [2379, 2380] as const
export const etcdPrograms = ["etcd"] as const
export const etcdStopTimeoutSeconds = 300

/**
 * The host's other control-plane static pods (`cluster-restore.sh`'s AUX_STATIC_POD_LIST): stopped
 * before etcd, started again from the backup's revisions after it, unless kept running.
 */
export const controlPlaneOperands = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const
/** The containers `cluster-restore.sh` waits for, the programs they run, and the ports they serve (secure API, controller manager, scheduler). */
export const controlPlaneContainers = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const
export const controlPlanePorts = [6443, 10257, 10259] as const
/** kube-apiserver drains for up to 135 s (`--graceful-termination-duration`) before it exits. */
export const controlPlaneStopTimeoutSeconds = 300
/** etcd preallocates its WAL; a restored member needs the database plus this much. */
export const walAllowanceBytes = 64 * 1024 * 1024

const etcdManifestName = (table: OperandTable) => `${table.etcd.podConfigMap}.yaml`
const controlPlaneManifestNames = (table: OperandTable) => controlPlaneOperands.map((o) => `${table[o].podConfigMap}.yaml`)

/** A name next to `preferred` that no earlier restore took: the preferred one if free, else suffixed with the restore id. */
const unique = (preferred: string, restoreId: string, existing: ReadonlySet<string>) => (existing.has(preferred) ? `${preferred}.${restoreId}` : preferred)

/** Whether `name` is one `unique` makes of `base`: `base`, or `base.<run id>` where `base` was taken. */
export const baseOrWithRunId = (base: string, name: string): boolean =>
  name === base || (name.startsWith(`${base}.`) && restoreIdPattern.test(name.slice(base.length + 1)))

/** The names `copy-snapshot` gives the snapshot's copy in the kept-data directory: `snapshot.db`, or `snapshot.db.<restore id>` when that was taken. */
export const isSnapshotCopyName = (name: string): boolean => baseOrWithRunId("snapshot.db", name)

/** The names `keep-revision-json` gives revision.json in the kept-data directory: `revision.json`, or `revision.json.<restore id>` when that was taken. */
export const isKeptRevisionJsonName = (name: string): boolean => baseOrWithRunId("revision.json", name)

/** Where the output directory of a failed or interrupted restore is kept, in the kept-data directory. */
const failedRestoreName = (id: string) => `failed-restore-${id}`

/** Host paths whose existence a stand-down depends on: observe them, pass the existing ones as `existing`. */
export const stopPathsToObserve = (table: OperandTable = defaultOperands, partialRestores: ReadonlyArray<string> = []): ReadonlyArray<string> => [
  ...partialRestores.map((id) => posix.join(hostLayout.keptDataDir, failedRestoreName(id))),
  ...[etcdManifestName(table), ...controlPlaneManifestNames(table)].flatMap((manifest) => [
    posix.join(hostLayout.manifestsDir, manifest),
    posix.join(hostLayout.stoppedManifestsDir, manifest),
  ]),
  posix.join(hostLayout.dataDir, "member"),
  posix.join(hostLayout.dataDir, "revision.json"),
  posix.join(hostLayout.keptDataDir, "member"),
  posix.join(hostLayout.keptDataDir, "revision.json"),
]

/** Host paths whose existence the plan depends on: observe them, pass the existing ones as `existing`. */
export const pathsToObserve = (
  revisions: RevisionSet,
  table: OperandTable = defaultOperands,
  partialRestores: ReadonlyArray<string> = [],
): ReadonlyArray<string> => {
  return [
    ...stopPathsToObserve(table, partialRestores),
    posix.join(hostLayout.keptDataDir, "snapshot.db"),
    ...operandList(table).map((o) => posix.join(hostLayout.configDir, podDirectory(o.name, revisions[o.name], table))),
  ]
}

// ---------------------------------------------------------------------------------------------
// Plan

/** Something a step does. Paths are full paths (root included). */
export type RestoreAction =
  | { readonly _tag: "RunCommand"; readonly argv: ReadonlyArray<string>; readonly reads: ReadonlyArray<string>; readonly writes: ReadonlyArray<string> }
  /** `mkdir -p`: creates the missing directories (with this mode), leaves existing ones alone. */
  | { readonly _tag: "CreateDirectory"; readonly path: string; readonly mode: number }
  /**
   * rename(2). With `acrossFileSystems` (etcd's data directory is a disk of its own), where the two
   * are on different file systems, a crash-safe copy then removal of the original instead.
   */
  | { readonly _tag: "Move"; readonly from: string; readonly to: string; readonly acrossFileSystems?: true }
  /**
   * A copy through `<to>.part`. With `hardLinkWhenSafe`, a hard link instead when the file system
   * has no reflinks and `from` is a regular file on the same one, owned by the restore's user and
   * with exactly `mode` (the link then changes neither its mode nor who may write it).
   */
  | {
      readonly _tag: "CopyFile"
      readonly from: string
      readonly to: string
      readonly mode: number
      readonly hardLinkWhenSafe?: true
      /**
       * The copy is the snapshot the verification hashed: before it takes its final name it must be a
       * regular file of the restore's user with `mode`, have the verified size and end with the verified
       * sha256 trailer (etcdutl's restore checks the database against that trailer), else it is removed
       * and the step fails.
       */
      readonly checkedAgainstVerifiedSnapshot?: true
      /**
       * Through `.<name>.part` instead: the kubelet runs every file of its manifest directory whose
       * name does not start with a dot as a static pod, a `<name>.part` too (a partial one, or a
       * second etcd pod if the restore were killed before the rename).
       */
      readonly hiddenPart?: true
    }
  /** The backup's tarball, which must have the verified size and sha256 before anything of it is installed. */
  | {
      readonly _tag: "ExtractArchive"
      readonly archive: string
      readonly target: string
      readonly units: ReadonlyArray<string>
      /** Where existing units are moved before being replaced. */
      readonly moveExistingTo: string
    }
  /**
   * Until no container of the pods runs: on the host itself, no process runs one of `programs` and
   * nothing listens on `ports`; with `dataDir`, nothing uses that directory either.
   */
  | {
      readonly _tag: "WaitUntilStopped"
      /** What the messages call the pods (`etcd`, `the control plane`). */
      readonly what: string
      readonly containers: ReadonlyArray<string>
      readonly programs: ReadonlyArray<string>
      readonly ports: ReadonlyArray<number>
      readonly dataDir?: string
      readonly timeoutSeconds: number
    }
  /** rmdir(2): fails unless the directory is empty, so it can never delete data. */
  | { readonly _tag: "RemoveEmptyDirectory"; readonly path: string }
  /**
   * Writes `record` (replacing an older one atomically): the device and inode of the directory
   * `member`, which the next action renames into place (a rename keeps them), with the restore and
   * the backup. A stand-down then refuses to move that member aside.
   */
  | { readonly _tag: "RecordRestoredMember"; readonly record: string; readonly member: string; readonly restoreId: string; readonly backup: string }
  /**
   * Writes `record` (replacing an older one atomically): this stand-down, when, and the moves this run makes (host
   * paths, without the root). A restore on this host then refuses until etcd has a member here again.
   */
  | {
      readonly _tag: "RecordStandDown"
      readonly record: string
      readonly standDownId: string
      readonly moved: ReadonlyArray<{ readonly from: string; readonly to: string }>
    }

/** What must hold right before a step runs. */
export type Precondition =
  | { readonly _tag: "BackupVerified"; readonly snapshot: string; readonly resources: string }
  | { readonly _tag: "EtcdutlSupports"; readonly flags: ReadonlyArray<string> }
  | { readonly _tag: "EtcdStopped"; readonly manifest: string; readonly containers: ReadonlyArray<string>; readonly ports: ReadonlyArray<number> }
  | { readonly _tag: "PathExists"; readonly path: string }
  | { readonly _tag: "PathAbsent"; readonly path: string }
  | { readonly _tag: "DirectoryEmpty"; readonly path: string; readonly ignoring: ReadonlyArray<string> }
  /**
   * With `inodes`, that many inodes free as well (where the file system counts them). With
   * `freedBefore`, earlier steps move that much off the file system first (counted as free).
   */
  | { readonly _tag: "FreeSpace"; readonly path: string; readonly bytes: number; readonly inodes?: number; readonly freedBefore?: number }
  /** A directory the step writes into; a symbolic link to one only where `linkAllowed` (the extraction never follows links). */
  | { readonly _tag: "IsDirectory"; readonly path: string; readonly linkAllowed: boolean; readonly mayBeAbsent: boolean }

/** Preconditions that earlier steps cannot change: check them all before the first step. */
export const isUpfront = (p: Precondition): boolean =>
  p._tag === "BackupVerified" || p._tag === "EtcdutlSupports" || p._tag === "FreeSpace" || p._tag === "IsDirectory"

/** The upfront preconditions of a plan, each once, in the order the steps name them. */
export const upfrontPreconditions = (plan: HostSteps): ReadonlyArray<Precondition> => {
  const seen = new Set<string>()
  return plan.steps
    .flatMap((s) => s.preconditions)
    .filter((p) => {
      const key = JSON.stringify(p)
      if (!isUpfront(p) || seen.has(key)) return false
      seen.add(key)
      return true
    })
}

/** A precondition checked right before its step runs (earlier steps change what it depends on). */
export interface RunTimePrecondition {
  /** 1-based, as the plan numbers its steps. */
  readonly number: number
  readonly step: StepId
  readonly precondition: Precondition
}

export const runTimePreconditions = (plan: HostSteps): ReadonlyArray<RunTimePrecondition> =>
  plan.steps.flatMap((s, i) => s.preconditions.filter((p) => !isUpfront(p)).map((precondition) => ({ number: i + 1, step: s.id, precondition })))

export const stepIds = [
  "check-snapshot",
  "stop-control-plane",
  "wait-control-plane-stopped",
  "stop-etcd",
  "wait-etcd-stopped",
  "set-aside-partial-restores",
  "keep-old-member",
  "keep-revision-json",
  "restore-resources",
  "copy-snapshot",
  "restore-snapshot",
  "install-member",
  "start-etcd",
  "start-control-plane",
] as const
export type StepId = (typeof stepIds)[number]

export interface RestoreStep {
  readonly id: StepId
  readonly title: string
  readonly description: string
  readonly preconditions: ReadonlyArray<Precondition>
  readonly actions: ReadonlyArray<RestoreAction>
  /** Every full path the step reads or changes. */
  readonly touches: ReadonlyArray<string>
  /** What state a failure leaves and how to go back or on. */
  readonly onFailure: string
  /** Actions that put back what the step changed (empty: nothing to put back). */
  readonly undo: ReadonlyArray<RestoreAction>
}

/** What the executor, the checks and the dry run read of any plan: the host and its steps. */
export interface HostSteps {
  readonly root: string
  readonly steps: ReadonlyArray<RestoreStep>
}

/**
 * What `stand-down` runs on every other control-plane host before the restore: the restore's
 * stopping steps alone (the control plane, then etcd, then etcd's data kept aside). No backup.
 */
export interface StandDownPlan extends HostSteps {
  readonly _tag: "StandDown"
  readonly standDownId: string
}

export type HostPlan = RestorePlan | StandDownPlan

export const isStandDown = (plan: HostPlan): plan is StandDownPlan => "_tag" in plan && plan._tag === "StandDown"

export interface RestorePlan extends HostSteps {
  readonly restoreId: string
  readonly root: string
  readonly snapshot: string
  readonly resources: string
  readonly memberName: string
  readonly peerUrl: string
  readonly clusterToken: string
  readonly bump: RevisionBump
  readonly etcdutl: EtcdutlCapabilities
  readonly revisions: RevisionSet
  readonly steps: ReadonlyArray<RestoreStep>
}

export class RestorePlanRefused extends Schema.TaggedError<RestorePlanRefused>()("RestorePlanRefused", {
  reason: Schema.Literals(["etcdutl-too-old", "bump-too-large"]),
  message: Schema.String,
}) {}

/** Paths an action reads or changes. */
export const actionPaths = (action: RestoreAction): ReadonlyArray<string> => {
  switch (action._tag) {
    case "RunCommand":
      return [...action.reads, ...action.writes]
    case "CreateDirectory":
    case "RemoveEmptyDirectory":
      return [action.path]
    case "Move":
    case "CopyFile":
      return [action.from, action.to]
    case "ExtractArchive":
      return [action.archive, ...action.units.map((u) => posix.join(action.target, u)), action.moveExistingTo]
    case "WaitUntilStopped":
      return []
    case "RecordRestoredMember":
      return [action.record, action.member]
    case "RecordStandDown":
      return [action.record]
  }
}

const pathsRead = (action: RestoreAction): ReadonlyArray<string> =>
  action._tag === "ExtractArchive" ? [action.archive] : action._tag === "CopyFile" ? [action.from] : action._tag === "RunCommand" ? action.reads : []

const pathsMoved = (action: RestoreAction): ReadonlyArray<string> =>
  action._tag === "Move" ? [action.from] : action._tag === "ExtractArchive" ? action.units.map((u) => posix.join(action.target, u)) : []

/** A path a step reads (the backup's tarball or snapshot) that an earlier action of the plan moves away, with it or a directory above it. */
export interface ReadAfterMoved {
  readonly step: StepId
  readonly read: string
  readonly movedBy: StepId
  readonly moved: string
}

/**
 * Every read of the backup's files after an earlier action moved them away: a backup kept inside
 * etcd's data or a revision directory the restore sets aside. (Other reads under a replaced
 * revision directory read what the restore put there.)
 */
export const readsAfterMoved = (plan: HostPlan): ReadonlyArray<ReadAfterMoved> => {
  if (isStandDown(plan)) return []
  const moved: Array<{ readonly path: string; readonly by: StepId }> = []
  const found: Array<ReadAfterMoved> = []
  for (const s of plan.steps) {
    for (const action of s.actions) {
      for (const read of pathsRead(action).filter((p) => p === plan.snapshot || p === plan.resources)) {
        const m = moved.find((m) => isWithin(m.path, read))
        if (m !== undefined) found.push({ step: s.id, read, movedBy: m.by, moved: m.path })
      }
      for (const path of pathsMoved(action)) moved.push({ path, by: s.id })
    }
  }
  return found
}

const step = (s: Omit<RestoreStep, "touches">): RestoreStep => ({
  ...s,
  touches: [...new Set([...s.actions.flatMap(actionPaths), ...s.undo.flatMap(actionPaths)])],
})

/** What `etcdutl snapshot restore` needs for a plan's member and bump. */
export interface SnapshotRestoreRequest {
  readonly snapshot: string
  readonly memberName: string
  readonly peerUrl: string
  readonly clusterToken: string
  /** Must not exist yet (or be empty): etcdutl creates it. */
  readonly dataDir: string
  readonly bump: RevisionBump
}

/** The `etcdutl snapshot restore` arguments (after the binary) for a plan's member and bump. */
export const snapshotRestoreArgs = (args: SnapshotRestoreRequest): ReadonlyArray<string> => [
  "snapshot",
  "restore",
  args.snapshot,
  "--name",
  args.memberName,
  "--initial-cluster",
  `${args.memberName}=${args.peerUrl}`,
  "--initial-cluster-token",
  args.clusterToken,
  "--initial-advertise-peer-urls",
  args.peerUrl,
  "--data-dir",
  args.dataDir,
  "--skip-hash-check=false",
  ...(args.bump._tag === "Disabled" ? [] : ["--mark-compacted", "--bump-revision", String(args.bump.amount)]),
]

/** What stopping a host's static pods and keeping etcd's data aside needs: a restore's, or a stand-down's. */
interface StopInput {
  readonly root: string
  /** Names what this run moves where an earlier run took the usual name (a restore's or a stand-down's id). */
  readonly restoreId: string
  readonly existing: ReadonlyArray<string>
  readonly partialRestores?: ReadonlyArray<string>
  readonly separateDataDisk?: RestorePlanInput["separateDataDisk"]
  readonly keepControlPlaneRunning?: boolean
  /** Which run the steps are part of: the messages name it, and only a restore reads revision.json. */
  readonly purpose: "restore" | "stand-down"
}

/**
 * The steps that stop the host's static pods, kube-apiserver, kube-controller-manager and
 * kube-scheduler first (unless kept running), then etcd, and move what etcd's data directory holds
 * into the kept-data directory: the first part of a restore, and the whole of a stand-down.
 * Steps already done are left out. Also what the restore's later steps refer to.
 */
const stoppingSteps = (input: StopInput, table: OperandTable) => {
  const { restoreId } = input
  const again = `the ${input.purpose}`
  const host = (path: string) => posix.join(input.root, path)
  const existing = new Set(input.existing)
  const exists = (path: string) => existing.has(path)
  const manifestName = etcdManifestName(table)
  const manifestHostPath = posix.join(hostLayout.manifestsDir, manifestName)
  const manifest = host(manifestHostPath)
  const stoppedManifestOnHost = unique(posix.join(hostLayout.stoppedManifestsDir, manifestName), restoreId, existing)
  const stoppedManifest = host(stoppedManifestOnHost)
  const dataDir = host(hostLayout.dataDir)
  const keptDataDir = host(hostLayout.keptDataDir)
  const member = host(posix.join(hostLayout.dataDir, "member"))
  const keptMemberOnHost = unique(posix.join(hostLayout.keptDataDir, "member"), restoreId, existing)
  const keptMember = host(keptMemberOnHost)
  const revisionJson = host(posix.join(hostLayout.dataDir, "revision.json"))
  const keptRevisionJsonOnHost = unique(posix.join(hostLayout.keptDataDir, "revision.json"), restoreId, existing)
  const keptRevisionJson = host(keptRevisionJsonOnHost)
  const etcdStopped: Precondition = { _tag: "EtcdStopped", manifest, containers: etcdContainers, ports: etcdPorts }
  const manifestsDirectory: Precondition = { _tag: "IsDirectory", path: host(hostLayout.manifestsDir), linkAllowed: true, mayBeAbsent: false }
  const stoppedDirectory: Precondition = { _tag: "IsDirectory", path: host(hostLayout.stoppedManifestsDir), linkAllowed: true, mayBeAbsent: true }
  const stopControlPlane = input.keepControlPlaneRunning !== true
  const controlPlane = controlPlaneOperands.map((operand) => {
    const running = posix.join(hostLayout.manifestsDir, `${table[operand].podConfigMap}.yaml`)
    const stoppedOnHost = unique(posix.join(hostLayout.stoppedManifestsDir, `${table[operand].podConfigMap}.yaml`), restoreId, existing)
    return {
      operand,
      manifest: host(running),
      manifestOnHost: running,
      running: exists(running),
      /** An earlier run's stopped copy, under the usual name. */
      stoppedBefore: exists(posix.join(hostLayout.stoppedManifestsDir, `${table[operand].podConfigMap}.yaml`)),
      stopped: host(stoppedOnHost),
      stoppedOnHost,
    }
  })
  const controlPlaneMoves = controlPlane.filter((c) => c.running).map((c): RestoreAction => ({ _tag: "Move", from: c.manifest, to: c.stopped }))
  const controlPlaneMovesBack = controlPlane.filter((c) => c.running).map((c): RestoreAction => ({ _tag: "Move", from: c.stopped, to: c.manifest }))
  const keptDirectory: Precondition = { _tag: "IsDirectory", path: keptDataDir, linkAllowed: true, mayBeAbsent: true }
  const disk = input.separateDataDisk
  /** A move between etcd's data directory and the kept-data directory: a rename, or a copy then a removal from a dedicated disk. */
  const moveBetween = (from: string, to: string): RestoreAction => ({ _tag: "Move", from, to, ...(disk === undefined ? {} : { acrossFileSystems: true }) })
  /** Room in the kept-data directory for `bytes` copied off a dedicated disk (none needed for renames). */
  const roomToKeep = (bytes: number): ReadonlyArray<Precondition> => (disk === undefined ? [] : [{ _tag: "FreeSpace", path: keptDataDir, bytes }])
  const copiedOff =
    disk === undefined
      ? ""
      : " etcd's data directory is a disk of its own: the move is a copy into the kept-data directory (through a hidden .cluster-backup-part-, fsynced), and only then is the original removed."
  /** Why a failed move between the two directories left no partial data under a name: a rename, or a copy off a dedicated disk. */
  const moveWhole =
    disk === undefined
      ? "a rename is atomic"
      : "a copy off etcd's disk: a partial copy only ever has a hidden .cluster-backup-part- name, which the next run removes, and the original is removed only once its copy is whole under its name"
  /** A step that moves something out of etcd's data directory into the kept directory (undo: move it back). */
  const keepAside = (
    k: Pick<RestoreStep, "id" | "title" | "description" | "onFailure"> & {
      readonly from: string
      readonly to: string
      readonly bytes: number
      /** Actions before the move (in the kept-data directory, once it exists). */
      readonly before?: ReadonlyArray<RestoreAction>
    },
  ) =>
    step({
      id: k.id,
      title: k.title,
      description: k.description + copiedOff,
      preconditions: [keptDirectory, ...roomToKeep(k.bytes), etcdStopped, { _tag: "PathExists", path: k.from }, { _tag: "PathAbsent", path: k.to }],
      actions: [{ _tag: "CreateDirectory", path: keptDataDir, mode: 0o700 }, ...(k.before ?? []), moveBetween(k.from, k.to)],
      onFailure: k.onFailure,
      undo: [moveBetween(k.to, k.from)],
    })
  const manifestRunning = exists(manifestHostPath)
  /** What this run moves aside, on the host: a stand-down's record names it, so that its undo puts back exactly that. */
  const moved = [
    ...(stopControlPlane ? controlPlane.filter((c) => c.running).map((c) => ({ from: c.manifestOnHost, to: c.stoppedOnHost })) : []),
    ...(manifestRunning ? [{ from: manifestHostPath, to: stoppedManifestOnHost }] : []),
    { from: posix.join(hostLayout.dataDir, "member"), to: keptMemberOnHost },
    ...(exists(posix.join(hostLayout.dataDir, "revision.json")) ? [{ from: posix.join(hostLayout.dataDir, "revision.json"), to: keptRevisionJsonOnHost }] : []),
  ]
  const partials = [...new Set(input.partialRestores ?? [])].sort().map((id) => ({
    from: host(posix.join(hostLayout.dataDir, `restore-${id}`)),
    to: host(unique(posix.join(hostLayout.keptDataDir, failedRestoreName(id)), restoreId, existing)),
  }))

  const steps: ReadonlyArray<RestoreStep | undefined> = [
    stopControlPlane && controlPlaneMoves.length > 0
      ? step({
          id: "stop-control-plane",
          title: "Stop kube-apiserver, kube-controller-manager and kube-scheduler",
          description:
            "Move their static pod manifests out of the kubelet's manifest directory, as cluster-restore.sh does, so the kubelet stops them: nothing on this host serves the API from etcd while it is replaced." +
            (controlPlaneMoves.length < controlPlane.length
              ? ` Already out of it: ${controlPlane
                  .filter((c) => !c.running)
                  .map((c) => posix.basename(c.manifest))
                  .join(", ")}.`
              : ""),
          preconditions: [
            manifestsDirectory,
            stoppedDirectory,
            ...controlPlane
              .filter((c) => c.running)
              .flatMap(
                (c): ReadonlyArray<Precondition> => [
                  { _tag: "PathExists", path: c.manifest },
                  { _tag: "PathAbsent", path: c.stopped },
                ],
              ),
          ],
          actions: [{ _tag: "CreateDirectory", path: host(hostLayout.stoppedManifestsDir), mode: 0o700 }, ...controlPlaneMoves],
          onFailure: "Each move is atomic: the pods whose manifest was moved are stopping. Continue with the next step, or undo to start them again.",
          undo: controlPlaneMovesBack,
        })
      : undefined,
    stopControlPlane
      ? step({
          id: "wait-control-plane-stopped",
          title: "Wait for the control plane to stop",
          description: `Wait (at most ${controlPlaneStopTimeoutSeconds} s) until no container of these pods runs: on the host itself, no ${controlPlaneContainers.join(", ")} process, and nothing listening on ports ${controlPlanePorts.join(", ")}.`,
          preconditions: controlPlane.map((c): Precondition => ({ _tag: "PathAbsent", path: c.manifest })),
          actions: [
            {
              _tag: "WaitUntilStopped",
              what: "the control plane",
              containers: controlPlaneContainers,
              programs: controlPlaneContainers,
              ports: controlPlanePorts,
              timeoutSeconds: controlPlaneStopTimeoutSeconds,
            },
          ],
          onFailure: `A control-plane pod is still running: find what keeps it (\`crictl ps\`, \`ss -ltnp\`), stop it, and run ${again} again. Nothing on disk was changed by this step.`,
          undo: controlPlaneMovesBack,
        })
      : undefined,
    manifestRunning
      ? step({
          id: "stop-etcd",
          title: "Stop etcd",
          description: `Move the etcd static pod manifest out of the kubelet's manifest directory, so the kubelet stops etcd.`,
          preconditions: [manifestsDirectory, stoppedDirectory, { _tag: "PathExists", path: manifest }, { _tag: "PathAbsent", path: stoppedManifest }],
          actions: [
            { _tag: "CreateDirectory", path: host(hostLayout.stoppedManifestsDir), mode: 0o700 },
            { _tag: "Move", from: manifest, to: stoppedManifest },
          ],
          onFailure: "If the manifest was moved, etcd is stopping: continue with the next step, or undo to start it again.",
          undo: [{ _tag: "Move", from: stoppedManifest, to: manifest }],
        })
      : undefined,
    step({
      id: "wait-etcd-stopped",
      title: "Wait for etcd to stop",
      description:
        `Wait (at most ${etcdStopTimeoutSeconds} s) until no container of the etcd pod runs and nothing listens on ports ${etcdPorts.join(" and ")}.` +
        (manifestRunning ? "" : " The manifest is already out of the kubelet's directory."),
      preconditions: [{ _tag: "PathAbsent", path: manifest }],
      actions: [
        {
          _tag: "WaitUntilStopped",
          what: "etcd",
          containers: etcdContainers,
          programs: etcdPrograms,
          ports: etcdPorts,
          dataDir,
          timeoutSeconds: etcdStopTimeoutSeconds,
        },
      ],
      onFailure: `etcd is still running: find what keeps it (\`crictl ps\`, \`ss -ltnp\`), stop it, and run ${again} again. Nothing on disk was changed by this step.`,
      undo: manifestRunning ? [{ _tag: "Move", from: stoppedManifest, to: manifest }] : [],
    }),
    partials.length > 0
      ? step({
          id: "set-aside-partial-restores",
          title: "Set aside what an interrupted restore left",
          description:
            `Move the output of an earlier restore's etcdutl that did not finish (${partials.map((p) => posix.basename(p.from)).join(", ")}) out of etcd's data directory into the kept-data directory. ` +
            "Only this tool names a directory there restore-<uuid>, and a finished restore removes it. It is kept, never deleted." +
            copiedOff,
          preconditions: [
            keptDirectory,
            ...roomToKeep(disk?.partialRestoresCopyBytes ?? disk?.partialRestoresBytes ?? 0),
            etcdStopped,
            ...partials.flatMap(
              (p): ReadonlyArray<Precondition> => [
                { _tag: "PathExists", path: p.from },
                { _tag: "PathAbsent", path: p.to },
              ],
            ),
          ],
          actions: [{ _tag: "CreateDirectory", path: keptDataDir, mode: 0o700 }, ...partials.map((p) => moveBetween(p.from, p.to))],
          onFailure:
            disk === undefined
              ? `Each move is atomic: what was moved is in the kept-data directory, the rest is in place. Run ${again} again to continue.`
              : `What was moved is whole in the kept-data directory, the rest is in place (${moveWhole}). Run ${again} again to continue.`,
          undo: partials.map((p) => moveBetween(p.to, p.from)),
        })
      : undefined,
    exists(posix.join(hostLayout.dataDir, "member"))
      ? keepAside({
          id: "keep-old-member",
          title: "Keep the old etcd data",
          description:
            input.purpose === "restore"
              ? "Move the current member directory out of etcd's data directory. It is kept, never deleted."
              : "Record this stand-down (a restore on this host then refuses until etcd has a member here again), then move the member directory out of etcd's data directory. It is kept, never deleted.",
          ...(input.purpose === "restore"
            ? {}
            : { before: [{ _tag: "RecordStandDown", record: host(hostLayout.stoodDownRecord), standDownId: restoreId, moved } satisfies RestoreAction] }),
          from: member,
          to: keptMember,
          bytes: disk?.memberCopyBytes ?? disk?.memberBytes ?? 0,
          onFailure: `The old data is either still in place or fully moved (${moveWhole}). Run ${again} again to continue, or undo.`,
        })
      : undefined,
    exists(posix.join(hostLayout.dataDir, "revision.json"))
      ? keepAside({
          id: "keep-revision-json",
          title: "Keep revision.json",
          description:
            input.purpose === "restore"
              ? "Move the raft index record out of etcd's data directory (its content gave the revision bump), so the directory is empty."
              : "Move the raft index record out of etcd's data directory, so the directory is empty (a restore on this host later takes its revision bump from the kept copy).",
          from: revisionJson,
          to: keptRevisionJson,
          bytes: 0,
          onFailure: `revision.json is either still in place or fully moved (${moveWhole}). Run ${again} again to continue, or undo.`,
        })
      : undefined,
  ]
  return {
    steps: steps.filter((s): s is RestoreStep => s !== undefined),
    manifest,
    dataDir,
    keptDataDir,
    member,
    keptMember,
    etcdStopped,
    manifestsDirectory,
    keptDirectory,
    moveBetween,
    stopControlPlane,
    controlPlane,
  }
}

/** The restore's steps, in their fixed order; steps with nothing to do (already done) are left out. */
export const planRestore = (input: RestorePlanInput, table: OperandTable = defaultOperands): Result.Result<RestorePlan, RestorePlanRefused> => {
  const { restoreId, bump } = input
  if (bump._tag !== "Disabled" && !(input.etcdutl.bumpRevision && input.etcdutl.markCompacted)) {
    const missing = [input.etcdutl.bumpRevision ? [] : ["--bump-revision"], input.etcdutl.markCompacted ? [] : ["--mark-compacted"]].flat()
    return Result.fail(
      new RestorePlanRefused({
        reason: "etcdutl-too-old",
        message:
          `etcdutl ${input.etcdutl.version || "(unknown version)"} at ${input.etcdutl.command} has no ${missing.join(" or ")} for \`snapshot restore\` (etcd 3.4 and older). ` +
          "Use etcdutl 3.5.x or newer. Restoring without the bump (--no-bump) leaves API-server watch caches on revisions the restored etcd reuses, so only do that with every API server stopped until etcd is back.",
      }),
    )
  }
  if (bumpAmount(bump) > maxRevisionBump) {
    return Result.fail(
      new RestorePlanRefused({
        reason: "bump-too-large",
        message: `the revision bump ${bumpAmount(bump)} exceeds etcdutl's limit of 2^64-1; pass a revision.json with sane raft indexes or --no-bump`,
      }),
    )
  }

  const host = (path: string) => posix.join(input.root, path)
  const existing = new Set(input.existing)
  const exists = (path: string) => existing.has(path)
  const stopping = stoppingSteps({ ...input, purpose: "restore" }, table)
  const { manifest, dataDir, keptDataDir, member, keptMember, etcdStopped, manifestsDirectory, keptDirectory, moveBetween, stopControlPlane } = stopping
  const disk = input.separateDataDisk
  const controlPlane = stopping.controlPlane.map((c) => ({
    ...c,
    fromBackup: host(posix.join(hostLayout.configDir, podManifestPath(c.operand, input.revisions[c.operand], table))),
  }))
  // Kept running, the pods that run are left alone; one an earlier, interrupted restore stopped is not left stopped.
  const toStart = stopControlPlane ? controlPlane : controlPlane.filter((c) => !c.running && c.stoppedBefore)

  const snapshot = host(posix.join(input.backupDir, input.snapshotFile))
  const resources = host(posix.join(input.backupDir, input.resourcesFile))
  const peerUrl = `https://${isIP(input.nodeIp) === 6 ? `[${input.nodeIp}]` : input.nodeIp}:2380`
  const clusterToken = `openshift-etcd-${restoreId}`

  const snapshotCopy = host(input.snapshotCopy ?? unique(posix.join(hostLayout.keptDataDir, "snapshot.db"), restoreId, existing))
  const restoreDir = host(posix.join(hostLayout.dataDir, `restore-${restoreId}`))
  const configDir = host(hostLayout.configDir)
  const replacedResources = host(posix.join(hostLayout.configDir, `static-pod-resources-replaced-by-restore-${restoreId}`))
  const restoredResources = host(posix.join(hostLayout.configDir, `static-pod-resources-restored-by-restore-${restoreId}`))
  const units = operandList(table).map((o) => podDirectory(o.name, input.revisions[o.name], table))
  const replacedUnits = units.filter((u) => exists(posix.join(hostLayout.configDir, u)))
  const newManifest = host(posix.join(hostLayout.configDir, podManifestPath("etcd", input.revisions.etcd, table)))

  const bumpFlags: ReadonlyArray<Precondition> = bump._tag === "Disabled" ? [] : [{ _tag: "EtcdutlSupports", flags: ["--bump-revision", "--mark-compacted"] }]

  const steps: Array<RestoreStep | undefined> = [
    step({
      id: "check-snapshot",
      title: "Check the snapshot",
      description: "Ask etcdutl whether the snapshot is a readable etcd database (hash, revision, key count, size). Nothing is changed.",
      preconditions: [{ _tag: "BackupVerified", snapshot, resources }, ...bumpFlags],
      actions: [{ _tag: "RunCommand", argv: [input.etcdutl.command, "snapshot", "status", snapshot, "-w", "json"], reads: [snapshot], writes: [] }],
      onFailure: "Nothing was changed. The snapshot is unusable: pick another backup.",
      undo: [],
    }),
    ...stopping.steps,
    step({
      id: "restore-resources",
      title: "Restore the static pod resources",
      description:
        "Validate the resource tarball and extract it through a staging directory inside /etc/kubernetes; then move each revision directory into place. " +
        (replacedUnits.length === 0 ? "None of them exists yet." : `Existing ones (${replacedUnits.join(", ")}) are first moved aside, kept.`),
      preconditions: [
        { _tag: "IsDirectory", path: configDir, linkAllowed: false, mayBeAbsent: false },
        { _tag: "IsDirectory", path: posix.join(configDir, staticPodResourcesDir), linkAllowed: false, mayBeAbsent: true },
        etcdStopped,
        { _tag: "FreeSpace", path: configDir, bytes: input.resourcesBytes, ...(input.resourcesInodes === undefined ? {} : { inodes: input.resourcesInodes }) },
        { _tag: "PathAbsent", path: replacedResources },
      ],
      actions: [{ _tag: "ExtractArchive", archive: resources, target: configDir, units, moveExistingTo: replacedResources }],
      onFailure: "Extraction is all or nothing: on failure nothing under /etc/kubernetes changed. Fix the cause and run the restore again.",
      undo: [
        { _tag: "CreateDirectory", path: posix.join(restoredResources, staticPodResourcesDir), mode: 0o700 },
        ...units.map((u): RestoreAction => ({ _tag: "Move", from: posix.join(configDir, u), to: posix.join(restoredResources, u) })),
        ...replacedUnits.map((u): RestoreAction => ({ _tag: "Move", from: posix.join(replacedResources, u), to: posix.join(configDir, u) })),
      ],
    }),
    input.snapshotCopy !== undefined
      ? undefined
      : step({
          id: "copy-snapshot",
          title: "Copy the snapshot next to etcd's data",
          description:
            "Copy the snapshot to the kept-data directory (fsynced, mode 0600): the restore reads it from the local disk, and it stays as a record of what was restored. " +
            "No data is copied where the file system has reflinks, or when the backup's snapshot is a 0600 file of the restore's user on the same file system (a hard link: the record, not a second copy of its bytes).",
          preconditions: [
            keptDirectory,
            { _tag: "PathExists", path: snapshot },
            { _tag: "PathAbsent", path: snapshotCopy },
            ...(input.snapshotCopyLinked === true ? [] : [{ _tag: "FreeSpace", path: keptDataDir, bytes: input.snapshotBytes } satisfies Precondition]),
          ],
          actions: [
            { _tag: "CreateDirectory", path: keptDataDir, mode: 0o700 },
            { _tag: "CopyFile", from: snapshot, to: snapshotCopy, mode: 0o600, hardLinkWhenSafe: true, checkedAgainstVerifiedSnapshot: true },
          ],
          onFailure: "A partial copy is never left under the final name. Free space if needed and run the restore again.",
          undo: [],
        }),
    step({
      id: "restore-snapshot",
      title: "Restore the snapshot into a new data directory",
      description:
        "Build a single-member data directory from the snapshot copy, checking its integrity hash." +
        (bump._tag === "Disabled"
          ? " Revisions are NOT bumped (--no-bump): API-server watch caches may serve stale data until they restart."
          : ` Revisions are bumped by ${bump.amount} and marked compacted, so every watch cache starts over.`),
      preconditions: [
        { _tag: "IsDirectory", path: dataDir, linkAllowed: true, mayBeAbsent: true },
        etcdStopped,
        ...bumpFlags,
        { _tag: "PathExists", path: snapshotCopy },
        { _tag: "DirectoryEmpty", path: dataDir, ignoring: ["lost+found"] },
        { _tag: "PathAbsent", path: restoreDir },
        {
          _tag: "FreeSpace",
          path: dataDir,
          bytes: 2 * input.snapshotBytes + walAllowanceBytes,
          // On a dedicated disk, the old member and partial restores moved off it leave their room.
          ...(disk === undefined || disk.memberBytes + disk.partialRestoresBytes === 0 ? {} : { freedBefore: disk.memberBytes + disk.partialRestoresBytes }),
        },
      ],
      actions: [
        {
          _tag: "RunCommand",
          argv: [
            input.etcdutl.command,
            ...snapshotRestoreArgs({ snapshot: snapshotCopy, memberName: input.memberName, peerUrl, clusterToken, dataDir: restoreDir, bump }),
          ],
          reads: [snapshotCopy],
          writes: [restoreDir],
        },
      ],
      onFailure: `etcdutl's output directory ${restoreDir} may be partial: it is moved into the kept-data directory (by the undo, or by the next run if this one was killed). Run the restore again. The old data is kept in ${keptMember}.`,
      undo: [moveBetween(restoreDir, host(posix.join(hostLayout.keptDataDir, failedRestoreName(restoreId))))],
    }),
    step({
      id: "install-member",
      title: "Put the restored member in place",
      description:
        "Record which directory the restored member is (so that a stand-down run here by mistake refuses to move it aside), move it into etcd's data directory, then remove the now-empty output directory.",
      preconditions: [etcdStopped, keptDirectory, { _tag: "PathExists", path: posix.join(restoreDir, "member") }, { _tag: "PathAbsent", path: member }],
      actions: [
        { _tag: "CreateDirectory", path: keptDataDir, mode: 0o700 },
        {
          _tag: "RecordRestoredMember",
          record: host(hostLayout.restoredMemberRecord),
          member: posix.join(restoreDir, "member"),
          restoreId,
          backup: input.backupDir,
        },
        { _tag: "Move", from: posix.join(restoreDir, "member"), to: member },
        { _tag: "RemoveEmptyDirectory", path: restoreDir },
      ],
      onFailure: "Run the restore again to continue: the move is atomic.",
      undo: [{ _tag: "Move", from: member, to: posix.join(restoreDir, "member") }],
    }),
    step({
      id: "start-etcd",
      title: "Start etcd",
      description: `Install the etcd pod manifest of the backup's revision ${input.revisions.etcd}; the kubelet starts the restored single member, and the etcd operator grows the cluster back.`,
      preconditions: [manifestsDirectory, { _tag: "PathExists", path: newManifest }, { _tag: "PathAbsent", path: manifest }],
      actions: [{ _tag: "CopyFile", from: newManifest, to: manifest, mode: 0o600, hiddenPart: true }],
      onFailure: `Copy ${newManifest} to ${manifest} by hand.`,
      undo: [],
    }),
    toStart.length > 0
      ? step({
          id: "start-control-plane",
          title: `Start ${toStart.length === controlPlane.length ? "kube-apiserver, kube-controller-manager and kube-scheduler" : toStart.map((c) => c.operand).join(" and ")}`,
          description:
            `Install their pod manifests of the backup's revisions (${toStart.map((c) => `${c.operand} ${input.revisions[c.operand]}`).join(", ")}), as cluster-restore.sh does; they serve once etcd does.` +
            (stopControlPlane
              ? ""
              : " An earlier restore stopped them (their manifests are in manifests-stopped): --keep-control-plane-running leaves running what runs, not stopped what an interrupted restore stopped."),
          preconditions: [
            manifestsDirectory,
            ...toStart.flatMap(
              (c): ReadonlyArray<Precondition> => [
                { _tag: "PathExists", path: c.fromBackup },
                { _tag: "PathAbsent", path: c.manifest },
              ],
            ),
          ],
          actions: toStart.map((c): RestoreAction => ({ _tag: "CopyFile", from: c.fromBackup, to: c.manifest, mode: 0o600, hiddenPart: true })),
          onFailure: `Each copy is whole or absent: copy what is missing of ${toStart.map((c) => `${c.fromBackup} to ${c.manifest}`).join(", ")} by hand.`,
          undo: [],
        })
      : undefined,
  ]

  return Result.succeed({
    restoreId,
    root: input.root,
    snapshot,
    resources,
    memberName: input.memberName,
    peerUrl,
    clusterToken,
    bump,
    etcdutl: input.etcdutl,
    revisions: input.revisions,
    steps: steps.filter((s): s is RestoreStep => s !== undefined),
  })
}

/** The stand-down's steps, in the restore's order; steps with nothing to do (already done) are left out. */
export const planStandDown = (input: StandDownInput, table: OperandTable = defaultOperands): StandDownPlan => ({
  _tag: "StandDown",
  standDownId: input.standDownId,
  root: input.root,
  steps: stoppingSteps({ ...input, restoreId: input.standDownId, purpose: "stand-down" }, table).steps,
})
