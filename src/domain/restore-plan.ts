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
import type { RevisionSet } from "./revisions.ts"
import { isWithin } from "./path-inside.ts"
import { failedRestoreName, hostLayout, unique, walAllowanceBytes } from "./host-layout.ts"
import { planStep, type HostSteps, type Precondition, type RestoreAction, type RestoreStep, type StepId } from "./host-steps.ts"
import type { EtcdutlCapabilities, RestorePlanInput, StandDownInput } from "./restore-plan-input.ts"
import { stoppingSteps } from "./stopping-steps.ts"
import { bumpAmount, maxRevisionBump, type RevisionBump } from "./revision-bump.ts"

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
    planStep({
      id: "check-snapshot",
      title: "Check the snapshot",
      description: "Ask etcdutl whether the snapshot is a readable etcd database (hash, revision, key count, size). Nothing is changed.",
      preconditions: [{ _tag: "BackupVerified", snapshot, resources }, ...bumpFlags],
      actions: [{ _tag: "RunCommand", argv: [input.etcdutl.command, "snapshot", "status", snapshot, "-w", "json"], reads: [snapshot], writes: [] }],
      onFailure: "Nothing was changed. The snapshot is unusable: pick another backup.",
      undo: [],
    }),
    ...stopping.steps,
    planStep({
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
      : planStep({
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
    planStep({
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
    planStep({
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
    planStep({
      id: "start-etcd",
      title: "Start etcd",
      description: `Install the etcd pod manifest of the backup's revision ${input.revisions.etcd}; the kubelet starts the restored single member, and the etcd operator grows the cluster back.`,
      preconditions: [manifestsDirectory, { _tag: "PathExists", path: newManifest }, { _tag: "PathAbsent", path: manifest }],
      actions: [{ _tag: "CopyFile", from: newManifest, to: manifest, mode: 0o600, hiddenPart: true }],
      onFailure: `Copy ${newManifest} to ${manifest} by hand.`,
      undo: [],
    }),
    toStart.length > 0
      ? planStep({
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
