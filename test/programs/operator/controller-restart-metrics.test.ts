import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { startController } from "../../../src/programs/operator/controller.ts"
import { ControllerMetrics, type ControllerMetricsShape } from "../../../src/services/controller-metrics.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { until } from "../../support/eventually.ts"
import { controllerConfig, configMapData, ns, renderedPod, revs, seedOperators, setRevision } from "./reconcile-harness.ts"

const config = (identity: string) => controllerConfig(identity)

const run = (cluster: SimulatedCluster, identity: string, metrics: ControllerMetricsShape, scope: Scope.Scope) =>
  startController(config(identity)).pipe(
    Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
    Scope.provide(scope),
  )

const lastComplete = (metrics: ControllerMetricsShape) =>
  Effect.map(
    metrics.expose,
    ({ body }) =>
      body
        .split("\n")
        .find((l) => l.startsWith("cluster_backup_last_complete_backup_timestamp_seconds{"))
        ?.split(" ")[1],
  )

describe("controller metrics across a restart", () => {
  it.live("the newest complete backup's time survives an operator restart after a later render left the status Pending", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      const first = ControllerMetrics.make(ns)
      const scopeA = yield* Scope.make()
      yield* run(cluster, "a", first, scopeA)
      yield* until("first render", () => renderedPod(cluster) !== undefined)
      const kube = yield* Effect.provide(Kube, SimulatedKube.inMemory(cluster))
      const pod = yield* kube.pods.create(ns, renderedPod(cluster) as never)
      Result.getOrThrow(cluster.terminatePod(ns, pod.metadata.name, { phase: "Succeeded" }))
      yield* until("Complete", () => configMapData(cluster, "backup-status")?.status === "Complete")
      const completedAt = yield* lastComplete(first)
      expect(completedAt).toBeDefined()
      // A rollout: the new revisions are rendered and wait for the next backup.
      setRevision(cluster, "etcd", 4)
      yield* until("Pending for etcd 4", () => configMapData(cluster, "backup-status")?.revisions.includes('etcd: "4"') === true)
      expect(configMapData(cluster, "backup-status")?.status).toBe("Pending")
      yield* Scope.close(scopeA, Exit.void)

      // The operator restarts (an upgrade, a node drain): the backup that completed is still the newest.
      const second = ControllerMetrics.make(ns)
      const scopeB = yield* Scope.make()
      const handle = yield* run(cluster, "b", second, scopeB)
      yield* until("the restarted operator synced", () => handle.lastResult() !== undefined)
      expect(yield* lastComplete(second)).toBe(completedAt)
      // Each sync exports whether the newest rendered pod that runs cannot start: none runs.
      expect((yield* second.expose).body).toContain(`cluster_backup_pod_not_starting{namespace="${ns}"} 0`)
      yield* Scope.close(scopeB, Exit.void)
    }),
  )
})
