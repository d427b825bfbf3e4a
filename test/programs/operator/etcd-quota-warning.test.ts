/**
 * etcd's quota (spec.backendQuotaGiB of etcds.operator.openshift.io/cluster) read by both reconcilers with the
 * revisions: a /backup volume that cannot hold a backup at the quota is a Warning before any pod runs.
 */
import { it as effectIt } from "@effect/vitest"
import { Clock, Effect, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { eventType, operatorTypes, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { createPolicy, events, handClock, makeSync, ns, renderedPod, seedOperators, setup } from "./reconcile-harness.ts"

const setQuota = (cluster: SimulatedCluster, gib: number) => {
  const cr = cluster.get(operatorTypes.etcd, undefined, "cluster")!
  Result.getOrThrow(cluster.replace(operatorTypes.etcd, { ...cr, spec: { ...(cr.spec as object), backendQuotaGiB: gib } }))
}

describe("the BackupConfigController and etcd's quota", () => {
  effectIt.effect("a Warning on backup-status once the quota outgrows --backup-volume-size, the pod rendered all the same; none at the default", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { podOptions: { backupVolumeSizeLimit: "12Gi" } })
      expect((yield* sync()).volumeShortfallBytes).toBe(0)
      expect(events(cluster).filter((e) => e.reason === "BackupVolumeBelowQuota")).toEqual([])
      setQuota(cluster, 16)
      yield* sync()
      // The metric's value: 16 GiB and the resources' 64 MiB, less the 12 GiB limit.
      expect((yield* sync()).volumeShortfallBytes).toBe(4 * 2 ** 30 + 64 * 2 ** 20)
      const warnings = events(cluster).filter((e) => e.reason === "BackupVolumeBelowQuota")
      expect(warnings).toEqual([
        expect.objectContaining({
          type: "Warning",
          message: expect.stringMatching(/--backup-volume-size 12Gi\) cannot hold .* quota of 16\.0 GiB.* at least 17Gi$/),
        }),
      ])
      expect(renderedPod(cluster)).toBeDefined()
      const fresh = yield* setup()
      setQuota(fresh, 16)
      yield* makeSync(fresh)()
      expect(events(fresh).map((e) => e.reason)).toEqual(["BackupPodRendered"])
    }),
  )
})

describe("BackupPolicies and etcd's quota", () => {
  it("a policy encrypting into a claim gets the Warning at a 16 GiB quota with the default volume, and its backup still starts", async () => {
    const time = { ms: Date.parse("2026-12-01T00:00:30Z") }
    const cluster = makeSimulatedCluster({ seed: 1, now: () => new Date(time.ms) })
    seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
    setQuota(cluster, 16)
    createPolicy(cluster, "sealed", {
      onRevisionChange: true,
      minInterval: "1m",
      store: { pvc: { claimName: "etcd-backups", recipientsSecret: { name: "backup-recipients" } } },
    })
    const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
    const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "quota" }))
    const sync = () =>
      Effect.runPromise(
        reconcilePolicies(config, memory).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provideService(Clock.Clock, handClock(time))),
      )
    await sync()
    await sync()
    const warnings = (cluster.list(eventType, "default") as ReadonlyArray<{ reason: string; message: string }>).filter(
      (e) => e.reason === "BackupVolumeBelowQuota",
    )
    expect(warnings).toEqual([expect.objectContaining({ message: expect.stringMatching(/^BackupPolicy sealed: .*its ciphertext.* at least 33Gi$/) })])
    expect(cluster.list(podType, ns, `${policyNameLabel}=sealed`)).toHaveLength(1)
  })
})
