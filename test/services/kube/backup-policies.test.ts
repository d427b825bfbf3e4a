import { Effect, Fiber, type Layer, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Kube, type KubeService } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { backupPolicyType, knownResourceTypes } from "../../../src/services/kube/resources.ts"
import { noRetries } from "../../../src/services/kube/retry.ts"
import type { BackupPolicyObject } from "../../../src/services/kube/schemas.ts"
import { makeSimulatedCluster, type Obj, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { good, policy } from "../../support/backup-policy-examples.ts"
import { until } from "../../support/eventually.ts"
import { stubServers } from "./stub-servers.ts"

const stub = stubServers("kube-policies-")

interface Front {
  readonly name: string
  readonly connect: (cluster: SimulatedCluster) => Promise<Layer.Layer<Kube, unknown>>
}

const fronts: ReadonlyArray<Front> = [
  { name: "in process", connect: async (cluster) => SimulatedKube.inMemory(cluster, { retry: noRetries }) },
  {
    name: "over HTTP",
    connect: async (cluster) => {
      const { kubeconfig } = await stub.serve(cluster)
      return Kube.live(KubeConfigSource.file(kubeconfig), { retry: noRetries, requestTimeoutMillis: 2_000 })
    },
  },
]

const nightly = () => good["nightly to S3 in Berlin time, with retention and test restores"]
const named = (name: string, spec: unknown): Obj => ({ ...policy({}), metadata: { name }, spec })
const names = (objects: ReadonlyArray<BackupPolicyObject>) => objects.map((o) => o.metadata.name)
/** What the cluster served, as RBAC sees it: verb, resource (`<plural>/status` for the subresource) and name. */
const served = (cluster: SimulatedCluster) => cluster.requests.map((r) => `${r.verb} ${r.resource} ${r.name ?? ""}`.trim())

describe.each(fronts)("kube.backupPolicies $name", (front) => {
  const setup = async () => {
    const cluster = makeSimulatedCluster({ seed: 7 })
    Result.getOrThrow(cluster.create(backupPolicyType, nightly()))
    // Malformed for the domain, yet listed: the operator reports it on that policy alone.
    Result.getOrThrow(cluster.create(backupPolicyType, named("broken", { schedule: 5, store: "nowhere" })))
    const layer = await front.connect(cluster)
    const run = <A, E>(program: (kube: KubeService) => Effect.Effect<A, E>) => Effect.runPromise(Effect.flatMap(Kube, program).pipe(Effect.provide(layer)))
    return { cluster, run }
  }

  it("lists and gets the cluster-scoped policies loosely: a malformed spec is listed as it is, generation 1, status left out", async () => {
    const { cluster, run } = await setup()
    const { list, one, missing } = await run((kube) =>
      Effect.all({ list: kube.backupPolicies.list(), one: kube.backupPolicies.get("nightly"), missing: Effect.flip(kube.backupPolicies.get("gone")) }),
    )
    expect(names(list.items)).toEqual(["broken", "nightly"])
    expect(list.items[0]?.spec).toEqual({ schedule: 5, store: "nowhere" })
    expect(one).toMatchObject({ apiVersion: "backup.openshift.io/v1alpha1", kind: "BackupPolicy", spec: nightly().spec, metadata: { generation: 1 } })
    expect(one.metadata.namespace).toBeUndefined()
    // Created with a status in the body: the status subresource drops it.
    expect(one.status).toBeUndefined()
    expect(missing).toMatchObject({ _tag: "NotFound", kind: "BackupPolicy", name: "gone" })
    expect(served(cluster)).toEqual(["list backuppolicies", "get backuppolicies nightly", "get backuppolicies gone"])
  })

  it("updateStatus writes only the status (a changed spec in the body is ignored, generation stays) and answers Conflict when stale", async () => {
    const { cluster, run } = await setup()
    const { read, written, stale } = await run((kube) =>
      Effect.gen(function* () {
        const read = yield* kube.backupPolicies.get("nightly")
        const written = yield* kube.backupPolicies.updateStatus({ ...read, spec: { schedule: "* * * * *" }, status: { observedGeneration: 1 } })
        const stale = yield* Effect.flip(kube.backupPolicies.updateStatus({ ...read, status: { observedGeneration: 9 } }))
        return { read, written, stale }
      }),
    )
    expect(written.status).toEqual({ observedGeneration: 1 })
    expect(written.spec).toEqual(nightly().spec)
    expect(written.metadata.generation).toBe(1)
    expect(Number(written.metadata.resourceVersion)).toBeGreaterThan(Number(read.metadata.resourceVersion))
    expect(stale).toMatchObject({ _tag: "Conflict", kind: "BackupPolicy", name: "nightly", code: 409 })
    expect(cluster.get(backupPolicyType, undefined, "nightly")?.status).toEqual({ observedGeneration: 1 })
    expect(served(cluster)).toEqual(["get backuppolicies nightly", "update backuppolicies/status nightly", "update backuppolicies/status nightly"])
  })

  it("watches: a SYNC, then a spec edit as MODIFIED with generation 2, then a deletion", async () => {
    const { cluster, run } = await setup()
    const events = await run((kube) =>
      Effect.gen(function* () {
        const fiber = yield* kube.backupPolicies.watch({ name: "nightly" }).pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
        yield* until("the watch connection", () => cluster.requests.some((r) => r.verb === "watch"))
        const stored = cluster.get(backupPolicyType, undefined, "nightly")!
        Result.getOrThrow(cluster.replace(backupPolicyType, { ...stored, spec: { ...(stored.spec as Obj), suspend: true } }))
        Result.getOrThrow(cluster.remove(backupPolicyType, undefined, "nightly"))
        return yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
      }),
    )
    expect(events.map((e) => (e.type === "SYNC" ? `SYNC ${names(e.objects)}` : "object" in e ? `${e.type} ${e.object.metadata.generation}` : e.type))).toEqual([
      "SYNC nightly",
      "MODIFIED 2",
      "DELETED 2",
    ])
  })

  it("answers NotFound for policies when the CRD is not installed (the type not served)", async () => {
    const cluster = makeSimulatedCluster({ types: knownResourceTypes.filter((t) => t !== backupPolicyType) })
    const layer = await front.connect(cluster)
    const missing = await Effect.runPromise(Effect.flatMap(Kube, (kube) => Effect.flip(kube.backupPolicies.list())).pipe(Effect.provide(layer)))
    expect(missing).toMatchObject({ _tag: "NotFound", code: 404, kind: "BackupPolicy" })
  })

  it("relists (a new SYNC) when resuming from a resourceVersion the history no longer holds (410)", async () => {
    const { cluster, run } = await setup()
    const from = cluster.resourceVersion()
    Result.getOrThrow(cluster.create(backupPolicyType, named("weekly", { schedule: "0 3 * * 0" })))
    cluster.compact()
    const events = await run((kube) =>
      kube.backupPolicies.watch({ resourceVersion: from }).pipe(Stream.take(1), Stream.runCollect, Effect.timeout("5 seconds")),
    )
    expect(events.map((e) => (e.type === "SYNC" ? `SYNC ${names(e.objects)}` : e.type))).toEqual(["SYNC broken,nightly,weekly"])
  })
})
