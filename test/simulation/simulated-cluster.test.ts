import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Fault } from "../../src/simulation/faults.ts"
import { configMapType, eventType, leaseType, operatorTypes, podType, secretType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type ApiRequest, type Obj, type SimulatedCluster, type WatchLine } from "../../src/simulation/simulated-cluster.ts"

const ok = <A>(result: Result.Result<A, unknown>): A => Result.getOrThrow(result)
const failure = (result: Result.Result<unknown, { code: number; reason: string; message: string }>) => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}
const meta = (obj: unknown) => (obj as { metadata: Record<string, unknown> }).metadata
const rv = (obj: unknown) => Number(meta(obj).resourceVersion)
const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): Obj => ({
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
  data,
})
const exec = (cluster: SimulatedCluster, request: Omit<ApiRequest, "type"> & { type?: ApiRequest["type"] }) =>
  cluster.execute({ type: configMapType, namespace: "ns", ...request })

/** Collects the lines of a watch session. */
const watchLines = (cluster: SimulatedCluster, request: Parameters<SimulatedCluster["watch"]>[0]) => {
  const lines: Array<WatchLine> = []
  const ends: Array<boolean> = []
  const session = ok(cluster.watch(request))
  session.start({ onEvent: (l) => lines.push(l), onEnd: (abrupt) => ends.push(abrupt) })
  return { lines, ends, session }
}

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

describe("simulated cluster: reads and watches", () => {
  it("lists by namespace and label selector, sorted by name, with the current resourceVersion", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("b", {}, { app: "x" }) }))
    ok(exec(cluster, { verb: "create", body: cm("a", {}, { app: "x", done: "1" }) }))
    ok(exec(cluster, { verb: "create", namespace: "other", body: cm("c", {}, { app: "x" }) }))
    const list = ok(exec(cluster, { verb: "list", labelSelector: "app=x" })) as { items: Array<Obj>; metadata: Obj }
    expect(list.items.map((o) => meta(o).name)).toEqual(["a", "b"])
    expect(list.metadata.resourceVersion).toBe(cluster.resourceVersion())
    const notDone = ok(exec(cluster, { verb: "list", labelSelector: "app=x,!done" })) as { items: Array<Obj> }
    expect(notDone.items.map((o) => meta(o).name)).toEqual(["b"])
    expect(failure(exec(cluster, { verb: "list", labelSelector: "app in (" }))).toMatchObject({ code: 400 })
  })

  it("replays every change after a resourceVersion, then delivers live ones, in order", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("a") }))
    const from = cluster.resourceVersion()
    ok(exec(cluster, { verb: "patch", name: "a", body: { data: { k: "1" } } }))
    ok(exec(cluster, { verb: "create", body: cm("b") }))
    const { lines } = watchLines(cluster, { type: configMapType, namespace: "ns", resourceVersion: from })
    ok(exec(cluster, { verb: "delete", name: "a" }))
    expect(lines.map((l) => [l.type, meta(l.object).name])).toEqual([
      ["MODIFIED", "a"],
      ["ADDED", "b"],
      ["DELETED", "a"],
    ])
    const versions = lines.map((l) => rv(l.object))
    expect(versions).toEqual([...versions].sort((x, y) => x - y))
    expect(versions.at(-1)).toBe(Number(cluster.resourceVersion()))
  })

  it("starts a watch without resourceVersion with the current objects as ADDED", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("a") }))
    const { lines } = watchLines(cluster, { type: configMapType, namespace: "ns" })
    expect(lines.map((l) => l.type)).toEqual(["ADDED"])
  })

  it("shows objects entering and leaving a label selector as ADDED and DELETED", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("a", {}, { app: "no" }) }))
    const { lines } = watchLines(cluster, { type: configMapType, namespace: "ns", labelSelector: "app=yes", resourceVersion: cluster.resourceVersion() })
    ok(exec(cluster, { verb: "patch", name: "a", body: { metadata: { labels: { app: "yes" } } } }))
    ok(exec(cluster, { verb: "patch", name: "a", body: { data: { k: "v" } } }))
    ok(exec(cluster, { verb: "patch", name: "a", body: { metadata: { labels: { app: "no" } } } }))
    ok(exec(cluster, { verb: "patch", name: "a", body: { data: { k: "w" } } }))
    expect(lines.map((l) => l.type)).toEqual(["ADDED", "MODIFIED", "DELETED"])
  })

  it("answers 410 Expired for a resourceVersion older than its bounded history", () => {
    const cluster = makeSimulatedCluster({ historyLimit: 3 })
    ok(exec(cluster, { verb: "create", body: cm("a") }))
    const old = cluster.resourceVersion()
    for (let i = 0; i < 5; i++) ok(exec(cluster, { verb: "patch", name: "a", body: { data: { i: String(i) } } }))
    expect(failure(cluster.watch({ type: configMapType, namespace: "ns", resourceVersion: old }))).toMatchObject({ code: 410, reason: "Expired" })
    const recent = String(Number(cluster.resourceVersion()) - 3)
    expect(watchLines(cluster, { type: configMapType, namespace: "ns", resourceVersion: recent }).lines).toHaveLength(3)
    cluster.compact()
    expect(failure(cluster.watch({ type: configMapType, namespace: "ns", resourceVersion: recent }))).toMatchObject({ code: 410 })
    expect(Result.isSuccess(cluster.watch({ type: configMapType, namespace: "ns", resourceVersion: cluster.resourceVersion() }))).toBe(true)
  })
})

describe("simulated cluster: fault injection", () => {
  it("answers the next N matching requests with the scheduled fault, and only those", () => {
    const cluster = makeSimulatedCluster()
    cluster.serve({ type: configMapType, verb: "create", namespace: "ns", body: cm("a") })
    cluster.faults.inject(Fault.conflict(), { verb: "update", resource: "configmaps", times: 2 })
    const update = () => {
      const current = ok(exec(cluster, { verb: "get", name: "a" })) as Obj
      return cluster.serve({ type: configMapType, verb: "update", namespace: "ns", name: "a", body: { ...current, data: { t: String(Date.now()) } } })
    }
    const get = cluster.serve({ type: configMapType, verb: "get", namespace: "ns", name: "a" })
    expect(get._tag === "Answered" && Result.isSuccess(get.result)).toBe(true)
    const outcomes = [update(), update(), update()].map((s) => (s._tag === "Answered" && Result.isFailure(s.result) ? s.result.failure.reason : "ok"))
    expect(outcomes).toEqual(["Conflict", "Conflict", "ok"])
    expect(cluster.faults.injected.map((f) => f.request.verb)).toEqual(["update", "update"])
    expect(cluster.faults.pending()).toBe(0)
  })

  it("applies a timed-out write when told to, and never answers it", () => {
    const cluster = makeSimulatedCluster()
    cluster.faults.inject(Fault.timeout(true), { verb: "create" })
    expect(cluster.serve({ type: configMapType, verb: "create", namespace: "ns", body: cm("a") })).toEqual({ _tag: "NoAnswer" })
    expect(cluster.get(configMapType, "ns", "a")).toBeDefined()
    cluster.faults.inject(Fault.timeout(false), { verb: "create" })
    expect(cluster.serve({ type: configMapType, verb: "create", namespace: "ns", body: cm("b") })).toEqual({ _tag: "NoAnswer" })
    expect(cluster.get(configMapType, "ns", "b")).toBeUndefined()
  })

  it("drops a watch connection after the scheduled number of events", () => {
    const cluster = makeSimulatedCluster()
    cluster.faults.inject(Fault.dropWatch(2, false), { verb: "watch" })
    const served = cluster.serveWatch({ type: configMapType, namespace: "ns", resourceVersion: cluster.resourceVersion() })
    if (served._tag !== "Answered" || Result.isFailure(served.result)) throw new Error("watch refused")
    const lines: Array<WatchLine> = []
    const ends: Array<boolean> = []
    served.result.success.start({ onEvent: (l) => lines.push(l), onEnd: (a) => ends.push(a) })
    for (const name of ["a", "b", "c"]) ok(exec(cluster, { verb: "create", body: cm(name) }))
    expect(lines.map((l) => meta(l.object).name)).toEqual(["a", "b"])
    expect(ends).toEqual([false])
  })

  it("draws the same random faults from the same seed", () => {
    const run = () => {
      const cluster = makeSimulatedCluster()
      cluster.faults.setRandom({ seed: 42, conflict: 0.3, unavailable: 0.2, timeout: 0.1 })
      ok(exec(cluster, { verb: "create", body: cm("a") }))
      return Array.from({ length: 60 }, (_, i) => {
        const served = cluster.serve({ type: configMapType, verb: "patch", namespace: "ns", name: "a", body: { data: { i: String(i) } } })
        return served._tag === "NoAnswer" ? "none" : Result.isFailure(served.result) ? served.result.failure.code : "ok"
      })
    }
    const first = run()
    expect(run()).toEqual(first)
    expect(new Set(first)).toEqual(new Set(["ok", 409, 503, 500, "none"]))
  })
})
