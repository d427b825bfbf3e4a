import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { startController } from "../../../src/programs/operator/controller.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { ControllerMetrics } from "../../../src/services/controller-metrics.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { openShiftFixture } from "../../../src/simulation/openshift-fixtures.ts"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { backupPolicyType, eventType, podType } from "../../../src/services/kube/resources.ts"
import { simulatedBackupReport, uploadedBackup } from "../../../src/simulation/simulated-kubelet.ts"
import { simulatedApiServer, writeKubeconfig } from "../../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { configMapData, createPolicy, ns, renderedPod } from "./reconcile-harness.ts"
import { until } from "../../support/eventually.ts"

const resyncMs = 600_000
/** How long a step may take on a loaded machine before the test calls it stuck. */
const loadedWaitMs = 40_000

/** The operator over the live Layer (real HTTP, kubeconfig) against the stub API server of a fixture cluster, in its own scope. */
const startLive = Effect.fn(function* () {
  const dir = mkdtempSync(join(tmpdir(), "controller-live-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  const cluster = makeSimulatedCluster()
  const fixture = openShiftFixture({ seed: 3 })
  Result.getOrThrow(fixture.load(cluster))
  const server = yield* simulatedApiServer(cluster)
  const kubeconfig = join(dir, "kubeconfig")
  yield* writeKubeconfig(kubeconfig, server)

  const scope = yield* Scope.make()
  const metrics = ControllerMetrics.make(ns)
  const layer = Layer.merge(Kube.live(KubeConfigSource.file(kubeconfig)), Layer.succeed(ControllerMetrics, metrics))
  const handle = yield* startController({
    reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity: "live" }),
    election: { namespace: ns, leaseName: "cluster-backup-operator", identity: "live", leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100 },
    resyncMs,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  }).pipe(Effect.provide(layer), Scope.provide(scope))
  return { cluster, fixture, scope, metrics, handle }
})

describe("controller over the live Layer against the stub API server", () => {
  it.live(
    "follows a revision bump over real HTTP watches and reports a failed backup pod",
    () =>
      Effect.gen(function* () {
        const { cluster, fixture, scope } = yield* startLive()

        const label = (operand: string) => renderedPod(cluster)?.metadata.labels[`backup.openshift.io/${operand}-revision`] as string | undefined
        // Generous waits: on a loaded 2-core CI machine a render can take seconds. How fast it comes is a figure of
        // bench/operator.ts (p99 < 1 s); here the resync is 10 min, so a render within the wait came from the watch.
        yield* until("the first render", () => label("kube-apiserver") === String(fixture.revisions["kube-apiserver"]), loadedWaitMs)

        const bumped = Result.getOrThrow(fixture.bumpRevision(cluster, "kube-apiserver"))
        const t0 = performance.now()
        yield* until(`the render of kube-apiserver ${bumped}`, () => label("kube-apiserver") === String(bumped), loadedWaitMs)
        const latency = performance.now() - t0
        console.log(`revision bump -> cluster-backup-pod updated in ${latency.toFixed(1)} ms (watch over HTTP, resync 10 min)`)
        expect(loadedWaitMs).toBeLessThan(resyncMs / 10)

        // A backup pod from the rendered spec fails in backup-init.
        const pod = Result.getOrThrow(cluster.create(podType, renderedPod(cluster)!))
        const name = (pod.metadata as { name: string }).name
        Result.getOrThrow(
          cluster.terminatePod(ns, name, {
            phase: "Failed",
            containers: { "backup-init": { exitCode: 1, message: "EtcdTlsRejected: etcd refused the client certificate" } },
          }),
        )
        yield* until("backup-status Failed", () => configMapData(cluster, "backup-status")?.status === "Failed", loadedWaitMs)
        expect(configMapData(cluster, "backup-status")!.message).toContain("EtcdTlsRejected")
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped),
    3 * loadedWaitMs,
  )

  it.live(
    "acts on a BackupPolicy over HTTP: creates its pod, records the report in the status (via /status), an Event in default and the metrics",
    () =>
      Effect.gen(function* () {
        const { cluster, scope, metrics, handle } = yield* startLive()
        createPolicy(cluster, "on-change", { onRevisionChange: true, verify: "None" })
        const policyPods = () =>
          cluster.list(podType, ns).filter((p) => (p.metadata as { labels?: Record<string, string> }).labels?.[policyNameLabel] === "on-change")
        yield* until("the policy's pod", () => policyPods().length === 1, loadedWaitMs)
        const pod = policyPods()[0]!
        const name = (pod.metadata as { name: string }).name
        Result.getOrThrow(cluster.terminatePod(ns, name, uploadedBackup(simulatedBackupReport(pod, new Date(), { verified: false, verifyMode: "None" }))))
        const status = () => cluster.get(backupPolicyType, undefined, "on-change")?.status as BackupPolicyStatus | undefined
        yield* until("the status names the backup", () => status()?.lastSuccessfulBackup?.pod === name, loadedWaitMs)
        expect(status()?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "BackupSucceeded" })
        // The Events follow the status that records their pod.
        yield* until("the completion Event", () => cluster.list(eventType, "default").length === 2, loadedWaitMs)
        expect(cluster.list(eventType, "default").map((e) => e.reason)).toEqual(["BackupStarted", "BackupCompleted"])
        yield* until("the policy's metrics", () => handle.lastPolicyResult()?.metrics[0]?.lastSuccess !== undefined, loadedWaitMs)
        const { body } = yield* metrics.expose
        expect(body).toContain('cluster_backup_policy_store_reachable{policy="on-change"} 1')
        // Nothing more to do: no second pod for the same revisions.
        expect(policyPods().length).toBe(1)
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped),
    5 * loadedWaitMs,
  )
})
