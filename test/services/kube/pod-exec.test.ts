import { createHash, randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, type Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Kube, type KubeService } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { podType } from "../../../src/services/kube/resources.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { localExecHandler, type ExecHandler } from "../../../src/simulation/simulated-exec.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { inMemory } from "../../../src/simulation/simulated-kube.ts"
import { heldPodStatus } from "../../../src/simulation/simulated-kubelet.ts"
import { stubServers } from "./stub-servers.ts"

const stub = stubServers("pod-exec-")
let dir = ""
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pod-exec-files-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const ns = "openshift-etcd"
const spec = { initContainers: [{ name: "backup-init", image: "x" }], containers: [{ name: "backup-hold", image: "x" }] }

/** A cluster with pod `held` whose hold container runs, its /backup this file's directory; `observe` sees each command started. */
const clusterWithHeldPod = (observe: (started: ReturnType<ExecHandler>) => void = () => undefined): SimulatedCluster => {
  const cluster = makeSimulatedCluster()
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "held", namespace: ns }, spec }
  const created = cluster.create(podType, pod)
  if (created._tag !== "Success") throw new Error("pod not created")
  cluster.updateStatus(podType, ns, "held", heldPodStatus(created.success, { phase: "Succeeded" }, new Date().toISOString()))
  const local = localExecHandler(() => [{ containerPath: "/backup", hostPath: dir }])
  cluster.setExecHandler((request) => {
    const started = local(request)
    observe(started)
    return started
  })
  return cluster
}

type Front = (cluster: SimulatedCluster) => Promise<Layer.Layer<Kube, unknown, never>>
const fronts: ReadonlyArray<readonly [string, Front]> = [
  [
    "live, over a WebSocket to the stub API server",
    async (cluster) => Kube.live(KubeConfigSource.file((await stub.serve(cluster)).kubeconfig), { requestTimeoutMillis: 5_000 }),
  ],
  ["in process", async (cluster) => inMemory(cluster)],
]

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const run = async <A, E>(front: Front, cluster: SimulatedCluster, program: (kube: KubeService) => Effect.Effect<A, E>) =>
  Effect.runPromiseExit(Effect.flatMap(Kube, program).pipe(Effect.provide(await front(cluster))))

const collect = (kube: KubeService, command: ReadonlyArray<string>, pod = "held", container = "backup-hold") =>
  kube.pods.exec(ns, pod, container, command).pipe(
    Stream.runFold(
      () => [] as Array<Uint8Array>,
      (chunks, chunk) => {
        chunks.push(chunk)
        return chunks
      },
    ),
    Effect.map((chunks) => Buffer.concat(chunks)),
  )

describe.each(fronts)("pods/exec (%s)", (_name, front) => {
  it("streams the command's stdout whole and ends once it exited 0", async () => {
    const content = randomBytes(8 * 1024 * 1024 + 17)
    await writeFile(join(dir, "big"), content)
    const cluster = clusterWithHeldPod()
    const exit = await run(front, cluster, (kube) => collect(kube, ["cat", "--", "/backup/big"]))
    expect(Exit.isSuccess(exit) && sha256(exit.value)).toBe(sha256(content))
    // Authorized as get (a WebSocket is an HTTP GET), then as create (Kubernetes 1.35 and later).
    expect(cluster.requests.filter((r) => r.resource === "pods/exec")).toEqual([
      { verb: "get", resource: "pods/exec", namespace: ns, name: "held" },
      { verb: "create", resource: "pods/exec", namespace: ns, name: "held" },
    ])
  })

  it("holds the command back while its output is not read: cat of 64 MiB has not ended while the reader waits", async () => {
    await writeFile(join(dir, "huge"), Buffer.alloc(64 * 1024 * 1024, 7))
    let ended = false
    const cluster = clusterWithHeldPod((started) => void started.exit.then(() => (ended = true)))
    const exit = await run(front, cluster, (kube) =>
      kube.pods.exec(ns, "held", "backup-hold", ["cat", "/backup/huge"]).pipe(
        // The reader takes a second over its first chunk, the connection open all the while.
        Stream.mapEffect(() => Effect.sleep("1 second").pipe(Effect.andThen(Effect.sync(() => ended)))),
        Stream.take(1),
        Stream.runCollect,
      ),
    )
    // Unread output stays with the command (a pipe, a socket's buffers), not in this process's memory: it could not end.
    expect(exit).toEqual(Exit.succeed([false]))
  })

  it("fails with the exit status and the start of stderr when the command exits non-zero", async () => {
    const exit = await run(front, clusterWithHeldPod(), (kube) => collect(kube, ["cat", "/backup/no-such-file"]))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : undefined
    expect(error).toMatchObject({ _tag: "ExecCommandFailed", exitCode: 1, pod: "held", container: "backup-hold" })
    expect((error as { stderr: string }).stderr).toContain("No such file")
    expect((error as { message: string }).message).toContain("exit status 1")
  })

  it("answers a missing pod 404, a container that is not running 400, and an exec RBAC refuses 403", async () => {
    const failureOf = async (program: (kube: KubeService) => Effect.Effect<unknown, unknown>, cluster = clusterWithHeldPod()) => {
      const exit = await run(front, cluster, program)
      return Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"
    }
    expect(await failureOf((kube) => collect(kube, ["true"], "gone"))).toMatchObject({ _tag: "NotFound", code: 404, name: "gone" })
    expect(await failureOf((kube) => collect(kube, ["true"], "held", "backup-init"))).toMatchObject({ _tag: "Invalid", code: 400 })
    expect(await failureOf((kube) => collect(kube, ["true"], "held", "no-such-container"))).toMatchObject({ _tag: "Invalid", code: 400 })
    const forbidding = clusterWithHeldPod()
    forbidding.faults.inject(Fault.forbidden(), { resource: "pods/exec", times: Infinity })
    expect(await failureOf((kube) => collect(kube, ["true"]), forbidding)).toMatchObject({ _tag: "Forbidden", code: 403 })
    // The rule is for exec: the pod itself is still read.
    const read = await run(front, forbidding, (kube) => kube.pods.get(ns, "held"))
    expect(Exit.isSuccess(read)).toBe(true)
    // A role with create only is refused by a server before 1.35 (get), one with get only by 1.35 and later (create).
    for (const verb of ["get", "create"] as const) {
      const lacking = clusterWithHeldPod()
      lacking.faults.inject(Fault.forbidden(), { resource: "pods/exec", verb, times: Infinity })
      expect(await failureOf((kube) => collect(kube, ["true"]), lacking)).toMatchObject({ _tag: "Forbidden", code: 403 })
    }
  })
})

describe("pods/exec over a WebSocket: a connection that ends early", () => {
  it("fails (ConnectionFailed), never ends as if complete, when the connection ends before the exit status", async () => {
    const cluster = clusterWithHeldPod()
    const { server, kubeconfig } = await stub.serve(cluster)
    const exit = await Effect.runPromiseExit(
      Effect.flatMap(Kube, (kube) =>
        kube.pods.exec(ns, "held", "backup-hold", ["sh", "-c", "head -c 100000 /dev/zero; sleep 5"]).pipe(
          Stream.tap(() => Effect.promise(() => server.close())),
          Stream.runDrain,
        ),
      ).pipe(Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 5_000 }))),
    )
    const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"
    expect(error).toMatchObject({ _tag: "Unavailable", reason: "ConnectionFailed", code: 0 })
  })
})

describe("pods/exec over a WebSocket: the subprotocol the API server takes", () => {
  const served = async (execProtocols: ReadonlyArray<string>) => {
    const content = randomBytes(300_000)
    await writeFile(join(dir, "by-protocol"), content)
    const { server, kubeconfig } = await stub.serve(clusterWithHeldPod(), undefined, { execProtocols })
    const exit = await Effect.runPromiseExit(
      Effect.flatMap(Kube, (kube) => collect(kube, ["cat", "--", "/backup/by-protocol"])).pipe(
        Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 5_000 })),
      ),
    )
    const upgrades = server.httpRequests.filter((r) => r.path.endsWith("/exec")).map((r) => [r.status, r.protocol])
    return { exit, upgrades, whole: Exit.isSuccess(exit) && sha256(exit.value) === sha256(content) }
  }

  it("reads the output whole from a server of Kubernetes 1.30 or later, which takes v5, and from one before, which takes v4", async () => {
    const v5 = await served(["v5.channel.k8s.io", "v4.channel.k8s.io"])
    expect(v5.upgrades).toEqual([[101, "v5.channel.k8s.io"]])
    expect(v5.whole).toBe(true)
    const v4 = await served(["v4.channel.k8s.io"])
    expect(v4.upgrades).toEqual([[101, "v4.channel.k8s.io"]])
    expect(v4.whole).toBe(true)
  })

  it("fails, never reads the output, when the server takes none of the protocols offered (only channel.k8s.io, without an exit status)", async () => {
    const { exit, upgrades } = await served(["channel.k8s.io"])
    expect(upgrades).toEqual([[101, undefined]])
    const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"
    expect(error).toMatchObject({ _tag: "Unavailable" })
    expect((error as { message: string }).message).toContain("took none of the exec protocols offered (v5.channel.k8s.io, v4.channel.k8s.io)")
  })
})

describe("pods/exec over a WebSocket: a refused upgrade is the API's Status", () => {
  it("answers credentials the server does not take with Unauthorized (401), its words on what to do", async () => {
    const { kubeconfig } = await stub.serve(clusterWithHeldPod(), "not-the-token")
    const exit = await Effect.runPromiseExit(
      Effect.flatMap(Kube, (kube) => collect(kube, ["true"])).pipe(
        Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 5_000 })),
      ),
    )
    const error = Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"
    expect(error).toMatchObject({ _tag: "Unauthorized", code: 401 })
    expect((error as { message: string }).message).toContain("log in again")
  })
})

describe("pods/exec over a WebSocket: deadlines", () => {
  const failureOf = async (cluster: SimulatedCluster, command: ReadonlyArray<string>) => {
    const { kubeconfig } = await stub.serve(cluster)
    const exit = await Effect.runPromiseExit(
      Effect.flatMap(Kube, (kube) => collect(kube, command)).pipe(
        Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 500, execIdleMillis: 500 })),
      ),
    )
    return Exit.isFailure(exit) ? exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined))[0] : "succeeded"
  }

  it("fails (Timeout) when the API server does not answer the upgrade within the request deadline", async () => {
    const cluster = clusterWithHeldPod()
    cluster.faults.inject(Fault.timeout(), { resource: "pods/exec" })
    expect(await failureOf(cluster, ["true"])).toMatchObject({ _tag: "Timeout", reason: "ClientTimeout" })
  })

  it("fails (Timeout) when the command sends nothing for the idle limit while its output is awaited", async () => {
    const error = await failureOf(clusterWithHeldPod(), ["sleep", "5"])
    expect(error).toMatchObject({ _tag: "Timeout", reason: "ClientTimeout" })
    expect((error as { message: string }).message).toContain("sent nothing for 500 ms")
  })
})
