import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { startController, type ControllerConfig } from "../../../src/programs/operator/controller.ts"
import { policyEventNamespace } from "../../../src/programs/operator/policy-reconcile.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { ControllerMetrics, type ControllerMetricsShape } from "../../../src/services/controller-metrics.ts"
import { backupPolicyType, eventType, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { failedUpload, simulatedBackupReport, uploadedBackup } from "../../../src/simulation/simulated-kubelet.ts"
import { backupPolicyAdmission } from "../../support/crd-admission.ts"
import { createPolicy, ns, revs, seedOperators } from "./reconcile-harness.ts"

const minute = 60_000
const hour = 60 * minute
const start = Date.parse("2026-12-01T00:00:30Z")

const config: ControllerConfig = {
  reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity: "day" }),
  // Long Lease periods: each renewal is a wake-up the TestClock waits out, 24 hours of them.
  election: {
    namespace: ns,
    leaseName: "cluster-backup-operator",
    identity: "day",
    leaseDurationMs: 15 * minute,
    renewDeadlineMs: 10 * minute,
    retryPeriodMs: 5 * minute,
  },
  resyncMs: 30 * minute,
  minBackoffMs: 1000,
  maxBackoffMs: 10_000,
}

/** Lets the controller's fibers (woken by the clock or by watch events) run to rest: turns of the scheduler, no real time. */
const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow, { discard: true })

/** A world whose API server, kubelet and operator all follow the TestClock. */
const world = Effect.gen(function* () {
  yield* TestClock.setTime(start)
  const clock = yield* Clock.Clock
  // The CRD's admission: a status the operator writes that the CRD refuses (422) leaves the status stale and fails the test.
  const cluster = makeSimulatedCluster({ now: () => new Date(clock.currentTimeMillisUnsafe()), admission: backupPolicyAdmission() })
  seedOperators(cluster, revs(3, 7, 5, 6))
  createPolicy(cluster, "hourly", { schedule: "0 * * * *", verify: "Full", successfulPodsHistoryLimit: 3, failedPodsHistoryLimit: 1 })
  const metrics = ControllerMetrics.make(ns, () => clock.currentTimeMillisUnsafe())
  const scope = yield* Scope.make()
  yield* startController(config).pipe(
    Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
    Scope.provide(scope),
  )
  yield* settle
  return { cluster, metrics, scope, clock }
})

const policyPods = (cluster: SimulatedCluster) =>
  cluster.list(podType, ns).filter((p) => (p.metadata as { labels?: Record<string, string> }).labels?.[policyNameLabel] === "hourly")
const podPhase = (p: unknown) => (p as { status?: { phase?: string } }).status?.phase
const podName = (p: unknown) => (p as { metadata: { name: string } }).metadata.name

interface Finished {
  readonly name: string
  readonly failed: boolean
}

/**
 * The simulated kubelet: each pod of the policy that has not ended yet ends with `outcome` (its backup took under a
 * minute). Returns the names of the pods it finished.
 */
const kubelet = (cluster: SimulatedCluster, now: number, fail: boolean): ReadonlyArray<Finished> =>
  policyPods(cluster)
    .filter((p) => podPhase(p) === undefined || podPhase(p) === "Pending" || podPhase(p) === "Running")
    .map((p) => {
      const outcome = fail ? failedUpload("cannot reach the store: connect ECONNREFUSED 10.0.0.9:443") : uploadedBackup(simulatedBackupReport(p, new Date(now)))
      Result.getOrThrow(cluster.terminatePod(ns, podName(p), outcome))
      return { name: podName(p), failed: fail }
    })

/** Runs the world `step` by `step` for `minutes`, the kubelet finishing pods as `fail(now)` says; all pods it finished, in order. */
const runMinutes = (w: { cluster: SimulatedCluster; clock: Clock.Clock }, minutes: number, fail: (at: number) => boolean, step = minute) =>
  Effect.gen(function* () {
    const finished: Array<Finished> = []
    for (let i = 0; i < minutes * minute; i += step) {
      yield* TestClock.adjust(step)
      yield* settle
      finished.push(...kubelet(w.cluster, w.clock.currentTimeMillisUnsafe(), fail(w.clock.currentTimeMillisUnsafe())))
      yield* settle
    }
    // A last look: the operator sees the pods the kubelet just finished.
    yield* TestClock.adjust(1000)
    yield* settle
    return finished
  })

const statusOf = (cluster: SimulatedCluster) => cluster.get(backupPolicyType, undefined, "hourly")?.status as BackupPolicyStatus
const condition = (cluster: SimulatedCluster, type: string) => statusOf(cluster).conditions?.find((c) => c.type === type)
const policyEvents = (cluster: SimulatedCluster) =>
  cluster
    .list(eventType, policyEventNamespace)
    .filter((e) => (e.involvedObject as { kind?: string }).kind === "BackupPolicy")
    .map((e) => ({ reason: e.reason as string, type: e.type as string, message: e.message as string }))
const metricLine = async (metrics: ControllerMetricsShape, name: string) => {
  const { body } = await Effect.runPromise(metrics.expose)
  return body.split("\n").find((l) => l.startsWith(`${name}{policy="hourly"}`))
}

describe("the operator on a BackupPolicy, a simulated day", () => {
  it.effect(
    "an hourly schedule yields exactly 24 backups in 24 hours, each announced, with the history limit kept",
    () =>
      Effect.gen(function* () {
        const w = yield* world
        // Quarter-hour steps: each backup takes at most one step (the kubelet finishes it at the step's end).
        const finished = (yield* runMinutes(w, 24 * 60, () => false, 15 * minute)).map((f) => f.name)
        expect(finished.length).toBe(24)
        expect(new Set(finished).size).toBe(24)
        // Each run started on its hour (names carry the start time) and the status names the last one.
        expect(finished.map((n) => n.slice(-6, -2))).toEqual(Array.from({ length: 24 }, (_, i) => `${String((i + 1) % 24).padStart(2, "0")}00`))
        expect(policyPods(w.cluster).length).toBe(3)
        const status = statusOf(w.cluster)
        expect(status.lastSuccessfulBackup?.pod).toBe(finished.at(-1))
        expect(status.lastScheduleTime).toBe("2026-12-02T00:00:00Z")
        expect(status.nextScheduleTime).toBe("2026-12-02T01:00:00Z")
        expect(condition(w.cluster, "Ready")).toMatchObject({ status: "True", reason: "BackupSucceeded" })
        expect(condition(w.cluster, "Degraded")).toMatchObject({ status: "False" })
        const events = policyEvents(w.cluster)
        expect(events.filter((e) => e.reason === "BackupStarted").length).toBe(24)
        expect(events.filter((e) => e.reason === "BackupCompleted").length).toBe(24)
        expect(yield* Effect.promise(() => metricLine(w.metrics, "cluster_backup_policy_uploaded_bytes_total"))).toBe(
          `cluster_backup_policy_uploaded_bytes_total{policy="hourly"} ${24 * 5120}`,
        )
        yield* Scope.close(w.scope, Exit.void)
      }),
    120_000,
  )

  it.effect(
    "a failing store sets Degraded, a Warning Event and the failure metric; after recovery the next run succeeds and Degraded clears",
    () =>
      Effect.gen(function* () {
        const w = yield* world
        const outageEnds = start + 3 * hour + 10 * minute
        // 01:00 succeeds, then the store is down from 01:30 until 03:10.
        const run = yield* runMinutes(w, 3 * 60, (at) => at > start + 90 * minute && at < outageEnds, 5 * minute)
        const finished = run.map((f) => f.name)
        const failures = run.filter((f) => f.failed)
        expect(failures.length).toBeGreaterThan(3)
        expect(condition(w.cluster, "Degraded")).toMatchObject({ status: "True", reason: "BackupFailed" })
        expect(condition(w.cluster, "Ready")).toMatchObject({ status: "False", reason: "BackupFailed" })
        expect(statusOf(w.cluster).lastFailure?.reason).toBe("BackupUploadFailed")
        const warnings = policyEvents(w.cluster).filter((e) => e.type === "Warning" && e.reason === "BackupFailed")
        expect(warnings.length).toBeGreaterThan(0)
        expect(warnings[0]!.message).toContain("ECONNREFUSED")
        expect(yield* Effect.promise(() => metricLine(w.metrics, "cluster_backup_policy_last_failure_timestamp_seconds"))).toBeDefined()
        expect(yield* Effect.promise(() => metricLine(w.metrics, "cluster_backup_policy_store_reachable"))).toBe(
          'cluster_backup_policy_store_reachable{policy="hourly"} 0',
        )
        // Backoff: far fewer attempts than minutes of outage, and the 02:00 and 03:00 runs were not skipped.
        expect(failures.length).toBeLessThan(15)
        expect(finished.some((n) => n.endsWith("-20261201-020000"))).toBe(true)
        expect(finished.some((n) => n.endsWith("-20261201-030000"))).toBe(true)

        const after = (yield* runMinutes(w, 60, () => false, 5 * minute)).map((f) => f.name)
        expect(after.length).toBeGreaterThan(0)
        expect(statusOf(w.cluster).lastSuccessfulBackup?.pod).toBe(after.at(-1))
        expect(condition(w.cluster, "Degraded")).toMatchObject({ status: "False", reason: "AsExpected" })
        expect(condition(w.cluster, "Ready")).toMatchObject({ status: "True" })
        expect(yield* Effect.promise(() => metricLine(w.metrics, "cluster_backup_policy_store_reachable"))).toBe(
          'cluster_backup_policy_store_reachable{policy="hourly"} 1',
        )
        yield* Scope.close(w.scope, Exit.void)
      }),
    120_000,
  )
})
