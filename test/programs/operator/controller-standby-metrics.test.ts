import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Layer, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import { formatMicroTime } from "../../../src/domain/leader-election.ts"
import { startController } from "../../../src/programs/operator/controller.ts"
import { ControllerMetrics } from "../../../src/services/controller-metrics.ts"
import { leaseType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { backupPolicyAdmission } from "../../support/crd-admission.ts"
import { controllerConfig, createPolicy, ns, revs, seedOperators } from "./reconcile-harness.ts"

const config = controllerConfig("a", {
  leaseDurationMs: 10_000,
  renewDeadlineMs: 6000,
  retryPeriodMs: 2000,
  resyncMs: 600_000,
  minBackoffMs: 1000,
  maxBackoffMs: 10_000,
})

const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow, { discard: true })

describe("controller metrics when leadership ends", () => {
  it.effect(
    "a replica that stops leading drops its backup and BackupPolicy series: stale values (store reachable, backup age) must not sit beside the new leader's",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-12-01T00:00:30Z"))
        const clock = yield* Clock.Clock
        const cluster = makeSimulatedCluster({ now: () => new Date(clock.currentTimeMillisUnsafe()), admission: backupPolicyAdmission() })
        seedOperators(cluster, revs(3, 7, 5, 6))
        createPolicy(cluster, "hourly", { schedule: "0 * * * *" })
        const metrics = ControllerMetrics.make(ns, () => clock.currentTimeMillisUnsafe())
        const scope = yield* Scope.make()
        const handle = yield* startController(config).pipe(
          Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
          Scope.provide(scope),
        )
        yield* settle
        const policySeries = Effect.map(metrics.expose, ({ body }) =>
          body.split("\n").filter((l) => l.startsWith("cluster_backup_policy_") && l.includes('policy="hourly"')),
        )
        const lines = Effect.map(metrics.expose, ({ body }) => body.split("\n").filter((l) => l !== "" && !l.startsWith("#")))
        const backupSeries = Effect.map(lines, (all) =>
          all.filter(
            (l) =>
              /^cluster_backup_(last_render|backed_up|observed|newest_complete|last_complete|volume_shortfall)/.test(l) ||
              l.startsWith("cluster_backup_policy_"),
          ),
        )
        expect(handle.leading()).toBe(true)
        expect(yield* policySeries).not.toEqual([])
        expect((yield* backupSeries).some((l) => l.startsWith("cluster_backup_last_render_timestamp_seconds"))).toBe(true)
        // etcd's default quota (8 GiB) fits the default 20Gi volume.
        expect(yield* lines).toContain(`cluster_backup_volume_shortfall_bytes{namespace="${ns}"} 0`)
        // Another replica holds the Lease now (this one could not renew in time, say): this one stands by.
        const lease = cluster.get(leaseType, ns, "cluster-backup-operator")!
        const now = clock.currentTimeMillisUnsafe()
        Result.getOrThrow(
          cluster.replace(leaseType, {
            ...lease,
            spec: { holderIdentity: "b", leaseDurationSeconds: 3600, acquireTime: formatMicroTime(now), renewTime: formatMicroTime(now), leaseTransitions: 1 },
          }),
        )
        for (let i = 0; i < 30; i++) yield* TestClock.adjust(Duration.millis(100)).pipe(Effect.andThen(settle))
        expect(handle.leading()).toBe(false)
        expect(yield* policySeries).toEqual([])
        expect(yield* backupSeries).toEqual([])
        expect(yield* lines).toContain("cluster_backup_leader 0")
        yield* Scope.close(scope, Exit.void)
      }),
  )
})
