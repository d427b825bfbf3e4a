/**
 * For the live Layer's connection tests (TLS, proxies, credentials): a cluster with ConfigMap `backup-status` and pod
 * `held` whose hold container runs with a directory here as its /backup, and what a Layer reads, watches and execs there.
 */
import { createHash } from "node:crypto"
import { Effect, Exit, type Layer, Result, Stream } from "effect"
import { Kube } from "../../../src/services/kube/kube.ts"
import { configMapType, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { localExecHandler } from "../../../src/simulation/simulated-exec.ts"
import { heldPodStatus } from "../../../src/simulation/simulated-kubelet.ts"

export const ns = "openshift-etcd"

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** The cluster: `backup-status` (data `state: Complete`) and `held`, its hold container running on `backupDir`. */
export const heldPodCluster = (backupDir: string): SimulatedCluster => {
  const cluster = makeSimulatedCluster()
  Result.getOrThrow(cluster.create(configMapType, { metadata: { name: "backup-status", namespace: ns }, data: { state: "Complete" } }))
  const pod = Result.getOrThrow(
    cluster.create(podType, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "held", namespace: ns },
      spec: { containers: [{ name: "backup-hold", image: "x" }] },
    }),
  )
  cluster.updateStatus(podType, ns, "held", heldPodStatus(pod, { phase: "Succeeded" }, new Date().toISOString()))
  cluster.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: backupDir }]))
  return cluster
}

/** The failure an exit holds (its first), or "succeeded". */
export const errorOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"

/** Through `layer`: the read of `backup-status`, a watch's first event, and the sha256 of `cat /backup/<file>` in `held`. */
export const readWatchExec = async (layer: Layer.Layer<Kube, unknown>, file: string) => {
  const exitOf = <A, E>(program: (kube: Kube["Service"]) => Effect.Effect<A, E>) =>
    Effect.runPromiseExit(Effect.flatMap(Kube, program).pipe(Effect.provide(layer)))
  return {
    get: await exitOf((kube) => kube.configMaps.get(ns, "backup-status")),
    watched: await exitOf((kube) => kube.configMaps.watch(ns, { name: "backup-status" }).pipe(Stream.take(1), Stream.runCollect)),
    exec: await exitOf((kube) =>
      kube.pods.exec(ns, "held", "backup-hold", ["cat", "--", `/backup/${file}`]).pipe(
        Stream.runFold(
          () => [] as Array<Uint8Array>,
          (chunks, chunk) => {
            chunks.push(chunk)
            return chunks
          },
        ),
        Effect.map((chunks) => sha256(Buffer.concat(chunks))),
      ),
    ),
  }
}
