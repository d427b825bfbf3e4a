/**
 * Benchmark: `backup-pod --copy-to`'s copy of a held backup off its pod (`copyHeldBackup`: `cat` over `pods/exec`, each
 * file checked against the manifest), live over the stub API server's WebSocket in this process, from a pod whose
 * /backup is a directory here holding a snapshot of `--mib` random bytes. Prints the wall time, the throughput and this
 * process's peak RSS, which holds both ends (the stub server and the client) and is sampled every 50 ms. Not part of
 * `npm run bench`: no target is set for the copy, and no reference tool (`oc cp`) runs here without a cluster.
 *
 *   node bench/copy-off-pod.ts [--mib 512]
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { backupFileNames, manifestFileName } from "../src/domain/archive-names.ts"
import { encodeBackupManifest } from "../src/domain/backup-manifest.ts"
import { copyHeldBackup } from "../src/programs/backup-pod/copy-held-backup.ts"
import { DiskSpace } from "../src/services/disk-space.ts"
import { exposeGc } from "../src/services/etcd/minor-gc.ts"
import { Kube } from "../src/services/kube/kube.ts"
import { KubeConfigSource } from "../src/services/kube/live-transport.ts"
import { podType } from "../src/services/kube/resources.ts"
import { startSimulatedApiServer, writeKubeconfig } from "../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../src/simulation/simulated-cluster.ts"
import { localExecHandler } from "../src/simulation/simulated-exec.ts"
import { heldPodStatus } from "../src/simulation/simulated-kubelet.ts"
import { writeFakeBackup } from "../test/support/fake-backups.ts"

// As the command line does at start-up (src/cli/main.ts).
exposeGc()
const { values } = parseArgs({ options: { mib: { type: "string", default: "512" } } })
const mib = Number(values.mib)
const bytes = mib * 1024 * 1024
const ts = "2026-12-07_100000"
const work = mkdtempSync(join(tmpdir(), "copy-off-pod-"))
try {
  // The snapshot written by the shell, not from a buffer here: that buffer would stay in this process's RSS.
  const podDir = join(work, "pod")
  writeFakeBackup(podDir, ts, { snapshotBytes: 1, resourcesBytes: 64 * 1024 })
  const snapshot = join(podDir, backupFileNames(ts, false).snapshot)
  execFileSync("sh", ["-c", 'head -c "$1" /dev/urandom > "$2"', "sh", String(bytes), snapshot])
  const manifest = JSON.parse(readFileSync(join(podDir, manifestFileName), "utf8"))
  manifest.files.snapshot = { ...manifest.files.snapshot, size: bytes, sha256: execFileSync("sha256sum", [snapshot]).toString().slice(0, 64) }
  manifest.etcd.memberDbSize = bytes
  delete manifest.manifestSha256
  writeFileSync(join(podDir, manifestFileName), encodeBackupManifest(manifest))

  const cluster = makeSimulatedCluster()
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "held", namespace: "openshift-etcd" },
    spec: { containers: [{ name: "backup-hold", image: "x" }] },
  }
  const created = cluster.create(podType, pod)
  if (created._tag !== "Success") throw new Error("the pod was not created")
  cluster.updateStatus(podType, "openshift-etcd", "held", heldPodStatus(created.success, { phase: "Succeeded" }, new Date().toISOString()))
  cluster.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: podDir }]))
  const server = await startSimulatedApiServer(cluster)
  const kubeconfig = join(work, "kubeconfig")
  await Effect.runPromise(writeKubeconfig(kubeconfig, { url: server.url, token: server.token }))

  const before = process.memoryUsage.rss()
  let peak = before
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50)
  const started = performance.now()
  await Effect.runPromise(
    copyHeldBackup("openshift-etcd", "held", ts, join(work, "copy")).pipe(
      Effect.provide(Layer.mergeAll(Kube.live(KubeConfigSource.file(kubeconfig)), NodeServices.layer, DiskSpace.live)),
    ),
  )
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  await server.close()
  const inMiB = (n: number) => (n / 1048576).toFixed(0)
  console.log(
    `${mib} MiB copied off the pod in ${seconds.toFixed(2)} s (${(mib / seconds).toFixed(0)} MiB/s); RSS ${inMiB(before)} MiB before, peak ${inMiB(peak)} MiB (both ends)`,
  )
} finally {
  rmSync(work, { recursive: true, force: true })
}
