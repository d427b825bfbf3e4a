/** Owner-reference garbage collection in the simulated cluster: a deleted policy's pods go too. */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { backupPolicyType, configMapType, podType } from "../../src/services/kube/resources.ts"
import { collectGarbage, type StoredObject } from "../../src/simulation/garbage-collection.ts"
import { makeSimulatedCluster, type Obj, type SimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { meta, ok, watchLines } from "./simulated-cluster-helpers.ts"

const ownerRef = (owner: Obj) => ({
  apiVersion: String(owner.apiVersion),
  kind: String(owner.kind),
  name: String(meta(owner).name),
  uid: String(meta(owner).uid),
  controller: true,
  blockOwnerDeletion: true,
})
const pod = (cluster: SimulatedCluster, name: string, owners: ReadonlyArray<Obj>) =>
  ok(
    cluster.create(podType, {
      metadata: { name, namespace: "openshift-etcd", ownerReferences: owners.map(ownerRef) },
      spec: { containers: [{ name: "c", image: "i" }] },
    }),
  )

describe("simulated garbage collector", () => {
  it("deletes a policy's pods (and what they own) when the policy is deleted; a pod with another live owner only loses the reference", () => {
    const cluster = makeSimulatedCluster()
    const policy = ok(cluster.create(backupPolicyType, { metadata: { name: "hourly" }, spec: {} }))
    const other = ok(cluster.create(configMapType, { metadata: { name: "keeper", namespace: "openshift-etcd" } }))
    const first = pod(cluster, "backup-1", [policy])
    pod(cluster, "backup-2", [policy])
    pod(cluster, "shared", [policy, other])
    pod(cluster, "manual", [])
    ok(cluster.create(configMapType, { metadata: { name: "scratch", namespace: "openshift-etcd", ownerReferences: [ownerRef(first)] } }))
    const { lines } = watchLines(cluster, { type: podType, namespace: "openshift-etcd", resourceVersion: cluster.resourceVersion() })

    ok(cluster.remove(backupPolicyType, undefined, "hourly"))

    expect(cluster.list(podType, "openshift-etcd").map((o) => meta(o).name)).toEqual(["manual", "shared"])
    expect(meta(cluster.get(podType, "openshift-etcd", "shared")!).ownerReferences).toEqual([ownerRef(other)])
    expect(cluster.get(configMapType, "openshift-etcd", "scratch")).toBeUndefined()
    expect(cluster.get(configMapType, "openshift-etcd", "keeper")).toBeDefined()
    expect(lines.map((l) => `${l.type} ${meta(l.object).name}`).sort()).toEqual(["DELETED backup-1", "DELETED backup-2", "MODIFIED shared"])
  })

  it("leaves everything else alone when an object nobody owns is deleted", () => {
    const cluster = makeSimulatedCluster()
    const policy = ok(cluster.create(backupPolicyType, { metadata: { name: "hourly" }, spec: {} }))
    pod(cluster, "backup-1", [policy])
    const before = cluster.resourceVersion()
    Result.getOrThrow(cluster.create(configMapType, { metadata: { name: "c", namespace: "openshift-etcd" } }))
    ok(cluster.remove(configMapType, "openshift-etcd", "c"))
    expect(Number(cluster.resourceVersion())).toBe(Number(before) + 2)
    expect(cluster.get(podType, "openshift-etcd", "backup-1")).toBeDefined()
  })

  const uids = ["u0", "u1", "u2", "u3", "u4", "u5"]
  const store = fc
    .uniqueArray(fc.constantFrom(...uids), { minLength: 1 })
    .chain((present) => fc.tuple(fc.constant(present), fc.tuple(...present.map(() => fc.subarray([...uids, ""]))), fc.constantFrom(...uids)))
    .map(([present, owners, gone]): [ReadonlyArray<StoredObject>, string] => [
      present
        .filter((uid) => uid !== gone)
        .map((uid, i) => ({ type: podType, obj: { metadata: { name: uid, uid, ownerReferences: (owners[i] ?? []).map((owner) => ({ uid: owner })) } } })),
      gone,
    ])

  test.prop([store])(
    "touches exactly the dependents of the deleted owner: deleted when no owner is left, else keeping only the present owners",
    ([stored, gone]) => {
      const present = new Set(stored.map(({ obj }) => meta(obj).uid))
      const actions = collectGarbage(stored, gone)
      const refsOf = (obj: Obj) => (meta(obj).ownerReferences as ReadonlyArray<{ uid: string }>).map((r) => r.uid)
      expect(actions.map((a) => a.target)).toEqual(stored.filter(({ obj }) => refsOf(obj).includes(gone)))
      for (const action of actions) {
        const live = refsOf(action.target.obj).filter((uid) => uid !== gone && present.has(uid))
        if (action._tag === "Delete") expect(live).toEqual([])
        else expect(action.ownerReferences.map((r) => (r as { uid: string }).uid)).toEqual(live)
        if (action._tag === "Unlink") expect(live.length).toBeGreaterThan(0)
      }
    },
  )
})
