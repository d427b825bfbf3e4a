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
import { podType } from "../../../src/services/kube/resources.ts"
import { simulatedApiServer, writeKubeconfig } from "../../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { configMapData, ns, renderedPod } from "./reconcile-harness.ts"
import { until } from "../../support/eventually.ts"

describe("controller over the live Layer against the stub API server", () => {
  it.live("follows a revision bump over real HTTP watches and reports a failed backup pod", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "controller-live-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const cluster = makeSimulatedCluster()
      const fixture = openShiftFixture({ seed: 3 })
      Result.getOrThrow(fixture.load(cluster))
      const server = yield* simulatedApiServer(cluster)
      const kubeconfig = join(dir, "kubeconfig")
      yield* writeKubeconfig(kubeconfig, server)

      const scope = yield* Scope.make()
      const layer = Layer.merge(
        Kube.live(KubeConfigSource.file(kubeconfig)),
        Layer.sync(ControllerMetrics, () => ControllerMetrics.make(ns)),
      )
      yield* startController({
        reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity: "live" }),
        election: { namespace: ns, leaseName: "cluster-backup-operator", identity: "live", leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100 },
        resyncMs: 600_000,
        minBackoffMs: 50,
        maxBackoffMs: 500,
      }).pipe(Effect.provide(layer), Scope.provide(scope))

      const label = (operand: string) => renderedPod(cluster)?.metadata.labels[`backup.openshift.io/${operand}-revision`] as string | undefined
      yield* until("the first render", () => label("kube-apiserver") === String(fixture.revisions["kube-apiserver"]))

      const bumped = Result.getOrThrow(fixture.bumpRevision(cluster, "kube-apiserver"))
      const t0 = performance.now()
      yield* until(`the render of kube-apiserver ${bumped}`, () => label("kube-apiserver") === String(bumped))
      const latency = performance.now() - t0
      console.log(`revision bump -> cluster-backup-pod updated in ${latency.toFixed(1)} ms (watch over HTTP, resync 10 min)`)
      expect(latency).toBeLessThan(5000)

      // A backup pod from the rendered spec fails in backup-init.
      const pod = Result.getOrThrow(cluster.create(podType, renderedPod(cluster)!))
      const name = (pod.metadata as { name: string }).name
      Result.getOrThrow(
        cluster.terminatePod(ns, name, {
          phase: "Failed",
          containers: { "backup-init": { exitCode: 1, message: "EtcdTlsRejected: etcd refused the client certificate" } },
        }),
      )
      yield* until("backup-status Failed", () => configMapData(cluster, "backup-status")?.status === "Failed")
      expect(configMapData(cluster, "backup-status")!.message).toContain("EtcdTlsRejected")
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.scoped),
  )
})
