/** Fault injection at the fronts' entry (src/simulation/fault-front.ts), through the simulated cluster. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Fault } from "../../src/simulation/faults.ts"
import { configMapType } from "../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj, type WatchLine } from "../../src/simulation/simulated-cluster.ts"
import { cm, exec, meta, ok } from "./simulated-cluster-helpers.ts"

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
