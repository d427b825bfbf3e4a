/** The simulated cluster serves the BackupPolicy CRD as the API server serves a custom resource with a status subresource. */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { backupPolicyType, configMapType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type ApiRequest, type Obj, type SimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { backupPolicyAdmission } from "../support/crd-admission.ts"
import { failure, meta, ok, rv, watchLines } from "./simulated-cluster-helpers.ts"

const spec = { schedule: "0 * * * *", store: { pvc: { claimName: "backups" } } }
const request = (cluster: SimulatedCluster, r: Omit<ApiRequest, "type">) => cluster.execute({ type: backupPolicyType, ...r })
const created = (cluster: SimulatedCluster): Obj =>
  ok(request(cluster, { verb: "create", body: { metadata: { name: "hourly", namespace: "openshift-etcd", generation: 7 }, spec, status: { x: 1 } } })) as Obj

describe("simulated cluster: BackupPolicy, a cluster-scoped custom resource", () => {
  it("is cluster-scoped: a namespace on the request or in the body is dropped, and the object is found without one", () => {
    const cluster = makeSimulatedCluster()
    const policy = ok(
      cluster.execute({ type: backupPolicyType, verb: "create", namespace: "openshift-etcd", body: { metadata: { name: "a", namespace: "x" }, spec } }),
    )
    expect(meta(policy).namespace).toBeUndefined()
    expect(cluster.get(backupPolicyType, undefined, "a")).toBeDefined()
    expect(cluster.list(backupPolicyType, "anywhere").map((o) => meta(o).name)).toEqual(["a"])
  })

  it("sets metadata.generation to 1 on create and bumps it on spec changes only, never from the client's value", () => {
    const cluster = makeSimulatedCluster()
    const v1 = created(cluster)
    expect(meta(v1).generation).toBe(1)
    const labelled = ok(request(cluster, { verb: "patch", name: "hourly", body: { metadata: { labels: { team: "etcd" }, generation: 40 } } }))
    expect(meta(labelled).generation).toBe(1)
    expect(rv(labelled)).toBeGreaterThan(rv(v1))
    const edited = ok(request(cluster, { verb: "patch", name: "hourly", body: { spec: { suspend: true } } }))
    expect(meta(edited).generation).toBe(2)
    const replaced = ok(request(cluster, { verb: "update", name: "hourly", body: { ...(edited as Obj), spec } }))
    expect(meta(replaced).generation).toBe(3)
    const statusOnly = ok(request(cluster, { verb: "update", name: "hourly", subresource: "status", body: { ...(replaced as Obj), status: { y: 2 } } }))
    expect(meta(statusOnly).generation).toBe(3)
  })

  const edit = fc.oneof(
    fc.record({ kind: fc.constant("spec" as const), suspend: fc.boolean() }),
    fc.record({ kind: fc.constant("label" as const), value: fc.constantFrom("a", "b") }),
    fc.record({ kind: fc.constant("status" as const), value: fc.nat(3) }),
  )
  test.prop([fc.array(edit, { maxLength: 12 })])("generation is 1 plus the number of writes that changed the spec, whatever else they changed", (edits) => {
    const cluster = makeSimulatedCluster()
    created(cluster)
    let specChanges = 0
    for (const e of edits) {
      const before = cluster.get(backupPolicyType, undefined, "hourly")!
      const body =
        e.kind === "spec" ? { spec: { suspend: e.suspend } } : e.kind === "label" ? { metadata: { labels: { team: e.value } } } : { status: { n: e.value } }
      const after = ok(request(cluster, { verb: "patch", name: "hourly", body, ...(e.kind === "status" ? { subresource: "status" as const } : {}) })) as Obj
      if (JSON.stringify(after.spec) !== JSON.stringify(before.spec)) specChanges++
    }
    expect(meta(cluster.get(backupPolicyType, undefined, "hourly")!).generation).toBe(1 + specChanges)
  })

  it("ignores status on create and on writes to the object; a write that only changes status there is a no-op", () => {
    const cluster = makeSimulatedCluster()
    const v1 = created(cluster)
    expect(v1.status).toBeUndefined()
    const { lines } = watchLines(cluster, { type: backupPolicyType, resourceVersion: cluster.resourceVersion() })
    const same = ok(request(cluster, { verb: "update", name: "hourly", body: { ...v1, status: { x: 2 } } }))
    expect(rv(same)).toBe(rv(v1))
    expect((same as Obj).status).toBeUndefined()
    expect(lines).toEqual([])
  })

  it("writes only status through /status: put and merge patch; spec, labels and generation in the body are ignored", () => {
    const cluster = makeSimulatedCluster()
    const v1 = created(cluster)
    const put = ok(
      request(cluster, {
        verb: "update",
        name: "hourly",
        subresource: "status",
        body: { ...v1, metadata: { ...meta(v1), labels: { sneaky: "yes" }, generation: 9 }, spec: { suspend: true }, status: { phase: "a" } },
      }),
    ) as Obj
    expect(put.status).toEqual({ phase: "a" })
    expect(put.spec).toEqual(spec)
    expect(meta(put).labels).toBeUndefined()
    expect(meta(put).generation).toBe(1)
    const patched = ok(request(cluster, { verb: "patch", name: "hourly", subresource: "status", body: { spec: { x: 1 }, status: { other: 2 } } })) as Obj
    expect(patched.status).toEqual({ phase: "a", other: 2 })
    expect(patched.spec).toEqual(spec)
    const { status: _gone, ...withoutStatus } = patched
    const cleared = ok(request(cluster, { verb: "update", name: "hourly", subresource: "status", body: withoutStatus })) as Obj
    expect(cleared.status).toBeUndefined()
    expect(ok(request(cluster, { verb: "get", name: "hourly", subresource: "status" }))).toEqual(cleared)
  })

  it("answers /status writes with 409 when stale, 404 when missing, 405 for other verbs, and 404 on a type without the subresource", () => {
    const cluster = makeSimulatedCluster()
    const v1 = created(cluster)
    ok(request(cluster, { verb: "update", name: "hourly", subresource: "status", body: { ...v1, status: { n: 1 } } }))
    expect(failure(request(cluster, { verb: "update", name: "hourly", subresource: "status", body: { ...v1, status: { n: 2 } } }))).toMatchObject({
      code: 409,
      reason: "Conflict",
    })
    expect(failure(request(cluster, { verb: "update", name: "nope", subresource: "status", body: { metadata: { name: "nope" } } }))).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: 'backuppolicies.backup.openshift.io "nope" not found',
    })
    expect(failure(request(cluster, { verb: "delete", name: "hourly", subresource: "status" }))).toMatchObject({ code: 405 })
    expect(failure(request(cluster, { verb: "update", name: "other", subresource: "status", body: { metadata: { name: "hourly" } } }))).toMatchObject({
      code: 404,
    })
    ok(cluster.execute({ type: configMapType, verb: "create", namespace: "ns", body: { metadata: { name: "c" } } }))
    expect(
      failure(cluster.execute({ type: configMapType, verb: "update", namespace: "ns", name: "c", subresource: "status", body: { metadata: { name: "c" } } })),
    ).toMatchObject({ code: 404 })
    expect(Result.isSuccess(request(cluster, { verb: "get", name: "hourly" }))).toBe(true)
  })

  it("rejects a /status write whose body names another object", () => {
    const cluster = makeSimulatedCluster()
    const v1 = created(cluster)
    const { resourceVersion: _rv, ...unconditional } = meta(v1)
    expect(
      failure(request(cluster, { verb: "update", name: "hourly", subresource: "status", body: { metadata: { ...unconditional, name: "x" }, status: {} } })),
    ).toMatchObject({ code: 400 })
  })
})

describe("simulated cluster with the BackupPolicy CRD's admission (defaults, schema, CEL)", () => {
  const admitted = () => makeSimulatedCluster({ admission: backupPolicyAdmission() })

  it("stores a policy with the CRD's defaults filled in, and refuses a bad one (422) naming the field, on create, update and /status", () => {
    const cluster = admitted()
    const v1 = created(cluster)
    expect(v1.spec).toMatchObject({ ...spec, onRevisionChange: false, minInterval: "1h", suspend: false, verify: "Full", successfulPodsHistoryLimit: 3 })
    expect(failure(request(cluster, { verb: "create", body: { metadata: { name: "no-trigger" }, spec: { store: spec.store } } }))).toMatchObject({
      code: 422,
      reason: "Invalid",
      message: expect.stringContaining("a policy needs a trigger"),
    })
    expect(failure(request(cluster, { verb: "patch", name: "hourly", body: { spec: { successfulPodsHistoryLimit: -1 } } }))).toMatchObject({
      code: 422,
      message: expect.stringContaining("spec.successfulPodsHistoryLimit"),
    })
    expect(failure(request(cluster, { verb: "patch", name: "hourly", subresource: "status", body: { status: { nextScheduleTime: "soon" } } }))).toMatchObject({
      code: 422,
      message: expect.stringContaining("status.nextScheduleTime"),
    })
    expect(meta(cluster.get(backupPolicyType, undefined, "hourly")!).resourceVersion).toBe(meta(v1).resourceVersion)
  })

  it("counts a spec change the defaults undo as no change: the same generation", () => {
    const cluster = admitted()
    const v1 = created(cluster)
    const same = ok(request(cluster, { verb: "update", name: "hourly", body: { ...v1, spec } }))
    expect(meta(same).generation).toBe(1)
    expect(rv(same)).toBe(rv(v1))
  })
})
