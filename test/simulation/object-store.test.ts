/** The object store's API semantics (src/simulation/object-store.ts), through the simulated cluster. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  backupPolicyType,
  configMapType,
  eventNamespaceFor,
  eventType,
  leaseType,
  operatorTypes,
  podType,
  secretType,
} from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj } from "../../src/simulation/simulated-cluster.ts"
import { cm, exec, failure, meta, ok, rv, watchLines } from "./simulated-cluster-helpers.ts"

describe("simulated cluster: writes", () => {
  it("assigns uid, creationTimestamp and a strictly increasing resourceVersion", () => {
    const cluster = makeSimulatedCluster({ now: () => new Date("2024-01-02T03:04:05.678Z") })
    const a = ok(exec(cluster, { verb: "create", body: cm("a") }))
    const b = ok(exec(cluster, { verb: "create", body: cm("b") }))
    expect(meta(a)).toMatchObject({ name: "a", namespace: "ns", creationTimestamp: "2024-01-02T03:04:05Z" })
    expect(meta(a).uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(meta(a).uid).not.toBe(meta(b).uid)
    expect(rv(b)).toBeGreaterThan(rv(a))
    expect(cluster.resourceVersion()).toBe(String(rv(b)))
  })

  it("answers AlreadyExists for a taken name and NotFound for a missing one", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("a") }))
    expect(failure(exec(cluster, { verb: "create", body: cm("a") }))).toMatchObject({ code: 409, reason: "AlreadyExists" })
    expect(failure(exec(cluster, { verb: "get", name: "b" }))).toMatchObject({ code: 404, reason: "NotFound", message: 'configmaps "b" not found' })
    expect(failure(exec(cluster, { verb: "update", name: "b", body: cm("b") }))).toMatchObject({ code: 404 })
    expect(failure(exec(cluster, { verb: "delete", name: "b" }))).toMatchObject({ code: 404 })
  })

  it("generates distinct names from generateName", () => {
    const cluster = makeSimulatedCluster()
    const names = Array.from({ length: 20 }, () =>
      String(meta(ok(exec(cluster, { verb: "create", body: { metadata: { generateName: "backup-" }, data: {} } }))).name),
    )
    expect(new Set(names).size).toBe(20)
    for (const name of names) expect(name).toMatch(/^backup-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
  })

  it("rejects a stale resourceVersion with Conflict and accepts an update without one", () => {
    const cluster = makeSimulatedCluster()
    const v1 = ok(exec(cluster, { verb: "create", body: cm("a", { k: "1" }) })) as Obj
    const v2 = ok(exec(cluster, { verb: "update", name: "a", body: { ...v1, data: { k: "2" } } })) as Obj
    expect(failure(exec(cluster, { verb: "update", name: "a", body: { ...v1, data: { k: "3" } } }))).toMatchObject({
      code: 409,
      reason: "Conflict",
    })
    const { resourceVersion: _dropped, ...unconditional } = meta(v1)
    const v3 = ok(exec(cluster, { verb: "update", name: "a", body: { ...v1, metadata: unconditional, data: { k: "4" } } }))
    expect(rv(v3)).toBeGreaterThan(rv(v2))
    expect(cluster.get(configMapType, "ns", "a")?.data).toEqual({ k: "4" })
    expect(meta(v3).uid).toBe(meta(v1).uid)
  })

  it("treats a write that changes nothing as a no-op: same resourceVersion, no watch event", () => {
    const cluster = makeSimulatedCluster()
    const created = ok(exec(cluster, { verb: "create", body: cm("a", { k: "1" }) })) as Obj
    const { lines } = watchLines(cluster, { type: configMapType, namespace: "ns", resourceVersion: cluster.resourceVersion() })
    const same = ok(exec(cluster, { verb: "update", name: "a", body: created }))
    const patched = ok(exec(cluster, { verb: "patch", name: "a", body: { data: { k: "1" } } }))
    expect(rv(same)).toBe(rv(created))
    expect(rv(patched)).toBe(rv(created))
    expect(lines).toEqual([])
  })

  it("applies merge patches, with a resourceVersion in the patch as a precondition", () => {
    const cluster = makeSimulatedCluster()
    const created = ok(exec(cluster, { verb: "create", body: cm("a", { keep: "1", drop: "2" }, { x: "1" }) }))
    const patched = ok(exec(cluster, { verb: "patch", name: "a", body: { data: { drop: null, add: "3" }, metadata: { labels: { y: "2" } } } }))
    expect((patched as Obj).data).toEqual({ keep: "1", add: "3" })
    expect(meta(patched).labels).toEqual({ x: "1", y: "2" })
    expect(
      failure(exec(cluster, { verb: "patch", name: "a", body: { metadata: { resourceVersion: meta(created).resourceVersion }, data: { z: "1" } } })),
    ).toMatchObject({ code: 409, reason: "Conflict" })
    expect(failure(exec(cluster, { verb: "patch", name: "a", body: [1] }))).toMatchObject({ code: 400 })
    expect(failure(exec(cluster, { verb: "patch", name: "a", body: { metadata: { name: "b" } } }))).toMatchObject({ code: 400 })
  })

  it("validates like the API server: names, keys, base64, size, pods without containers", () => {
    const cluster = makeSimulatedCluster()
    expect(failure(exec(cluster, { verb: "create", body: cm("Bad_Name") }))).toMatchObject({ code: 422, reason: "Invalid" })
    expect(failure(exec(cluster, { verb: "create", body: cm("a", { "bad key": "x" }) }))).toMatchObject({ code: 422 })
    const secret = failure(
      cluster.execute({ type: secretType, verb: "create", namespace: "ns", body: { metadata: { name: "s" }, data: { k: "not base64!" } } }),
    )
    expect(secret).toMatchObject({ code: 422 })
    expect(secret.message).not.toContain("not base64!")
    expect(failure(exec(cluster, { verb: "create", body: cm("big", { k: "x".repeat(1024 * 1024 + 1) }) }))).toMatchObject({ code: 422 })
    expect(failure(cluster.execute({ type: podType, verb: "create", namespace: "ns", body: { metadata: { name: "p" }, spec: {} } }))).toMatchObject({
      code: 422,
    })
    expect(failure(exec(cluster, { verb: "create", body: { metadata: { name: "a", resourceVersion: "5" } } }))).toMatchObject({ code: 400 })
    expect(failure(exec(cluster, { verb: "create", body: { metadata: { name: "a", namespace: "other" } } }))).toMatchObject({ code: 400 })
  })

  it("cannot decode a Lease time without microseconds (MicroTime), as the API answers 400", () => {
    const cluster = makeSimulatedCluster()
    const lease = (renewTime: string) =>
      cluster.execute({
        type: leaseType,
        verb: "create",
        namespace: "ns",
        body: { metadata: { name: `l${renewTime.length}` }, spec: { holderIdentity: "a", renewTime } },
      })
    expect(failure(lease("2024-01-01T00:00:00Z"))).toMatchObject({ code: 400, reason: "BadRequest" })
    expect(Result.isSuccess(lease("2024-01-01T00:00:00.000000Z"))).toBe(true)
  })

  it("folds Secret stringData into base64 data", () => {
    const cluster = makeSimulatedCluster()
    const created = ok(cluster.execute({ type: secretType, verb: "create", namespace: "ns", body: { metadata: { name: "s" }, stringData: { token: "abc" } } }))
    expect((created as Obj).data).toEqual({ token: Buffer.from("abc").toString("base64") })
    expect((created as Obj).stringData).toBeUndefined()
  })

  it("requires events about cluster-scoped objects to live in default, others in the object's namespace", () => {
    const cluster = makeSimulatedCluster()
    const event = (namespace: string, involvedNamespace?: string) =>
      cluster.execute({
        type: eventType,
        verb: "create",
        namespace,
        body: {
          metadata: { generateName: "e-" },
          involvedObject: { kind: "Etcd", name: "cluster", ...(involvedNamespace === undefined ? {} : { namespace: involvedNamespace }) },
          reason: "R",
          message: "M",
          type: "Normal",
        },
      })
    expect(Result.isSuccess(event("default"))).toBe(true)
    expect(failure(event("openshift-etcd"))).toMatchObject({ code: 422 })
    expect(Result.isSuccess(event("openshift-etcd", "openshift-etcd"))).toBe(true)
    expect(failure(event("default", "openshift-etcd"))).toMatchObject({ code: 422 })
  })

  it("refuses an event about a cluster-scoped BackupPolicy in the operator's namespace, with or without eventTime, as the API server does", () => {
    const cluster = makeSimulatedCluster()
    const involvedObject = { apiVersion: "backup.openshift.io/v1alpha1", kind: "BackupPolicy", name: "hourly", uid: "u" }
    const newer = { eventTime: "2026-01-01T00:00:00.000000Z", reportingComponent: "cluster-backup-operator", reportingInstance: "pod-a", action: "Backup" }
    const event = (namespace: string, fields: Obj = {}) =>
      cluster.execute({
        type: eventType,
        verb: "create",
        namespace,
        body: { metadata: { generateName: "e-" }, involvedObject, reason: "BackupStarted", message: "M", type: "Normal", ...fields },
      })
    expect(failure(event("openshift-etcd"))).toMatchObject({ code: 422, message: expect.stringContaining("involvedObject.namespace") })
    expect(Result.isSuccess(event(eventNamespaceFor(backupPolicyType, undefined)))).toBe(true)
    expect(eventNamespaceFor(podType, "openshift-etcd")).toBe("openshift-etcd")
    expect(failure(event("openshift-etcd", newer))).toMatchObject({ code: 422, message: expect.stringContaining("involvedObject.namespace") })
    expect(Result.isSuccess(event("default", newer))).toBe(true)
    expect(Result.isSuccess(event("kube-system", newer))).toBe(true)
    expect(failure(event("default", { eventTime: newer.eventTime }))).toMatchObject({ code: 422, message: expect.stringContaining("reportingComponent") })
  })

  it("keeps status behind the status subresource for pods and operator CRs", () => {
    const cluster = makeSimulatedCluster()
    const pod = ok(
      cluster.execute({
        type: podType,
        verb: "create",
        namespace: "ns",
        body: { metadata: { name: "p" }, spec: { containers: [{ name: "c" }] }, status: { phase: "Succeeded" } },
      }),
    )
    expect((pod as Obj).status).toEqual({ phase: "Pending" })
    const cr = ok(
      cluster.create(operatorTypes.etcd, { metadata: { name: "cluster" }, spec: { managementState: "Managed" }, status: { latestAvailableRevision: 9 } }),
    )
    expect(cr.status).toBeUndefined()
    ok(cluster.updateStatus(operatorTypes.etcd, undefined, "cluster", { latestAvailableRevision: 3 }))
    const updated = ok(
      cluster.execute({
        type: operatorTypes.etcd,
        verb: "patch",
        name: "cluster",
        body: { spec: { logLevel: "Debug" }, status: { latestAvailableRevision: 99 } },
      }),
    )
    expect((updated as Obj).status).toEqual({ latestAvailableRevision: 3 })
    expect(((updated as Obj).spec as Obj).logLevel).toBe("Debug")
  })

  it("lets the simulated kubelet finish a pod with per-container exit codes and messages", () => {
    const cluster = makeSimulatedCluster()
    ok(
      cluster.execute({
        type: podType,
        verb: "create",
        namespace: "ns",
        body: { metadata: { name: "p" }, spec: { initContainers: [{ name: "init", image: "i" }], containers: [{ name: "main", image: "i" }] } },
      }),
    )
    const done = ok(cluster.terminatePod("ns", "p", { phase: "Failed", containers: { init: { exitCode: 2, message: "disk full" } } }))
    expect(done.status).toMatchObject({
      phase: "Failed",
      initContainerStatuses: [{ name: "init", state: { terminated: { exitCode: 2, reason: "Error", message: "disk full" } } }],
      containerStatuses: [{ name: "main", state: { terminated: { exitCode: 0, reason: "Completed" } } }],
    })
    expect(failure(cluster.terminatePod("ns", "nope", { phase: "Succeeded" }))).toMatchObject({ code: 404 })
  })
})
