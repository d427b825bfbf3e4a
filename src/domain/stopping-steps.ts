/**
 * The steps that stop a host's static pods and keep etcd's data aside: the first part of a restore, and the whole
 * of a stand-down.
 */
import { posix } from "node:path"
import {
  controlPlaneContainers,
  controlPlaneOperands,
  controlPlanePorts,
  controlPlaneStopTimeoutSeconds,
  etcdContainers,
  etcdManifestName,
  etcdPorts,
  etcdPrograms,
  etcdStopTimeoutSeconds,
  failedRestoreName,
  hostLayout,
  unique,
} from "./host-layout.ts"
import { planStep, type Precondition, type RestoreAction, type RestoreStep } from "./host-steps.ts"
import type { OperandTable } from "./operands.ts"
import type { RestorePlanInput } from "./restore-plan-input.ts"

/** What stopping a host's static pods and keeping etcd's data aside needs: a restore's, or a stand-down's. */
export interface StopInput {
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
export const stoppingSteps = (input: StopInput, table: OperandTable) => {
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
    planStep({
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
      ? planStep({
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
      ? planStep({
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
      ? planStep({
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
    planStep({
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
      ? planStep({
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
