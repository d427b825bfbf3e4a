import { type Clock, Effect, Layer, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { operandList, operandNames, operatorGroup, operatorVersion, type OperandName } from "../../../src/domain/operands.ts"
import type { RevisionSet } from "../../../src/domain/revisions.ts"
import type { BackupPod } from "../../../src/domain/pod-spec.ts"
import { parseYamlText } from "../../../src/domain/yaml-text.ts"
import { emptyMemory } from "../../../src/domain/operator-desired-state.ts"
import type { ControllerConfig } from "../../../src/programs/operator/controller.ts"
import { defaultReconcileConfig, reconcile, type ReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { backupPolicyType, configMapType, eventType, operatorTypes } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj, type PodOutcome, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"

export const ns = "openshift-etcd"
export const start = Date.parse("2026-11-24T10:00:00Z")
export const revs = (etcd: number, kas: number, kcm: number, ks: number): RevisionSet => ({
  etcd,
  "kube-apiserver": kas,
  "kube-controller-manager": kcm,
  "kube-scheduler": ks,
})

/** The four operator CRs at `set` (cluster-scoped singletons). */
export const seedOperators = (cluster: SimulatedCluster, set: Partial<RevisionSet>) => {
  for (const op of operandList()) {
    const revision = set[op.name]
    if (revision === undefined) continue
    Result.getOrThrow(
      cluster.create(operatorTypes[op.name], {
        apiVersion: `${operatorGroup}/${operatorVersion}`,
        kind: op.kind,
        metadata: { name: "cluster" },
        spec: { managementState: "Managed" },
      }),
    )
    // Like the API: status is a subresource, not written by create.
    Result.getOrThrow(cluster.updateStatus(operatorTypes[op.name], undefined, "cluster", { latestAvailableRevision: revision }))
  }
}

export const setRevision = (cluster: SimulatedCluster, operand: OperandName, revision: unknown) => {
  const cr = cluster.get(operatorTypes[operand], undefined, "cluster")!
  Result.getOrThrow(cluster.updateStatus(operatorTypes[operand], undefined, "cluster", { ...(cr.status as object), latestAvailableRevision: revision }))
}

/** Creates BackupPolicy `name` with `spec`, its store the PVC `etcd-backups` unless `spec` names another. */
export const createPolicy = (cluster: SimulatedCluster, name: string, spec: Record<string, unknown>) =>
  Result.getOrThrow(
    cluster.create(backupPolicyType, {
      apiVersion: "backup.openshift.io/v1alpha1",
      kind: "BackupPolicy",
      metadata: { name },
      spec: { store: { pvc: { claimName: "etcd-backups" } }, ...spec },
    }),
  )

export const configMapData = (cluster: SimulatedCluster, name: string) => cluster.get(configMapType, ns, name)?.data as Record<string, string> | undefined

export const renderedPod = (cluster: SimulatedCluster) => {
  const yaml = configMapData(cluster, "cluster-backup-pod")?.["backup-pod.yaml"]
  return yaml === undefined ? undefined : (Result.getOrThrow(parseYamlText(yaml)) as BackupPod & Obj)
}

export const events = (cluster: SimulatedCluster) =>
  cluster.list(eventType, ns).map((e) => ({ reason: e.reason as string, type: e.type as string, message: e.message as string }))

/** A controller's sync on `cluster` with its own memory. */
export const makeSync = (cluster: SimulatedCluster, overrides: Partial<ReconcileConfig> = {}) => {
  const config = defaultReconcileConfig({ settleMs: 0, ...overrides })
  const memory = Effect.runSync(Ref.make(emptyMemory))
  const layer = SimulatedKube.inMemory(cluster)
  return (extra: Partial<ReconcileConfig> = {}) => reconcile({ ...config, ...extra }, memory).pipe(Effect.provide(layer))
}

/** The simulated cluster's clock (creationTimestamp, pod times) follows the tests' TestClock via `advance`. */
let clusterNow = start
export const advance = (ms: number) =>
  Effect.gen(function* () {
    clusterNow += ms
    yield* TestClock.adjust(ms)
  })

/** A backup pod created from the rendered spec (as `oc create` would) that ends with `outcome`; then a second passes. */
/** A person's `oc create` of the rendered pod: its name. */
export const createRenderedPod = (cluster: SimulatedCluster) =>
  Effect.gen(function* () {
    const kube = yield* Effect.provide(Kube, SimulatedKube.inMemory(cluster))
    return (yield* kube.pods.create(ns, renderedPod(cluster) as never)).metadata.name
  })

export const runBackupPod = (cluster: SimulatedCluster, outcome: PodOutcome) =>
  Effect.gen(function* () {
    Result.getOrThrow(cluster.terminatePod(ns, yield* createRenderedPod(cluster), outcome))
    yield* advance(1000)
  })

export const setup = (set: Partial<RevisionSet> = revs(3, 7, 5, 6)) =>
  Effect.gen(function* () {
    clusterNow = start
    yield* TestClock.setTime(start)
    const cluster = makeSimulatedCluster({ now: () => new Date(clusterNow) })
    seedOperators(cluster, set)
    return cluster
  })

export const allOperands = operandNames
export const KubeLayer = (cluster: SimulatedCluster) => Layer.fresh(SimulatedKube.inMemory(cluster))

/** A clock a test moves by hand (`time.ms`); a sync only reads it. */
export const handClock = (time: { ms: number }): Clock.Clock => ({
  currentTimeMillisUnsafe: () => time.ms,
  currentTimeMillis: Effect.sync(() => time.ms),
  currentTimeNanosUnsafe: () => BigInt(time.ms) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(time.ms) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => BigInt(time.ms) * 1_000_000n,
  monotonicTimeNanos: Effect.sync(() => BigInt(time.ms) * 1_000_000n),
  sleep: () => Effect.void,
})

/** The controller's timings a test may change: the election's, the resync and the retry backoff. */
export type ControllerTimings = Partial<
  Pick<ControllerConfig["election"], "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"> &
    Pick<ControllerConfig, "resyncMs" | "minBackoffMs" | "maxBackoffMs">
>

/** A controller of replica `identity` rendering at once (no settle window, no minimum interval); short timings unless given. */
export const controllerConfig = (identity: string, timings: ControllerTimings = {}): ControllerConfig => ({
  reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity }),
  election: {
    namespace: ns,
    leaseName: "cluster-backup-operator",
    identity,
    leaseDurationMs: timings.leaseDurationMs ?? 1000,
    renewDeadlineMs: timings.renewDeadlineMs ?? 600,
    retryPeriodMs: timings.retryPeriodMs ?? 50,
  },
  resyncMs: timings.resyncMs ?? 60_000,
  minBackoffMs: timings.minBackoffMs ?? 20,
  maxBackoffMs: timings.maxBackoffMs ?? 200,
})
