import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { readLatestAvailableRevision } from "../../src/domain/revisions.ts"
import { configMapType, operatorTypes } from "../../src/services/kube/resources.ts"
import { redeploymentControllers } from "../../src/simulation/redeployment-controllers.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"

const ask = (cluster: ReturnType<typeof loadedCluster>["cluster"], reason: string) => {
  const cr = cluster.get(operatorTypes.etcd, undefined, "cluster")!
  Result.getOrThrow(cluster.replace(operatorTypes.etcd, { ...cr, spec: { ...(cr.spec as object), forceRedeploymentReason: reason } }))
}

describe("the simulated operators' answer to a forced redeployment", () => {
  it("makes a revision for the new reason (copied into the pod ConfigMaps), installs it on one node, then on all", () => {
    const { cluster, fixture } = loadedCluster()
    const controllers = redeploymentControllers(cluster, fixture, { rolloutTicks: 2 })
    const cr = () => cluster.get(operatorTypes.etcd, undefined, "cluster")!
    const before = Result.getOrThrow(readLatestAvailableRevision(cr()))
    controllers.tick()
    expect(controllers.records).toEqual([])
    ask(cluster, "recovery-1")
    controllers.tick()
    expect(Result.getOrThrow(readLatestAvailableRevision(cr()))).toBe(before + 1)
    const nodes = () => (cr().status as { nodeStatuses: ReadonlyArray<{ currentRevision?: number; targetRevision?: number }> }).nodeStatuses
    expect(nodes().map((n) => n.currentRevision)).toEqual([before, before, before])
    expect(nodes()[0]!.targetRevision).toBe(before + 1)
    for (const name of ["etcd-pod", `etcd-pod-${before + 1}`])
      expect((cluster.get(configMapType, "openshift-etcd", name)!.data as Record<string, string>).forceRedeploymentReason).toBe("recovery-1")
    controllers.tick()
    controllers.tick()
    expect(nodes().map((n) => n.currentRevision)).toEqual([before + 1, before + 1, before + 1])
    expect(controllers.records).toEqual([
      { operand: "etcd", what: "Asked", revision: before + 1 },
      { operand: "etcd", what: "RolledOut", revision: before + 1 },
    ])
  })

  it("started, stops on a write the cluster refuses and says why, instead of throwing out of its timer", async () => {
    const { cluster, fixture } = loadedCluster()
    const controllers = redeploymentControllers(cluster, fixture)
    // The next revision's ConfigMap is in the way: making the revision fails (AlreadyExists).
    const next = Result.getOrThrow(readLatestAvailableRevision(cluster.get(operatorTypes.etcd, undefined, "cluster"))) + 1
    Result.getOrThrow(cluster.create(configMapType, { metadata: { name: `revision-status-${next}`, namespace: "openshift-etcd" }, data: {} }))
    controllers.start(5)
    ask(cluster, "recovery-2")
    for (let i = 0; i < 100 && controllers.failure() === undefined; i++) await new Promise((r) => setTimeout(r, 5))
    controllers.stop()
    expect(controllers.failure()).toMatch(/the simulated operator could not write: .*revision-status-\d+.*already exists/)
  })
})
