import { Clock, Effect, Exit, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { startWaitWords } from "../../../src/domain/backup-pod-start.ts"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { backupPolicyType, eventType, podType } from "../../../src/services/kube/resources.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { kubeletEvent, mountWaitingPodStatus, simulatedBackupReport, uploadedBackup } from "../../../src/simulation/simulated-kubelet.ts"
import { createPolicy, handClock, ns, seedOperators } from "./reconcile-harness.ts"

const start = Date.parse("2026-12-01T00:00:30Z")
const hour = 3_600_000

type PodObject = { metadata: { name: string; labels?: Record<string, string> }; spec: { activeDeadlineSeconds?: number }; status?: unknown }

/** A cluster with one BackupPolicy (revision changes, 30 min deadline), its operator's sync on a hand-moved clock. */
const setup = () => {
  const time = { ms: start }
  const cluster = makeSimulatedCluster({ seed: 1, now: () => new Date(time.ms) })
  seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
  createPolicy(cluster, "nightly", { onRevisionChange: true, minInterval: "1m", activeDeadlineSeconds: 1800 })
  const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
  const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "trouble" }))
  const sync = () =>
    Effect.runPromiseExit(
      reconcilePolicies(config, memory).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provideService(Clock.Clock, handClock(time))),
    )
  const pods = () => cluster.list(podType, ns).filter((p) => (p as PodObject).metadata.labels?.[policyNameLabel] === "nightly") as Array<PodObject>
  const events = () => cluster.list(eventType, "default") as Array<{ reason: string; type: string; message: string; involvedObject: { name: string } }>
  return { time, cluster, sync, pods, events }
}

/** The policy's status as the operator last wrote it. */
const policyStatus = (cluster: ReturnType<typeof setup>["cluster"]) => cluster.get(backupPolicyType, undefined, "nightly")!.status as BackupPolicyStatus
describe("a policy's pod that no node takes", () => {
  it("is failed a deadline after its creation, naming why it waits, deleted, and the next backup runs", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [first] = pods()
    expect(first?.spec.activeDeadlineSeconds).toBe(1800)
    // The scheduler finds no node: the pod stays Pending, with no start time.
    Result.getOrThrow(
      cluster.updateStatus(podType, ns, first!.metadata.name, {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 node(s) had untolerated taint" }],
      }),
    )
    time.ms += 30 * 60_000 - 1000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods().map((p) => p.metadata.name)).toEqual([first!.metadata.name])

    time.ms += 1000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods().map((p) => p.metadata.name)).toEqual([])
    const status = policyStatus(cluster)
    expect(status.lastFailure).toMatchObject({ pod: first!.metadata.name, reason: "NeverStarted" })
    expect(status.lastFailure?.message).toMatch(
      /did not start within its deadline \(30m\) of its creation \(Unschedulable: 0\/3 nodes are available: 3 node\(s\) had untolerated taint\)/,
    )

    time.ms += 2 * hour
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods()).toHaveLength(1)
    expect(pods()[0]!.metadata.name).not.toBe(first!.metadata.name)
  })
})

describe("a policy's pod whose node is lost", () => {
  // A pod bound to a node is deleted gracefully: the API keeps it Terminating until its kubelet reports it stopped, which a
  // lost node's never does (until the Node object is deleted). The pod stays Running as far as the API knows.
  /** Two hours on, the next backup's pod is created although `first` is still there (Terminating). */
  const nextRunStartsBeside = async (first: PodObject, { time, sync, pods }: Pick<ReturnType<typeof setup>, "time" | "sync" | "pods">) => {
    time.ms += 2 * hour
    expect(Exit.isSuccess(await sync())).toBe(true)
    const next = pods().filter((p) => p.metadata.name !== first.metadata.name)
    expect(next).toHaveLength(1)
    return next[0]!
  }

  const startOnLostNode = (cluster: ReturnType<typeof setup>["cluster"], pod: PodObject, at: number) => {
    Result.getOrThrow(cluster.replace(podType, { ...pod, spec: { ...pod.spec, nodeName: "master-2" } }))
    Result.getOrThrow(
      cluster.updateStatus(podType, ns, pod.metadata.name, { phase: "Running", startTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z") }),
    )
  }
  const deleting = (pod: PodObject | undefined) => (pod?.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp !== undefined

  it("is failed as Overdue, deleted, and the next backup runs although the API keeps it Terminating", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [first] = pods()
    startOnLostNode(cluster, first!, time.ms)
    time.ms += 30 * 60_000 + 10 * 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    const status = policyStatus(cluster)
    expect(status.lastFailure).toMatchObject({ pod: first!.metadata.name, reason: "Overdue" })
    expect(pods().map((p) => [p.metadata.name, deleting(p)])).toEqual([[first!.metadata.name, true]])

    expect(deleting(await nextRunStartsBeside(first!, { time, sync, pods }))).toBe(false)
  })

  it("evicted by the node controller before its deadline, it holds the policy until it is overdue, then the next backup runs", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [first] = pods()
    startOnLostNode(cluster, first!, time.ms)
    // The node controller's taint-based eviction, 5 minutes after the node went NotReady.
    time.ms += 6 * 60_000
    Result.getOrThrow(cluster.remove(podType, ns, first!.metadata.name))
    expect(deleting(pods()[0])).toBe(true)
    time.ms += 20 * 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods()).toHaveLength(1)

    time.ms += 14 * 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    const status = policyStatus(cluster)
    expect(status.lastFailure).toMatchObject({ pod: first!.metadata.name, reason: "Overdue" })
    await nextRunStartsBeside(first!, { time, sync, pods })
  })

  it("bound to a node lost before its kubelet started it: failed as NeverStarted, deleted, and the next backup runs although it stays Terminating", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [first] = pods()
    Result.getOrThrow(cluster.replace(podType, { ...first!, spec: { ...first!.spec, nodeName: "master-2" } }))
    time.ms += 30 * 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    const status = policyStatus(cluster)
    expect(status.lastFailure).toMatchObject({ pod: first!.metadata.name, reason: "NeverStarted" })
    expect(pods().map((p) => [p.metadata.name, deleting(p)])).toEqual([[first!.metadata.name, true]])
    await nextRunStartsBeside(first!, { time, sync, pods })
  })

  it("ends once its kubelet reports it stopped: the simulated kubelet removes a pod being deleted", () => {
    const { cluster, pods, time } = setup()
    const pod = Result.getOrThrow(
      cluster.create(podType, { metadata: { name: "bound", namespace: ns }, spec: { nodeName: "master-1", containers: [{ name: "c", image: "i" }] } }),
    )
    startOnLostNode(cluster, pod as unknown as PodObject, time.ms)
    Result.getOrThrow(cluster.remove(podType, ns, "bound"))
    expect(cluster.get(podType, ns, "bound")?.metadata).toMatchObject({ deletionGracePeriodSeconds: 30 })
    Result.getOrThrow(cluster.terminatePod(ns, "bound", { phase: "Failed" }))
    expect(cluster.get(podType, ns, "bound")).toBeUndefined()
    expect(pods()).toEqual([])
  })
})

describe("a policy's pod the API server refuses", () => {
  const refusal = (name: string) =>
    Fault.status(
      403,
      "Forbidden",
      `pods "${name}" is forbidden: exceeded quota: compute-resources, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi`,
    )

  it("gets one Warning on the policy per distinct refusal however often the sync retries, and none once a pod is created", async () => {
    const { time, cluster, sync, pods, events } = setup()
    const refused = () => events().filter((e) => e.reason === "BackupPodRefused")
    cluster.faults.inject(refusal("backup-nightly"), { verb: "create", resource: "pods", times: 3 })
    for (let i = 0; i < 3; i++) {
      const exit = await sync()
      expect(Exit.isFailure(exit)).toBe(true)
      time.ms += 30_000
    }
    expect(pods()).toEqual([])
    expect(refused()).toHaveLength(1)
    expect(refused()[0]).toMatchObject({ type: "Warning", involvedObject: { name: "nightly" } })
    expect(refused()[0]!.message).toMatch(/the backup pod backup-nightly-\S+ could not be created: .*exceeded quota: compute-resources/)
    // Other words: announced again.
    cluster.faults.inject(Fault.status(403, "Forbidden", "pods is forbidden: unable to validate against any security context constraint"), {
      verb: "create",
      resource: "pods",
    })
    expect(Exit.isFailure(await sync())).toBe(true)
    expect(refused()).toHaveLength(2)
    // The quota freed: the pod is created and nothing more is announced.
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods()).toHaveLength(1)
    expect(refused()).toHaveLength(2)
  })

  it("an API server that cannot answer is no refusal: no Warning", async () => {
    const { cluster, sync, events } = setup()
    cluster.faults.inject(Fault.unavailable(), { verb: "create", resource: "pods" })
    expect(Exit.isFailure(await sync())).toBe(true)
    expect(events().filter((e) => e.reason === "BackupPodRefused")).toEqual([])
  })
})

describe("a policy deleted and created again under the same name", () => {
  it("does not take the old policy's pods, which the garbage collector has not removed yet, for its own runs", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [old] = pods()
    Result.getOrThrow(cluster.terminatePod(ns, old!.metadata.name, uploadedBackup(simulatedBackupReport(old, new Date(time.ms)))))
    time.ms += 60_000
    // `oc replace --force` (a GitOps tool's replace): the old policy goes, a new one with another store and uid comes; the
    // collector removes the old policy's pods in the background, after the operator saw the new policy.
    const policy = cluster.get(backupPolicyType, undefined, "nightly")!
    const oldPod = cluster.get(podType, ns, old!.metadata.name)!
    Result.getOrThrow(cluster.remove(backupPolicyType, undefined, "nightly"))
    const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, ...oldMeta } = oldPod.metadata as Record<string, unknown>
    Result.getOrThrow(cluster.create(podType, { ...oldPod, metadata: oldMeta }))
    Result.getOrThrow(cluster.terminatePod(ns, old!.metadata.name, uploadedBackup(simulatedBackupReport(old, new Date(time.ms)))))
    const spec = { ...(policy.spec as object), store: { pvc: { claimName: "new-backups" } } }
    Result.getOrThrow(cluster.create(backupPolicyType, { apiVersion: policy.apiVersion, kind: policy.kind, metadata: { name: "nightly" }, spec }))
    expect(Exit.isSuccess(await sync())).toBe(true)
    // No backup of the new policy is in its store: its first one starts, and its status claims none.
    expect(pods().map((p) => p.metadata.name)).toEqual(expect.arrayContaining([old!.metadata.name]))
    expect(pods()).toHaveLength(2)
    expect(policyStatus(cluster).lastSuccessfulBackup).toBeUndefined()
    expect(policyStatus(cluster).conditions?.find((c) => c.type === "Ready")?.reason).toBe("NoBackupYet")
  })
})

describe("a policy's pod deleted while it runs", () => {
  it("is recorded in the status as the run in flight; deleted before a sync saw it end, it is a failure with its Event, and the run is retried", async () => {
    const { time, cluster, sync, pods, events } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [first] = pods()
    const name = first!.metadata.name
    expect(policyStatus(cluster).active).toEqual([{ kind: "Pod", name }])
    // A person (or an eviction) deletes the running pod; no sync saw it end.
    Result.getOrThrow(cluster.updateStatus(podType, ns, name, { phase: "Running", startTime: new Date(time.ms).toISOString() }))
    Result.getOrThrow(cluster.remove(podType, ns, name))
    expect(pods()).toEqual([])
    time.ms += 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    const status = policyStatus(cluster)
    expect(status.active).toBeUndefined()
    expect(status.lastFailure).toMatchObject({ pod: name, reason: "PodDeleted" })
    expect(status.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "BackupFailed" })
    expect(
      events()
        .filter((e) => e.reason === "BackupFailed")
        .map((e) => e.message),
    ).toEqual([expect.stringContaining(`pod ${name} was deleted before it ended`)])
    expect(pods()).toEqual([])
    // Retried as a failed run: after the first retry delay (1 min), a new pod, its attempt counted.
    time.ms += 61_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(pods()).toHaveLength(1)
    expect((pods()[0] as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.["backup.openshift.io/trigger"]).toBe("Retry")
    expect(policyStatus(cluster).active).toEqual([{ kind: "Pod", name: pods()[0]!.metadata.name }])
  })
})

describe("a policy's pod whose container cannot be started", () => {
  it("says so in Progressing, in the kubelet's words, while it waits for its deadline; back to BackupRunning once it starts", async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const [pod] = pods()
    const name = pod!.metadata.name
    const startTime = new Date(time.ms).toISOString()
    // The kubelet ran the first init containers; backup-upload's env names a Secret that is not there.
    Result.getOrThrow(
      cluster.updateStatus(podType, ns, name, {
        phase: "Pending",
        startTime,
        initContainerStatuses: [
          { name: "backup-init", state: { terminated: { exitCode: 0 } } },
          {
            name: "backup-upload",
            state: { waiting: { reason: "CreateContainerConfigError", message: 'secret "cluster-backup-proxy" not found' } },
          },
        ],
      }),
    )
    time.ms += 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    const progressing = () => policyStatus(cluster).conditions?.find((c) => c.type === "Progressing")
    expect(progressing()).toMatchObject({ status: "True", reason: "BackupPodNotStarting" })
    expect(progressing()?.message).toBe(
      `pod ${name} cannot start its container backup-upload: CreateContainerConfigError: secret "cluster-backup-proxy" not found; it fails at its deadline unless the cause is fixed`,
    )
    // Created: a wait that ends by itself is no trouble.
    Result.getOrThrow(
      cluster.updateStatus(podType, ns, name, {
        phase: "Pending",
        startTime,
        initContainerStatuses: [
          { name: "backup-init", state: { terminated: { exitCode: 0 } } },
          { name: "backup-upload", state: { waiting: { reason: "PodInitializing" } } },
        ],
      }),
    )
    time.ms += 60_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(progressing()).toMatchObject({ status: "True", reason: "BackupRunning" })
  })

  /** The policy's first pod, taken by its kubelet (at `onNode`) that has started none of its containers yet. */
  const onItsNode = async () => {
    const { time, cluster, sync, pods } = setup()
    expect(Exit.isSuccess(await sync())).toBe(true)
    const name = pods()[0]!.metadata.name
    const onNode = time.ms
    Result.getOrThrow(cluster.updateStatus(podType, ns, name, mountWaitingPodStatus(new Date(onNode).toISOString())))
    const progressing = () => policyStatus(cluster).conditions?.find((c) => c.type === "Progressing")
    return { time, cluster, sync, name, onNode, progressing }
  }

  it("says so in Progressing and its metric when it has started no container two minutes on its node (a volume it cannot mount), waking for it", async () => {
    const { time, sync, name, onNode, progressing } = await onItsNode()
    time.ms += 60_000
    const early = await sync()
    expect(progressing()).toMatchObject({ status: "True", reason: "BackupRunning" })
    expect(Exit.isSuccess(early) ? early.value.wakeAt : undefined).toBe(onNode + 120_000)
    expect(Exit.isSuccess(early) ? early.value.metrics.map((m) => m.podNotStarting) : undefined).toEqual([false])
    time.ms = onNode + 120_000
    const late = await sync()
    expect(Exit.isSuccess(late) ? late.value.metrics.map((m) => m.podNotStarting) : undefined).toEqual([true])
    expect(progressing()).toMatchObject({ status: "True", reason: "BackupPodNotStarting" })
    expect(progressing()?.message).toBe(`pod ${name} cannot start its ${startWaitWords(name)}; it fails at its deadline unless the cause is fixed`)
  })

  it("whose Events show its image being pulled, runs until a pull's ten minutes, saying so in Progressing, then does not start", async () => {
    const { time, cluster, sync, name, onNode, progressing } = await onItsNode()
    const pulling = 'Pulling image "quay.io/openshift/cluster-backup:4.18"'
    Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, name, "Pulling", pulling, new Date(onNode + 5_000).toISOString())))
    time.ms = onNode + 120_000
    const pull = await sync()
    expect(progressing()).toMatchObject({
      status: "True",
      reason: "BackupRunning",
      message: `pod ${name} is taking a backup (it is starting, its image still being pulled: Pulling: ${pulling})`,
    })
    expect(Exit.isSuccess(pull) ? pull.value.wakeAt : undefined).toBe(onNode + 600_000)
    expect(Exit.isSuccess(pull) ? pull.value.metrics.map((m) => m.podNotStarting) : undefined).toEqual([false])
    time.ms = onNode + 600_000
    expect(Exit.isSuccess(await sync())).toBe(true)
    expect(progressing()).toMatchObject({
      status: "True",
      reason: "BackupPodNotStarting",
      message: `pod ${name} cannot start its ${startWaitWords(name, { kind: "pull", words: `Pulling: ${pulling}` })}; it fails at its deadline unless the cause is fixed`,
    })
  })
})
