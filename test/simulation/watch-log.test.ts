/** Lists and the watch log (src/simulation/watch-log.ts), through the simulated cluster. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { configMapType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj } from "../../src/simulation/simulated-cluster.ts"
import { cm, exec, failure, meta, ok, rv, watchLines } from "./simulated-cluster-helpers.ts"

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

  it("answers 504 'Too large resource version' for a resourceVersion the store has not reached (a watch resumed after etcd went back, as after a restore without a revision bump)", () => {
    const cluster = makeSimulatedCluster()
    ok(exec(cluster, { verb: "create", body: cm("a") }))
    const ahead = String(Number(cluster.resourceVersion()) + 1000)
    expect(failure(cluster.watch({ type: configMapType, namespace: "ns", resourceVersion: ahead }))).toMatchObject({
      code: 504,
      reason: "Timeout",
      message: expect.stringContaining("Too large resource version"),
    })
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
