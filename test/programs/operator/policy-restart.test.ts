/**
 * What a BackupPolicy's alerts read must not start again when the operator restarts: the time the operands' revisions
 * settled on values no backup holds (cluster_backup_policy_revision_change_pending_since_timestamp_seconds).
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { startController, type ControllerConfig } from "../../../src/programs/operator/controller.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { ControllerMetrics, type ControllerMetricsShape } from "../../../src/services/controller-metrics.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { backupPolicyAdmission } from "../../support/crd-admission.ts"
import { createPolicy, ns, revs, seedOperators, setRevision } from "./reconcile-harness.ts"

const minute = 60_000
const start = Date.parse("2026-12-01T00:00:30Z")
const settleMs = 30_000

const config = (identity: string): ControllerConfig => ({
  reconcile: defaultReconcileConfig({ settleMs, minIntervalMs: 0, identity }),
  election: {
    namespace: ns,
    leaseName: "cluster-backup-operator",
    identity,
    leaseDurationMs: 15 * minute,
    renewDeadlineMs: 10 * minute,
    retryPeriodMs: 5 * minute,
  },
  resyncMs: 30 * minute,
  minBackoffMs: 1000,
  maxBackoffMs: 10_000,
})

/** Lets the controller's fibers run to rest: turns of the scheduler, no real time. */
const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow, { discard: true })

const startOn = (cluster: SimulatedCluster, identity: string) =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const metrics = ControllerMetrics.make(ns, () => clock.currentTimeMillisUnsafe())
    const scope = yield* Scope.make()
    yield* startController(config(identity)).pipe(
      Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
      Scope.provide(scope),
    )
    yield* settle
    return { metrics, scope }
  })

const pendingSince = (metrics: ControllerMetricsShape) =>
  Effect.map(
    metrics.expose,
    ({ body }) =>
      body
        .split("\n")
        .find((l) => l.startsWith("cluster_backup_policy_revision_change_pending_since_timestamp_seconds{") && l.includes('policy="onchange"'))
        ?.split(" ")[1],
  )

describe("a BackupPolicy's revision change pending across an operator restart", () => {
  it.effect("a new operator on the same cluster, days later, reports the time the revisions settled, not its own start", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(start)
      const clock = yield* Clock.Clock
      const cluster = makeSimulatedCluster({ now: () => new Date(clock.currentTimeMillisUnsafe()), admission: backupPolicyAdmission() })
      seedOperators(cluster, revs(3, 7, 5, 6))
      // Suspended: the change stays pending, as behind a store that keeps failing.
      createPolicy(cluster, "onchange", { onRevisionChange: true, suspend: true, retention: { keepLast: 3 } })
      const first = yield* startOn(cluster, "a")
      yield* TestClock.adjust(settleMs)
      yield* settle
      const settled = yield* pendingSince(first.metrics)
      expect(Number(settled)).toBe((start + settleMs) / 1000)
      yield* Scope.close(first.scope, Exit.void)

      yield* TestClock.adjust(3 * 24 * 60 * minute)
      const second = yield* startOn(cluster, "b")
      expect(yield* pendingSince(second.metrics)).toBe(settled)

      // New revisions: their own settle time.
      setRevision(cluster, "etcd", 4)
      yield* settle
      const movedAt = yield* Clock.currentTimeMillis
      yield* TestClock.adjust(settleMs)
      yield* settle
      expect(Number(yield* pendingSince(second.metrics))).toBe((movedAt + settleMs) / 1000)
      yield* Scope.close(second.scope, Exit.void)
    }),
  )
})
