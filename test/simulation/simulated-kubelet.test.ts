/** The simulated kubelet finishes a policy's backup pod with backup-upload's report, as the operator reads it. */
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseBackupPodReport } from "../../src/domain/backup-pod-report.ts"
import { revisionsAnnotation } from "../../src/domain/backup-pod-names.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { Kube } from "../../src/services/kube/kube.ts"
import { podType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import { failedUpload, simulatedBackupReport, uploadContainer, uploadedBackup } from "../../src/simulation/simulated-kubelet.ts"
import { ok } from "./simulated-cluster-helpers.ts"

const revisions = { etcd: 7, "kube-apiserver": 12, "kube-controller-manager": 5, "kube-scheduler": 4 }
const container = (name: string) => ({ name, image: "registry.example/backup:1" })
const policyPod = {
  metadata: { name: "hourly-29000000", namespace: "openshift-etcd", annotations: { [revisionsAnnotation]: formatRevisionSet(revisions) } },
  spec: { initContainers: ["backup-init", "backup-create", uploadContainer].map(container), containers: [container("hold")] },
}

/** The pod as the operator reads it through the Kube service. */
const read = (cluster: ReturnType<typeof makeSimulatedCluster>) =>
  Effect.runPromise(Effect.flatMap(Kube, (kube) => kube.pods.get("openshift-etcd", "hourly-29000000")).pipe(Effect.provide(SimulatedKube.inMemory(cluster))))

describe("simulated kubelet: a policy's backup pod", () => {
  it("ends Succeeded with backup-upload's report as its termination message; the report carries the pod's revisions and parses back", async () => {
    const cluster = makeSimulatedCluster()
    const stored = ok(cluster.create(podType, policyPod))
    const report = simulatedBackupReport(stored, new Date("2026-12-02T15:00:07.250Z"), { totalBytes: 99, verified: false })
    ok(cluster.terminatePod("openshift-etcd", "hourly-29000000", uploadedBackup(report)))
    const pod = await read(cluster)
    expect(pod.status?.phase).toBe("Succeeded")
    const upload = pod.status?.initContainerStatuses?.find((c) => c.name === uploadContainer)
    expect(Result.getOrThrow(parseBackupPodReport(upload?.state?.terminated?.message ?? ""))).toEqual(report)
    expect(report).toMatchObject({ revisions, time: "2026-12-02T15:00:07Z", totalBytes: 99, verified: false })
  })

  it("ends Failed with backup-upload's exit 1 and message when the upload failed", async () => {
    const cluster = makeSimulatedCluster()
    ok(cluster.create(podType, policyPod))
    ok(cluster.terminatePod("openshift-etcd", "hourly-29000000", failedUpload("the store s3://etcd-backups is unreachable")))
    const pod = await read(cluster)
    expect(pod.status?.phase).toBe("Failed")
    expect(pod.status?.initContainerStatuses?.find((c) => c.name === uploadContainer)?.state?.terminated).toMatchObject({
      exitCode: 1,
      reason: "Error",
      message: "the store s3://etcd-backups is unreachable",
    })
  })
})
