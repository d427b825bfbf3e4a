/** `cluster-backup backup-pod` over real HTTP against the stub API server, with a kubelet that runs the pod as the test says. */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { backupPodConfigMapName, backupPodYamlKey } from "../../src/domain/operator-desired-state.ts"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { configMapType, podType } from "../../src/services/kube/resources.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { ns } from "../programs/operator/reconcile-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { localExecHandler } from "../../src/simulation/simulated-exec.ts"
import { writeFakeBackup } from "../support/fake-backups.ts"
import { tempDir } from "../support/temp-dir.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
type PodObj = {
  metadata: { name: string }
  spec: { initContainers: ReadonlyArray<{ name: string }> }
  status?: { initContainerStatuses?: ReadonlyArray<unknown> }
}

/**
 * The stub API server over a cluster with the rendered pod, and a kubelet that ends each pod's init containers with
 * `exitCode`; given `backupDir`, the pod's hold container then runs with that directory as its /backup.
 */
const cluster = async (exitCode: number, backupDir?: string) => {
  const simulated = makeSimulatedCluster()
  Result.getOrThrow(
    simulated.create(configMapType, {
      metadata: { name: backupPodConfigMapName, namespace: ns },
      data: { [backupPodYamlKey]: renderBackupPodYaml(revisions, { namespace: ns }) },
    }),
  )
  const server = await startSimulatedApiServer(simulated)
  const kubeconfig = join(tempDir("backup-pod"), "kubeconfig")
  writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
  const kubelet = setInterval(() => {
    for (const pod of simulated.list(podType, ns) as unknown as ReadonlyArray<PodObj>) {
      if (pod.status?.initContainerStatuses !== undefined) continue
      const finishedAt = new Date().toISOString()
      const initContainerStatuses = pod.spec.initContainers.map((c, i) => ({
        name: c.name,
        state: { terminated: { exitCode: i === 0 ? exitCode : 0, finishedAt, ...(exitCode === 0 ? {} : { message: "etcd did not answer" }) } },
      }))
      const statuses = exitCode === 0 ? initContainerStatuses : initContainerStatuses.slice(0, 1)
      const holding = backupDir === undefined ? {} : { containerStatuses: [{ name: "backup-hold", state: { running: { startedAt: finishedAt } } }] }
      Result.getOrThrow(
        simulated.updateStatus(podType, ns, pod.metadata.name, { phase: exitCode === 0 ? "Running" : "Failed", initContainerStatuses: statuses, ...holding }),
      )
    }
  }, 50)
  if (backupDir !== undefined) simulated.setExecHandler(localExecHandler(() => [{ containerPath: "/backup", hostPath: backupDir }]))
  cleanups.push(async () => {
    clearInterval(kubelet)
    await server.close()
  })
  return { simulated, kubeconfig }
}

describe("cluster-backup backup-pod", () => {
  it("creates the rendered pod, follows it until the backup is held, and prints the oc cp command (--json)", async () => {
    const { simulated, kubeconfig } = await cluster(0)
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--json"])
    expect(run.status, run.stderr).toBe(0)
    const [pod] = simulated.list(podType, ns) as unknown as ReadonlyArray<PodObj>
    expect(JSON.parse(run.stdout)).toEqual({
      namespace: ns,
      pod: pod!.metadata.name,
      revisions: "etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6",
      copy: `oc cp -c backup-hold ${ns}/${pod!.metadata.name}:/backup ./backup`,
    })
    expect(run.stderr).toContain(`created pod ${pod!.metadata.name} in ${ns} from ConfigMap cluster-backup-pod`)
  }, 60_000)

  it("--copy-to copies the held backup off the pod over pods/exec, each file checked, and says where (--json: copiedTo)", async () => {
    const podDir = tempDir("held")
    writeFakeBackup(podDir, "2026-12-07_100000", { snapshotBytes: 2 * 1024 * 1024 })
    const { kubeconfig } = await cluster(0, podDir)
    const copyTo = join(tempDir("copy-to"), "backup")
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--json", "--copy-to", copyTo])
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ copiedTo: copyTo })
    expect(run.stderr).toContain(`copied backup 2026-12-07_100000 into ${copyTo}`)
    const copied = readdirSync(copyTo).sort()
    expect(copied).toEqual(["backup-manifest.json", "snapshot_2026-12-07_100000.db", "static_kuberesources_2026-12-07_100000.tar.gz"])
    for (const name of copied) expect(readFileSync(join(copyTo, name)).equals(readFileSync(join(podDir, name)))).toBe(true)
  }, 60_000)

  it("exits 1 naming the init container that failed", async () => {
    const { kubeconfig } = await cluster(1)
    const run = await runCli(["backup-pod", "--kubeconfig", kubeconfig, "--poll-interval", "100ms"])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/the backup failed: init container backup-init of pod \S+ exited with code 1: etcd did not answer.*\[BackupPodFailed\]/)
  }, 60_000)
})
