import { fc } from "@fast-check/vitest"
import { Effect, Fiber, Option, Redacted, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Fault } from "../../src/simulation/faults.ts"
import { Kube, type KubeService, type WatchEvent } from "../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import { backupPolicyType, configMapType, kubeApiPermissions, podType } from "../../src/services/kube/resources.ts"
import { noRetries } from "../../src/services/kube/retry.ts"
import { secretBytes, secretData, type Pod } from "../../src/services/kube/schemas.ts"
import { makeSimulatedCluster, type SimulatedCluster, type WatchLine } from "../../src/simulation/simulated-cluster.ts"
import { until } from "../support/eventually.ts"

const run = <A, E>(cluster: SimulatedCluster, program: (kube: KubeService) => Effect.Effect<A, E>, retry = true) =>
  Effect.runPromise(Effect.flatMap(Kube, program).pipe(Effect.provide(SimulatedKube.inMemory(cluster, retry ? {} : { retry: noRetries }))))

const podSpec = { containers: [{ name: "main", image: "registry.example/backup:1" }] }

describe("Kube on the simulated cluster", () => {
  it("issues exactly the (resource, verb) pairs of kubeApiPermissions, no others", async () => {
    const cluster = makeSimulatedCluster()
    await run(cluster, (kube) =>
      Effect.gen(function* () {
        for (const operand of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) {
          yield* Effect.ignore(kube.operators.get(operand))
          yield* kube.operators.list(operand)
          yield* kube.operators.watch(operand).pipe(Stream.take(1), Stream.runDrain)
          yield* Effect.ignore(kube.operators.patch(operand, { spec: { forceRedeploymentReason: "r" } }))
        }
        const cm = yield* kube.configMaps.create("ns", { metadata: { name: "c" }, data: { k: "v" } })
        yield* kube.configMaps.get("ns", "c")
        yield* kube.configMaps.list("ns", { labelSelector: "a!=b" })
        yield* kube.configMaps.update("ns", { ...cm, data: { k: "w" } })
        yield* kube.configMaps.patch("ns", "c", { data: { k: "x" } })
        yield* kube.configMaps.watch("ns", { name: "c" }).pipe(Stream.take(1), Stream.runDrain)
        const secret = yield* kube.secrets.create("ns", { metadata: { name: "s" }, data: secretData({ k: "v" }) })
        yield* kube.secrets.get("ns", "s")
        yield* kube.secrets.list("ns")
        yield* kube.secrets.update("ns", { ...secret, data: secretData({ k: "w" }) })
        yield* kube.secrets.patch("ns", "s", { metadata: { labels: { a: "b" } } })
        const pod = yield* kube.pods.create("ns", { metadata: { generateName: "p-" }, spec: podSpec })
        yield* kube.pods.get("ns", pod.metadata.name)
        yield* kube.pods.list("ns")
        yield* kube.pods.watch("ns").pipe(Stream.take(1), Stream.runDrain)
        // No pod runs here: answered 400, but asked (the request log records it).
        yield* Effect.ignore(kube.pods.exec("ns", pod.metadata.name, "main", ["true"]).pipe(Stream.runDrain))
        yield* kube.pods.delete("ns", pod.metadata.name)
        yield* kube.events.create("ns", {
          metadata: { generateName: "e-" },
          involvedObject: { kind: "Pod", namespace: "ns", name: "p" },
          reason: "R",
          message: "M",
          type: "Normal",
        })
        yield* kube.events.list("ns", { involvedObjectName: "p" })
        const lease = yield* kube.leases.create("ns", { metadata: { name: "l" }, spec: { holderIdentity: "me", leaseDurationSeconds: 15 } })
        yield* kube.leases.get("ns", "l")
        yield* kube.leases.update("ns", { ...lease, spec: { ...lease.spec, holderIdentity: "you" } })
        Result.getOrThrow(cluster.create(backupPolicyType, { metadata: { name: "bp" }, spec: {} }))
        const policy = yield* kube.backupPolicies.get("bp")
        yield* kube.backupPolicies.list()
        yield* kube.backupPolicies.watch().pipe(Stream.take(1), Stream.runDrain)
        yield* kube.backupPolicies.updateStatus({ ...policy, status: { observedGeneration: 1 } })
        yield* kube.backupPolicies.patch("bp", { metadata: { annotations: { a: "b" } } })
      }),
    )
    const issued = new Set(cluster.requests.map((r) => `${r.resource}:${r.verb}`))
    const allowed = new Set(kubeApiPermissions.map((p) => `${p.resource}:${p.verb}`))
    expect(issued).toEqual(allowed)
  })

  it("decodes Secret data to redacted bytes and never prints them", async () => {
    const cluster = makeSimulatedCluster()
    const secret = await run(cluster, (kube) =>
      Effect.andThen(kube.secrets.create("ns", { metadata: { name: "s" }, data: secretData({ "tls.key": new Uint8Array([0, 1, 254, 255]) }) }), () =>
        kube.secrets.get("ns", "s"),
      ),
    )
    expect(Array.from(secretBytes(secret, "tls.key") ?? [])).toEqual([0, 1, 254, 255])
    expect(JSON.stringify(secret)).not.toContain(Buffer.from([0, 1, 254, 255]).toString("base64"))
    expect(String(secret.data?.["tls.key"])).toBe("<redacted>")
    expect(Redacted.isRedacted(secret.data?.["tls.key"])).toBe(true)
  })

  it("reports an object the API returns malformed as KubeResponseInvalid, naming it", async () => {
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(cluster.create(podType, { metadata: { name: "p", namespace: "ns" }, spec: podSpec }))
    Result.getOrThrow(cluster.updateStatus(podType, "ns", "p", { phase: "Exploded" }))
    const error = await run(cluster, (kube) => Effect.flip(kube.pods.get("ns", "p")))
    expect(error).toMatchObject({ _tag: "KubeResponseInvalid", kind: "Pod", namespace: "ns", name: "p" })
    expect(error.message).toContain("phase")
  })

  it("retries transient faults of idempotent verbs and surfaces the ones that outlast the budget", async () => {
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(cluster.create(podType, { metadata: { name: "p", namespace: "ns" }, spec: podSpec }))
    cluster.faults.inject(Fault.unavailable(), { verb: "get", times: 3 })
    await run(cluster, (kube) => kube.pods.get("ns", "p"))
    expect(cluster.requests.filter((r) => r.verb === "get")).toHaveLength(4)
    cluster.faults.inject(Fault.internalError(), { verb: "get", times: Infinity })
    const error = await run(cluster, (kube) => Effect.flip(kube.pods.get("ns", "p")))
    expect(error).toMatchObject({ _tag: "Unavailable", code: 500 })
    expect(cluster.requests.filter((r) => r.verb === "get")).toHaveLength(4 + 6)
    cluster.faults.clear()
    cluster.faults.inject(Fault.internalError(), { verb: "create" })
    const create = await run(cluster, (kube) => Effect.flip(kube.pods.create("ns", { metadata: { generateName: "p-" }, spec: podSpec })))
    expect(create).toMatchObject({ _tag: "Unavailable" })
    expect(cluster.requests.filter((r) => r.verb === "create")).toHaveLength(1)
  })

  it("fails with Conflict, never retried, for an injected conflict", async () => {
    const cluster = makeSimulatedCluster()
    cluster.faults.inject(Fault.conflict(), { verb: "patch" })
    const error = await run(cluster, (kube) =>
      Effect.andThen(kube.configMaps.create("ns", { metadata: { name: "c" } }), () => Effect.flip(kube.configMaps.patch("ns", "c", { data: { a: "b" } }))),
    )
    expect(error).toMatchObject({ _tag: "Conflict", code: 409 })
    expect(cluster.requests.filter((r) => r.verb === "patch")).toHaveLength(1)
  })
})

describe("properties of the simulated cluster under the Kube service", () => {
  it("concurrent updates from the same stale read: exactly one winner, Conflict for every other", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 8 }),
        fc.integer(),
        fc.boolean(),
        async (values, seed, faulty) => {
          const cluster = makeSimulatedCluster({ seed })
          // Faults that certainly did not apply (503/500/429): retried, and the outcome must not change.
          if (faulty) cluster.faults.setRandom({ seed, unavailable: 0.2, tooManyRequests: 0.1, match: { verb: "update" } })
          const outcomes = await run(cluster, (kube) =>
            Effect.gen(function* () {
              yield* kube.configMaps.create("ns", { metadata: { name: "shared" }, data: { v: "initial" } }).pipe(Effect.retry({ times: 20 }))
              const reads = yield* Effect.forEach(values, () => kube.configMaps.get("ns", "shared").pipe(Effect.retry({ times: 20 })), {
                concurrency: "unbounded",
              })
              return yield* Effect.forEach(values, (value, i) => Effect.result(kube.configMaps.update("ns", { ...reads[i]!, data: { v: value } })), {
                concurrency: "unbounded",
              })
            }),
          )
          const winners = outcomes.flatMap((o, i) => (Result.isSuccess(o) ? [i] : []))
          const losers = outcomes.flatMap((o) => (Result.isFailure(o) ? [o.failure._tag] : []))
          // A writer whose every attempt met a 503/429 never reached the store: it neither wins nor conflicts.
          const exhausted = losers.filter((tag) => tag === "Unavailable").length
          expect(losers.every((tag) => tag === "Conflict" || tag === "Unavailable")).toBe(true)
          expect(winners).toHaveLength(exhausted === values.length ? 0 : 1)
          expect(cluster.get(configMapType, "ns", "shared")?.data).toEqual({
            v: winners.length === 1 ? values[winners[0]!] : "initial",
          })
        },
      ),
      { numRuns: 60 },
    )
  })

  type Op =
    | { readonly kind: "create" | "delete"; readonly name: string }
    | { readonly kind: "label"; readonly name: string; readonly app: string }
    | { readonly kind: "status"; readonly name: string; readonly phase: "Running" | "Succeeded" }
  const name = fc.constantFrom("a", "b", "c", "d")
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constantFrom("create" as const, "delete" as const), name }),
    fc.record({ kind: fc.constant("label" as const), name, app: fc.constantFrom("backup", "other") }),
    fc.record({ kind: fc.constant("status" as const), name, phase: fc.constantFrom("Running" as const, "Succeeded" as const) }),
  )

  /** Applies one change; failures (missing object, taken name) are part of the game. */
  const apply = (cluster: SimulatedCluster, kube: KubeService, change: Op) => {
    switch (change.kind) {
      case "create":
        return Effect.ignore(kube.pods.create("ns", { metadata: { name: change.name, labels: { app: "backup" } }, spec: podSpec }))
      case "delete":
        return Effect.ignore(kube.pods.delete("ns", change.name))
      case "label":
        return Effect.sync(() =>
          cluster.execute({ type: podType, verb: "patch", namespace: "ns", name: change.name, body: { metadata: { labels: { app: change.app } } } }),
        )
      case "status":
        return Effect.sync(() => cluster.updateStatus(podType, "ns", change.name, { phase: change.phase }))
    }
  }

  const key = (pod: Pod) => `${pod.metadata.name}@${pod.metadata.resourceVersion}`
  const fold = (events: ReadonlyArray<WatchEvent<Pod>>): Map<string, Pod> => {
    const state = new Map<string, Pod>()
    for (const event of events) {
      if (event.type === "FAILING" || event.type === "RESTORED") continue
      if (event.type === "SYNC") {
        state.clear()
        for (const pod of event.objects) state.set(pod.metadata.name, pod)
      } else if (event.type === "DELETED") state.delete(event.object.metadata.name)
      else state.set(event.object.metadata.name, event.object)
    }
    return state
  }
  const storeState = (cluster: SimulatedCluster) =>
    cluster
      .list(podType, "ns", "app=backup")
      .map((o) => `${(o.metadata as { name: string }).name}@${(o.metadata as { resourceVersion: string }).resourceVersion}`)
      .sort()

  /** Runs the changes while a Kube watch runs; returns its events once it has caught up with the store. */
  const caughtUpWithStore = (cluster: SimulatedCluster) => (events: ReadonlyArray<WatchEvent<Pod>>) =>
    JSON.stringify([...fold(events).values()].map(key).sort()) === JSON.stringify(storeState(cluster))

  const watchWhile = (cluster: SimulatedCluster, ops: ReadonlyArray<Op>, from?: string, caughtUp = caughtUpWithStore(cluster)) =>
    run(cluster, (kube) =>
      Effect.gen(function* () {
        const events: Array<WatchEvent<Pod>> = []
        const fiber = yield* kube.pods.watch("ns", { labelSelector: "app=backup", ...(from === undefined ? {} : { resourceVersion: from }) }).pipe(
          Stream.runForEach((e) => Effect.sync(() => events.push(e))),
          Effect.forkChild,
        )
        for (const change of ops) {
          yield* apply(cluster, kube, change)
          yield* Effect.yieldNow
        }
        // Real time: a failed watch request backs off (a few ms in the simulated cluster) before it retries.
        for (let i = 0; i < 5_000; i++) {
          if (caughtUp(events)) break
          yield* i < 1000 ? Effect.yieldNow : Effect.sleep(2)
        }
        yield* Fiber.interrupt(fiber)
        return events
      }),
    )

  it("a watcher that loses connections sees every change exactly once, in order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), fc.integer(), async (ops, seed) => {
        const cluster = makeSimulatedCluster({ seed })
        // The reference: a fault-free watch of the same selection from the same point.
        const lines: Array<WatchLine> = []
        const from = cluster.resourceVersion()
        Result.getOrThrow(cluster.watch({ type: podType, namespace: "ns", labelSelector: "app=backup", resourceVersion: from })).start({
          onEvent: (line) => lines.push(line),
          onEnd: () => {},
        })
        cluster.faults.setRandom({ seed, dropWatch: 0.25, unavailable: 0.1, match: { verb: ["watch", "list"] } })
        const changes = (events: ReadonlyArray<WatchEvent<Pod>>) =>
          events.flatMap((e) => (e.type === "SYNC" || !("object" in e) ? [] : [`${e.type} ${key(e.object)}`]))
        const expected = () =>
          lines.map((l) => {
            const m = l.object.metadata as { name: string; resourceVersion: string }
            return `${l.type} ${m.name}@${m.resourceVersion}`
          })
        // Caught up when it has seen as many changes as the reference: a selection whose end state is
        // its start state (created, then relabelled away) would otherwise look done before any event.
        const events = await watchWhile(cluster, ops, from, (seen) => changes(seen).length >= expected().length)
        expect(events.every((e) => e.type !== "SYNC")).toBe(true)
        expect(changes(events)).toEqual(expected())
      }),
      { numRuns: 40 },
    )
  })

  it("with a short history, relists on 410: resourceVersions increase between syncs and the final state equals the store", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), fc.integer(), async (ops, seed) => {
        const cluster = makeSimulatedCluster({ seed, historyLimit: 2 })
        cluster.faults.setRandom({ seed, dropWatch: 0.3, match: { verb: "watch" } })
        const events = await watchWhile(cluster, ops)
        expect(events[0]?.type).toBe("SYNC")
        let floor = 0
        for (const event of events) {
          if (event.type === "FAILING" || event.type === "RESTORED") continue
          const version = Number(event.type === "SYNC" ? event.resourceVersion : event.object.metadata.resourceVersion)
          if (event.type === "SYNC") expect(version).toBeGreaterThanOrEqual(floor)
          else expect(version).toBeGreaterThan(floor)
          floor = version
        }
        expect([...fold(events).values()].map(key).sort()).toEqual(storeState(cluster))
      }),
      { numRuns: 40 },
    )
  })
})

describe("watching one object by name", () => {
  const scenario = (cluster: SimulatedCluster) => (kube: KubeService) =>
    Effect.gen(function* () {
      yield* kube.configMaps.create("ns", { metadata: { name: "mine" }, data: { k: "1" } })
      yield* kube.configMaps.create("ns", { metadata: { name: "other" }, data: { k: "1" } })
      const listed = yield* kube.configMaps.list("ns", { name: "mine" })
      expect(listed.items.map((c) => c.metadata.name)).toEqual(["mine"])
      const seen = yield* kube.configMaps.watch("ns", { name: "mine" }).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      // Patch once the watch runs from the current resourceVersion: a patch before its list would only show in the SYNC.
      yield* until("the watch", () => cluster.requests.some((r) => r.verb === "watch" && r.resourceVersion === cluster.resourceVersion()))
      yield* kube.configMaps.patch("ns", "other", { data: { k: "2" } })
      yield* kube.configMaps.patch("ns", "mine", { data: { k: "2" } })
      const events = yield* Fiber.join(seen)
      return events.map((e) =>
        e.type === "SYNC" ? `SYNC:${e.objects.map((o) => o.metadata.name).join()}` : "object" in e ? `${e.type}:${e.object.metadata.name}` : e.type,
      )
    })

  it("a watch resumed from a resourceVersion the API server has not reached (etcd restored without a revision bump) lists again instead of retrying it for ever", async () => {
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(cluster.create(configMapType, { metadata: { name: "mine", namespace: "ns" }, data: { k: "1" } }))
    const ahead = String(Number(cluster.resourceVersion()) + 1000)
    const first = await Effect.runPromise(
      Effect.provide(Kube, SimulatedKube.inMemory(cluster)).pipe(
        Effect.flatMap((kube) =>
          kube.configMaps.watch("ns", { resourceVersion: ahead }).pipe(
            Stream.filter((e) => e.type === "SYNC"),
            Stream.take(1),
            Stream.runCollect,
            Effect.timeoutOption(5000),
          ),
        ),
      ),
    )
    expect(Option.map(first, (events) => events.map((e) => (e.type === "SYNC" ? e.objects.map((o) => o.metadata.name) : [])))).toEqual(Option.some([["mine"]]))
  })

  it("sees only that object (fieldSelector metadata.name), in the simulated cluster", async () => {
    const cluster = makeSimulatedCluster()
    const events = await Effect.runPromise(Effect.flatMap(Effect.provide(Kube, SimulatedKube.inMemory(cluster)), scenario(cluster)))
    expect(events).toEqual(["SYNC:mine", "MODIFIED:mine"])
    expect(cluster.requests.some((r) => r.verb === "watch" && r.fieldSelector === "metadata.name=mine")).toBe(true)
  })

  it("sees only that object over HTTP through the live Layer", async () => {
    const { startSimulatedApiServer, writeKubeconfig } = await import("../../src/simulation/simulated-api-server.ts")
    const { KubeConfigSource } = await import("../../src/services/kube/live-transport.ts")
    const { mkdtempSync, rmSync } = await import("node:fs")
    const { tmpdir } = await import("node:os")
    const { join } = await import("node:path")
    const dir = mkdtempSync(join(tmpdir(), "kube-name-watch-"))
    const cluster = makeSimulatedCluster()
    const server = await startSimulatedApiServer(cluster)
    try {
      const file = join(dir, "kubeconfig")
      await Effect.runPromise(writeKubeconfig(file, server))
      const events = await Effect.runPromise(Effect.flatMap(Effect.provide(Kube, Kube.live(KubeConfigSource.file(file))), scenario(cluster)))
      expect(events).toEqual(["SYNC:mine", "MODIFIED:mine"])
      expect(server.httpRequests.some((r) => r.query.get("watch") === "true" && r.query.get("fieldSelector") === "metadata.name=mine")).toBe(true)
    } finally {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
