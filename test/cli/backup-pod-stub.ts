/** The stub API server over a cluster whose operator rendered the backup pod, and a kubelet that runs such pods as a test says. */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { onTestFinished } from "vitest"
import { backupPodConfigMapName, backupPodYamlKey } from "../../src/domain/operator-desired-state.ts"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { configMapType, podType } from "../../src/services/kube/resources.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { localExecHandler } from "../../src/simulation/simulated-exec.ts"
import { ns } from "../programs/operator/reconcile-harness.ts"
import { tempDir } from "../support/temp-dir.ts"

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
export type PodObj = {
  metadata: { name: string }
  spec: { initContainers: ReadonlyArray<{ name: string }> }
  status?: { initContainerStatuses?: ReadonlyArray<unknown> }
}

/**
 * The stub API server over a cluster with the rendered pod (closed when the test ends), and a kubelet that ends each pod's init containers with
 * `exitCode`; given `backupDir`, the pod's hold container then runs with that directory as its /backup.
 */
export const backupPodStub = async (exitCode: number, backupDir?: string) => {
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
  onTestFinished(async () => {
    clearInterval(kubelet)
    await server.close()
  })
  return { simulated, kubeconfig }
}
