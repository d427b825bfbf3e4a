import { Clock, Effect, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { backupPolicyType, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { ns, seedOperators } from "./reconcile-harness.ts"

const start = Date.parse("2026-12-01T00:00:30Z")
const hour = 3_600_000

const clockAt = (time: { ms: number }): Clock.Clock => ({
  currentTimeMillisUnsafe: () => time.ms,
  currentTimeMillis: Effect.sync(() => time.ms),
  currentTimeNanosUnsafe: () => BigInt(time.ms) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(time.ms) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => BigInt(time.ms) * 1_000_000n,
  monotonicTimeNanos: Effect.sync(() => BigInt(time.ms) * 1_000_000n),
  sleep: () => Effect.void,
})

type PodObject = { metadata: { name: string; labels?: Record<string, string> }; spec: { activeDeadlineSeconds?: number }; status?: unknown }

describe("a policy's pod that no node takes", () => {
  it("is failed a deadline after its creation, naming why it waits, deleted, and the next backup runs", async () => {
    const time = { ms: start }
    const cluster = makeSimulatedCluster({ seed: 1, now: () => new Date(time.ms) })
    seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
    Result.getOrThrow(
      cluster.create(backupPolicyType, {
        apiVersion: "backup.openshift.io/v1alpha1",
        kind: "BackupPolicy",
        metadata: { name: "nightly" },
        spec: { onRevisionChange: true, minInterval: "1m", activeDeadlineSeconds: 1800, store: { pvc: { claimName: "etcd-backups" } } },
      }),
    )
    const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
    const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "stuck" }))
    const sync = () =>
      Effect.runPromise(
        reconcilePolicies(config, memory).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provideService(Clock.Clock, clockAt(time))),
      )
    const pods = () => cluster.list(podType, ns).filter((p) => (p as PodObject).metadata.labels?.[policyNameLabel] === "nightly") as Array<PodObject>

    await sync()
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
    await sync()
    expect(pods().map((p) => p.metadata.name)).toEqual([first!.metadata.name])

    time.ms += 1000
    await sync()
    expect(pods().map((p) => p.metadata.name)).toEqual([])
    const status = cluster.get(backupPolicyType, undefined, "nightly")!.status as BackupPolicyStatus
    expect(status.lastFailure).toMatchObject({ pod: first!.metadata.name, reason: "NeverStarted" })
    expect(status.lastFailure?.message).toMatch(
      /did not start within its deadline \(30m\) of its creation \(Unschedulable: 0\/3 nodes are available: 3 node\(s\) had untolerated taint\)/,
    )

    time.ms += 2 * hour
    await sync()
    expect(pods()).toHaveLength(1)
    expect(pods()[0]!.metadata.name).not.toBe(first!.metadata.name)
  })
})
