import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { startController } from "../../../src/programs/operator/controller.ts"
import { ControllerMetrics } from "../../../src/services/controller-metrics.ts"
import { backupPolicyType, knownResourceTypes } from "../../../src/services/kube/resources.ts"
import { defaultWatchBackoff } from "../../../src/services/kube/watch.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { controllerConfig, ns, renderedPod, revs, seedOperators } from "./reconcile-harness.ts"

const config = controllerConfig("a", {
  leaseDurationMs: 137_000,
  renewDeadlineMs: 107_000,
  retryPeriodMs: 26_000,
  resyncMs: 600_000,
  minBackoffMs: 1000,
  maxBackoffMs: 60_000,
})

/** The controller on `cluster` (watches retrying with their real backoff), in a scope the test closes. */
const start = (cluster: SimulatedCluster) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const handle = yield* startController(config).pipe(
      Effect.provide(
        Layer.merge(
          SimulatedKube.inMemory(cluster, { watchBackoff: defaultWatchBackoff }),
          Layer.sync(ControllerMetrics, () => ControllerMetrics.make(ns)),
        ),
      ),
      Scope.provide(scope),
    )
    return { scope, handle }
  })

describe("controller readiness", () => {
  it.effect("without the BackupPolicy CRD installed it is ready once synced: a type the API does not serve is no failing watch", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster({ types: knownResourceTypes.filter((t) => t !== backupPolicyType) })
      seedOperators(cluster, revs(3, 7, 5, 6))
      const { scope, handle } = yield* start(cluster)
      for (let i = 0; i < 50; i++) yield* TestClock.adjust(Duration.millis(100))
      expect(renderedPod(cluster)).toBeDefined()
      expect(handle.ready()).toBe(true)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect("a replica whose election rounds fail (the Lease cannot be written: RBAC, admission) is not ready: it would never lead", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      cluster.faults.inject(Fault.forbidden(), { resource: "leases", verb: ["create", "update"], times: Infinity })
      const { scope, handle } = yield* start(cluster)
      for (let i = 0; i < 50; i++) yield* TestClock.adjust(Duration.millis(100))
      expect(handle.leading()).toBe(false)
      expect(handle.ready()).toBe(false)
      cluster.faults.clear()
      for (let i = 0; i < 300; i++) yield* TestClock.adjust(Duration.millis(100))
      expect(handle.leading()).toBe(true)
      expect(handle.ready()).toBe(true)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect("is not ready while a watch it depends on is failing, and ready again once the watch is restored", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      const { scope, handle } = yield* start(cluster)
      const step = (seconds: number) =>
        Effect.gen(function* () {
          for (let i = 0; i < seconds * 10; i++) yield* TestClock.adjust(Duration.millis(100))
        })
      yield* step(2)
      expect(renderedPod(cluster)).toBeDefined()
      expect(handle.ready()).toBe(true)
      // The pods' watch breaks (RBAC lost its list/watch, or the API server stops serving them): backup pods go unseen.
      cluster.faults.inject(Fault.forbidden(), { resource: "pods", verb: ["watch", "list"], times: Infinity })
      cluster.dropWatches(true)
      yield* step(5)
      expect(handle.ready()).toBe(false)
      cluster.faults.clear()
      yield* step(40)
      expect(handle.ready()).toBe(true)
      yield* Scope.close(scope, Exit.void)
    }),
  )
})
