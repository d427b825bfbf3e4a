/**
 * Where a control-plane host keeps what a restore and a stand-down touch (host paths, before the root prefix), the
 * names those runs give what they keep, the static pods' containers, programs and ports they wait for, and the host
 * records they read.
 */
import { posix } from "node:path"
import { Result } from "effect"
import { podDirectory } from "./archive-layout.ts"
import { defaultOperands, operandList, type OperandTable } from "./operands.ts"
import type { RevisionSet } from "./revisions.ts"

export const restoreIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * The restore whose etcdutl output directory `name` (an entry of etcd's data directory) is, if it
 * is one: only this tool names a directory there `restore-<uuid>`, and a restore that completed
 * removed it (install-member), so one that exists was left by an interrupted restore.
 */
export const partialRestoreId = (name: string): string | undefined => {
  const m = /^restore-(.+)$/.exec(name)
  return m !== null && restoreIdPattern.test(m[1]!) ? m[1] : undefined
}

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

export const etcdManifestName = (table: OperandTable) => `${table.etcd.podConfigMap}.yaml`
export const controlPlaneManifestNames = (table: OperandTable) => controlPlaneOperands.map((o) => `${table[o].podConfigMap}.yaml`)

/** A name next to `preferred` that no earlier restore took: the preferred one if free, else suffixed with the restore id. */
export const unique = (preferred: string, restoreId: string, existing: ReadonlySet<string>) =>
  existing.has(preferred) ? `${preferred}.${restoreId}` : preferred

/** Whether `name` is one `unique` makes of `base`: `base`, or `base.<run id>` where `base` was taken. */
export const baseOrWithRunId = (base: string, name: string): boolean =>
  name === base || (name.startsWith(`${base}.`) && restoreIdPattern.test(name.slice(base.length + 1)))

/** The names `copy-snapshot` gives the snapshot's copy in the kept-data directory: `snapshot.db`, or `snapshot.db.<restore id>` when that was taken. */
export const isSnapshotCopyName = (name: string): boolean => baseOrWithRunId("snapshot.db", name)

/** The names `keep-revision-json` gives revision.json in the kept-data directory: `revision.json`, or `revision.json.<restore id>` when that was taken. */
export const isKeptRevisionJsonName = (name: string): boolean => baseOrWithRunId("revision.json", name)

/** Where the output directory of a failed or interrupted restore is kept, in the kept-data directory. */
export const failedRestoreName = (id: string) => `failed-restore-${id}`

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

/** Whether etcd's and the control plane's static pod manifests are all in the kubelet's directory (`existing`: host paths found). */
export const staticPodManifestsInPlace = (existing: ReadonlyArray<string>, table: OperandTable = defaultOperands): boolean =>
  [etcdManifestName(table), ...controlPlaneManifestNames(table)].every((manifest) => existing.includes(posix.join(hostLayout.manifestsDir, manifest)))

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
