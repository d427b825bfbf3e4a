import { writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { Deferred, Effect, Fiber, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Fault } from "../../../src/simulation/faults.ts"
import { Kube, type KubeService, type WatchEvent } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource, loadKubeConfig, type LiveOptions } from "../../../src/services/kube/live-transport.ts"
import { openShiftFixture } from "../../../src/simulation/openshift-fixtures.ts"
import { configMapType, podType } from "../../../src/services/kube/resources.ts"
import type { RetryPolicy } from "../../../src/services/kube/retry.ts"
import { secretBytes, secretData, type Pod } from "../../../src/services/kube/schemas.ts"
import { writeKubeconfig, type SimulatedApiServer } from "../../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { until } from "../../support/eventually.ts"
import { stubServers } from "./stub-servers.ts"
import { kubeletEvent } from "../../../src/simulation/simulated-kubelet.ts"

const fast: RetryPolicy = { maxRetries: 3, baseDelayMillis: 5, maxDelayMillis: 50, jitter: 0.5 }
const podSpec = { containers: [{ name: "main", image: "registry.example/backup:1" }] }

const stub = stubServers("kube-live-")

interface Harness {
  readonly cluster: SimulatedCluster
  readonly server: SimulatedApiServer
  readonly kubeconfig: string
  readonly run: <A, E>(program: (kube: KubeService) => Effect.Effect<A, E>, options?: LiveOptions & { retry?: RetryPolicy }) => Promise<A>
  /** HTTP requests the server saw on a path (query ignored), optionally by method. */
  readonly count: (path: string, method?: string) => number
}

let serial = 0
const harness = async (token?: string): Promise<Harness> => {
  const cluster = makeSimulatedCluster({ seed: ++serial })
  const { server, kubeconfig } = await stub.serve(cluster, token)
  return {
    cluster,
    server,
    kubeconfig,
    run: (program, options = {}) =>
      Effect.runPromise(
        Effect.flatMap(Kube, program).pipe(
          Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { retry: fast, requestTimeoutMillis: 2_000, ...options })),
        ),
      ),
    count: (path, method) => server.httpRequests.filter((r) => r.path === path && (method === undefined || r.method === method)).length,
  }
}

describe("live Kube Layer: operations over HTTP", () => {
  it("reuses its connections: 40 requests over one kubeconfig open at most 2 (client-node alone opened one per request)", async () => {
    const h = await harness()
    const fixture = openShiftFixture({ seed: 4 })
    Result.getOrThrow(fixture.load(h.cluster))
    const before = h.server.connections()
    await h.run((kube) =>
      Effect.gen(function* () {
        for (let i = 0; i < 20; i++) {
          yield* kube.operators.get("etcd")
          yield* kube.configMaps.list("openshift-etcd")
        }
      }),
    )
    expect(h.count("/apis/operator.openshift.io/v1/etcds/cluster")).toBe(20)
    expect(h.server.connections() - before).toBeLessThanOrEqual(2)
  })

  it("reads the operator CRs and the revisioned ConfigMaps and Secrets of a loaded cluster", async () => {
    const h = await harness()
    const fixture = openShiftFixture({ optionalResources: "all" })
    Result.getOrThrow(fixture.load(h.cluster))
    const etcd = fixture.revisions.etcd
    const result = await h.run((kube) =>
      Effect.all({
        cr: kube.operators.get("etcd"),
        crs: kube.operators.list("kube-apiserver"),
        pod: kube.configMaps.get("openshift-etcd", `etcd-pod-${etcd}`),
        all: kube.configMaps.list("openshift-etcd"),
        kubelet: kube.configMaps.get("openshift-kube-apiserver", `kubelet-serving-ca-${fixture.revisions["kube-apiserver"]}`),
        encryption: kube.secrets.get("openshift-kube-apiserver", `encryption-config-${fixture.revisions["kube-apiserver"]}`),
        secrets: kube.secrets.list("openshift-etcd"),
      }),
    )
    expect(result.cr).toMatchObject({ kind: "Etcd", metadata: { name: "cluster" }, status: { latestAvailableRevision: etcd } })
    expect(result.crs.items.map((cr) => cr.kind)).toEqual(["KubeAPIServer"])
    expect(result.pod.data?.["pod.yaml"]).toContain(`etcd-pod-${etcd}`)
    expect(result.pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: "ConfigMap", name: `revision-status-${etcd}` })
    expect(result.all.items.map((c) => c.metadata.name)).toContain(`revision-status-${etcd}`)
    expect(result.all.resourceVersion).toBe(h.cluster.resourceVersion())
    expect(result.kubelet.binaryData?.["ca-bundle.der"]).toBeInstanceOf(Uint8Array)
    expect(new TextDecoder().decode(secretBytes(result.encryption, "encryption-config"))).toContain("EncryptionConfiguration")
    expect(result.secrets.items.map((s) => s.metadata.name)).toContain("etcd-client")
  })

  it("creates, updates, patches and lists ConfigMaps and Secrets by label", async () => {
    const h = await harness()
    const out = await h.run((kube) =>
      Effect.gen(function* () {
        const created = yield* kube.configMaps.create("ns", {
          metadata: { name: "status", labels: { app: "backup" } },
          data: { a: "1" },
          binaryData: { b: new Uint8Array([0, 200]) },
        })
        const updated = yield* kube.configMaps.update("ns", { ...created, data: { a: "2" } })
        const patched = yield* kube.configMaps.patch("ns", "status", { data: { c: "3" }, metadata: { annotations: { note: "x" } } })
        yield* kube.configMaps.create("ns", { metadata: { name: "other", labels: { app: "else" } } })
        const listed = yield* kube.configMaps.list("ns", { labelSelector: "app=backup" })
        const secret = yield* kube.secrets.create("ns", {
          metadata: { name: "s", labels: { app: "backup" } },
          type: "Opaque",
          data: secretData({ token: "t0p" }),
        })
        const secret2 = yield* kube.secrets.update("ns", { ...secret, data: secretData({ token: "n3w" }) })
        const secret3 = yield* kube.secrets.patch("ns", "s", { metadata: { labels: { rotated: "yes" } } })
        const secrets = yield* kube.secrets.list("ns", { labelSelector: "rotated" })
        return { created, updated, patched, listed, secret2, secret3, secrets }
      }),
    )
    expect(Number(out.updated.metadata.resourceVersion)).toBeGreaterThan(Number(out.created.metadata.resourceVersion))
    expect(out.patched.data).toEqual({ a: "2", c: "3" })
    expect(Array.from(out.patched.binaryData?.b ?? [])).toEqual([0, 200])
    expect(out.patched.metadata.annotations).toEqual({ note: "x" })
    expect(out.listed.items.map((c) => c.metadata.name)).toEqual(["status"])
    expect(new TextDecoder().decode(secretBytes(out.secret3, "token"))).toBe("n3w")
    expect(out.secrets.items.map((s) => s.metadata.name)).toEqual(["s"])
    expect(h.cluster.get(configMapType, "ns", "status")?.binaryData).toEqual({ b: Buffer.from([0, 200]).toString("base64") })
  })

  it("creates, gets, lists and deletes pods, records events, and holds leases", async () => {
    const h = await harness()
    const out = await h.run((kube) =>
      Effect.gen(function* () {
        const pod = yield* kube.pods.create("ns", { metadata: { generateName: "cluster-backup-", labels: { app: "backup" } }, spec: podSpec })
        const got = yield* kube.pods.get("ns", pod.metadata.name)
        const listed = yield* kube.pods.list("ns", { labelSelector: "app in (backup)" })
        yield* kube.pods.delete("ns", pod.metadata.name)
        const gone = yield* Effect.flip(kube.pods.get("ns", pod.metadata.name))
        const event = yield* kube.events.create("default", {
          metadata: { generateName: "cluster." },
          involvedObject: { apiVersion: "operator.openshift.io/v1", kind: "Etcd", name: "cluster" },
          reason: "BackupRendered",
          message: "rendered the backup pod for etcd=3",
          type: "Normal",
          source: { component: "cluster-backup" },
        })
        yield* kube.events.create("default", kubeletEvent("default", "other", "FailedMount", "MountVolume.SetUp failed", "2024-01-01T00:00:00Z"))
        const aboutCluster = yield* kube.events.list("default", { involvedObjectName: "cluster" })
        const lease = yield* kube.leases.create("ns", {
          metadata: { name: "cluster-backup-lock" },
          spec: { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: "2024-01-01T00:00:00.000000Z" },
        })
        const renewed = yield* kube.leases.update("ns", { ...lease, spec: { ...lease.spec, renewTime: "2024-01-01T00:00:10.000000Z" } })
        const read = yield* kube.leases.get("ns", "cluster-backup-lock")
        return { pod, got, listed, gone, event, aboutCluster, renewed, read }
      }),
    )
    expect(out.pod.metadata.name).toMatch(/^cluster-backup-[a-z0-9]{5}$/)
    expect(out.got.status?.phase).toBe("Pending")
    expect(out.listed.items).toHaveLength(1)
    expect(out.gone._tag).toBe("NotFound")
    expect(out.event).toMatchObject({ reason: "BackupRendered", type: "Normal", metadata: { namespace: "default" } })
    expect(out.aboutCluster.items.map((e) => e.reason)).toEqual(["BackupRendered"])
    expect(out.read.spec?.renewTime).toBe("2024-01-01T00:00:10.000000Z")
    expect(out.read.metadata.resourceVersion).toBe(out.renewed.metadata.resourceVersion)
  })

  it("decodes pod status: phase and init/main container termination messages", async () => {
    const h = await harness()
    const name = await h.run((kube) =>
      Effect.map(
        kube.pods.create("ns", { metadata: { name: "b" }, spec: { initContainers: [{ name: "backup-init", image: "i" }], ...podSpec } }),
        (p) => p.metadata.name,
      ),
    )
    Result.getOrThrow(
      h.cluster.terminatePod("ns", name, { phase: "Failed", containers: { "backup-init": { exitCode: 3, message: "snapshot hash mismatch" } } }),
    )
    const pod = await h.run((kube) => kube.pods.get("ns", name))
    expect(pod.status?.phase).toBe("Failed")
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, message: "snapshot hash mismatch" })
    expect(pod.status?.containerStatuses?.[0]?.name).toBe("main")
  })
})

describe("live Kube Layer: failures", () => {
  const path = "/api/v1/namespaces/ns/configmaps"

  it("maps 404, 409 AlreadyExists, 409 Conflict, 403, 422 and 400 to tagged errors, each after one request", async () => {
    const h = await harness()
    const errors = await h.run((kube) =>
      Effect.gen(function* () {
        const first = yield* kube.configMaps.create("ns", { metadata: { name: "a" } })
        yield* kube.configMaps.update("ns", { ...first, data: { x: "1" } })
        h.cluster.faults.inject(Fault.forbidden(), { verb: "list" })
        return {
          notFound: yield* Effect.flip(kube.configMaps.get("ns", "missing")),
          exists: yield* Effect.flip(kube.configMaps.create("ns", { metadata: { name: "a" } })),
          conflict: yield* Effect.flip(kube.configMaps.update("ns", { ...first, data: { x: "2" } })),
          forbidden: yield* Effect.flip(kube.configMaps.list("ns")),
          invalid: yield* Effect.flip(kube.configMaps.create("ns", { metadata: { name: "Not_A_Name" } })),
          badRequest: yield* Effect.flip(kube.configMaps.patch("ns", "a", { metadata: { name: "b" } })),
        }
      }),
    )
    expect(errors.notFound).toMatchObject({ _tag: "NotFound", code: 404, reason: "NotFound", kind: "ConfigMap", namespace: "ns", name: "missing" })
    expect(errors.notFound.message).toBe('ConfigMap ns/missing: configmaps "missing" not found')
    expect(errors.exists).toMatchObject({ _tag: "AlreadyExists", code: 409, reason: "AlreadyExists", name: "a" })
    expect(errors.conflict).toMatchObject({ _tag: "Conflict", code: 409, reason: "Conflict", name: "a" })
    expect(errors.conflict.message).toContain("the object has been modified")
    expect(errors.forbidden).toMatchObject({ _tag: "Forbidden", code: 403 })
    expect(errors.invalid).toMatchObject({ _tag: "Invalid", code: 422, reason: "Invalid" })
    expect(errors.invalid.message).toContain("metadata.name")
    expect(errors.badRequest).toMatchObject({ _tag: "Invalid", code: 400, reason: "BadRequest" })
    expect(h.count(`${path}/missing`)).toBe(1)
    expect(h.count(path, "POST")).toBe(3)
    expect(h.count(`${path}/a`, "PUT")).toBe(2)
    expect(h.count(path, "GET")).toBe(1)
    expect(h.count(`${path}/a`, "PATCH")).toBe(1)
  })

  it("answers 401 Unauthorized to a wrong token, without retrying", async () => {
    const h = await harness("wrong-token")
    const error = await h.run((kube) => Effect.flip(kube.configMaps.get("ns", "a")))
    expect(error).toMatchObject({ _tag: "Unauthorized", code: 401, reason: "Unauthorized" })
    // The API server says only "Unauthorized": the message says which server refused what, and what to do.
    expect(error.message).toBe(
      `ConfigMap ns/a: Unauthorized: the API server at ${h.server.url} did not accept the credentials this configuration gives ` +
        "(a token or client certificate that is missing, expired or revoked); log in again, or give a kubeconfig with current credentials",
    )
    expect(h.count(`${path}/a`)).toBe(1)
  })

  it("retries 5xx on a get until it succeeds, and gives up after the budget with Unavailable", async () => {
    const h = await harness()
    Result.getOrThrow(h.cluster.create(configMapType, { metadata: { name: "a", namespace: "ns" } }))
    h.cluster.faults.inject(Fault.internalError(), { verb: "get", times: 2 })
    const got = await h.run((kube) => kube.configMaps.get("ns", "a"))
    expect(got.metadata.name).toBe("a")
    expect(h.count(`${path}/a`)).toBe(3)
    h.cluster.faults.inject(Fault.unavailable(), { verb: "get", times: Infinity })
    const error = await h.run((kube) => Effect.flip(kube.configMaps.get("ns", "a")))
    expect(error).toMatchObject({ _tag: "Unavailable", code: 503, reason: "ServiceUnavailable" })
    expect(h.count(`${path}/a`)).toBe(3 + 1 + fast.maxRetries)
  })

  it("honours Retry-After on 429", async () => {
    const h = await harness()
    Result.getOrThrow(h.cluster.create(configMapType, { metadata: { name: "a", namespace: "ns" } }))
    h.cluster.faults.inject(Fault.tooManyRequests(1), { verb: "get" })
    const started = Date.now()
    await h.run((kube) => kube.configMaps.get("ns", "a"), { retry: { ...fast, maxDelayMillis: 5_000 } })
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(h.count(`${path}/a`)).toBe(2)
    expect(h.server.httpRequests.some((r) => r.status === 429)).toBe(true)
  })

  it("does not retry a create after a 5xx (it may have been applied), but does after a 429", async () => {
    const h = await harness()
    h.cluster.faults.inject(Fault.internalError(), { verb: "create" })
    const error = await h.run((kube) => Effect.flip(kube.pods.create("ns", { metadata: { generateName: "p-" }, spec: podSpec })))
    expect(error).toMatchObject({ _tag: "Unavailable", code: 500 })
    expect(h.count("/api/v1/namespaces/ns/pods", "POST")).toBe(1)
    h.cluster.faults.inject(Fault.tooManyRequests(0), { verb: "create" })
    await h.run((kube) => kube.pods.create("ns", { metadata: { generateName: "p-" }, spec: podSpec }))
    expect(h.count("/api/v1/namespaces/ns/pods", "POST")).toBe(3)
    expect(h.cluster.list(podType, "ns")).toHaveLength(1)
  })

  it("times out an unanswered request (client deadline) and maps a 504 to Timeout", async () => {
    const h = await harness()
    h.cluster.faults.inject(Fault.timeout(), { verb: "get" })
    const started = Date.now()
    const clientSide = await h.run((kube) => Effect.flip(kube.configMaps.get("ns", "a")), { requestTimeoutMillis: 300, retry: { ...fast, maxRetries: 0 } })
    expect(clientSide).toMatchObject({ _tag: "Timeout", code: 0, reason: "ClientTimeout" })
    expect(Date.now() - started).toBeLessThan(2_000)
    h.cluster.faults.inject(Fault.serverTimeout(), { verb: "get", times: Infinity })
    const serverSide = await h.run((kube) => Effect.flip(kube.configMaps.get("ns", "a")), { retry: { ...fast, maxRetries: 1 } })
    expect(serverSide).toMatchObject({ _tag: "Timeout", code: 504, reason: "Timeout" })
    expect(h.count(`${path}/a`)).toBe(1 + 2)
  })

  it("treats a refused connection as Unavailable, retried within a bounded budget", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer()
      probe.listen(0, "127.0.0.1", () => {
        const address = probe.address()
        probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
    const kubeconfig = join(stub.dir(), "kubeconfig-closed")
    await Effect.runPromise(writeKubeconfig(kubeconfig, { url: `http://127.0.0.1:${port}`, token: "t" }))
    const started = Date.now()
    const error = await Effect.runPromise(
      Effect.flatMap(Kube, (kube) => Effect.flip(kube.configMaps.get("ns", "a"))).pipe(
        Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { retry: fast })),
      ),
    )
    expect(error).toMatchObject({ _tag: "Unavailable", code: 0, reason: "ConnectionRefused" })
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  it('a server on a port fetch refuses to reach (its bad ports: 6000, 10080, ...) is named so, not only as "fetch failed"', async () => {
    const kubeconfig = join(stub.dir(), "kubeconfig-bad-port")
    await Effect.runPromise(writeKubeconfig(kubeconfig, { url: "http://127.0.0.1:6000", token: "t" }))
    const error = await Effect.runPromise(
      Effect.flatMap(Kube, (kube) => Effect.flip(kube.configMaps.get("ns", "a"))).pipe(
        Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { retry: { ...fast, maxRetries: 0 } })),
      ),
    )
    expect(error.message).toContain("the connection to the API server at http://127.0.0.1:6000 failed (fetch failed; bad port)")
  })

  it("explains a kubeconfig that cannot be used", async () => {
    const missing = await Effect.runPromise(Effect.flip(loadKubeConfig(KubeConfigSource.file(join(stub.dir(), "nope")))))
    expect(missing).toMatchObject({ _tag: "KubeConfigInvalid", source: join(stub.dir(), "nope") })
    const outside = await Effect.runPromise(Effect.flip(loadKubeConfig(KubeConfigSource.inCluster, {})))
    expect(outside.message).toContain("not running in a pod")
    const plainHttp = join(stub.dir(), "kubeconfig-plain-http")
    writeFileSync(
      plainHttp,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:8001" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    )
    const refused = await Effect.runPromise(Effect.flip(loadKubeConfig(KubeConfigSource.file(plainHttp))))
    expect(refused).toMatchObject({ _tag: "KubeConfigInvalid", source: plainHttp })
    expect(refused.message).toContain(`its server "http://127.0.0.1:8001" is plain http`)
    expect(refused.message).toContain("insecure-skip-tls-verify: true")
    const h = await harness()
    const viaEnv = await Effect.runPromise(loadKubeConfig(KubeConfigSource.default, { KUBECONFIG: h.kubeconfig }))
    expect(viaEnv.getCurrentCluster()?.server).toBe(h.server.url)
    expect(KubeConfigSource.fromFlags(undefined)).toEqual(KubeConfigSource.default)
    expect(KubeConfigSource.fromFlags("/k")).toEqual(KubeConfigSource.file("/k"))
    expect(KubeConfigSource.fromFlags("/k", "prod")).toEqual({ _tag: "File", path: "/k", context: "prod" })
    expect(KubeConfigSource.fromFlags(undefined, "prod")).toEqual({ _tag: "Default", context: "prod" })
  })

  it("takes the context --context names, not the kubeconfig's current one, and names the contexts it has when it has no such context", async () => {
    const h = await harness()
    const path = join(stub.dir(), "kubeconfig-two-contexts")
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "staging", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } },
          { name: "prod", cluster: { server: h.server.url, "insecure-skip-tls-verify": true } },
        ],
        users: [
          { name: "staging-admin", user: { token: "not-this-one" } },
          { name: "prod-admin", user: { token: h.server.token } },
        ],
        contexts: [
          { name: "staging", context: { cluster: "staging", user: "staging-admin" } },
          { name: "prod", context: { cluster: "prod", user: "prod-admin" } },
        ],
        "current-context": "staging",
      }),
    )
    const current = await Effect.runPromise(loadKubeConfig(KubeConfigSource.fromFlags(path)))
    expect(current.getCurrentCluster()?.server).toBe("http://127.0.0.1:1")
    const named = await Effect.runPromise(loadKubeConfig(KubeConfigSource.fromFlags(path, "prod")))
    expect(named.getCurrentCluster()?.server).toBe(h.server.url)
    expect(named.getCurrentUser()?.token).toBe(h.server.token)
    const viaEnv = await Effect.runPromise(loadKubeConfig(KubeConfigSource.fromFlags(undefined, "prod"), { KUBECONFIG: path }))
    expect(viaEnv.getCurrentCluster()?.server).toBe(h.server.url)
    const missing = await Effect.runPromise(Effect.flip(loadKubeConfig(KubeConfigSource.fromFlags(path, "production"))))
    expect(missing).toMatchObject({ _tag: "KubeConfigInvalid", source: path })
    expect(missing.message).toBe(
      `cannot use the Kubernetes configuration from ${path}: --context production: it has no context of that name (its contexts: staging, prod)`,
    )
  })

  it("never quotes a kubeconfig's lines (its token, its keys) when its YAML is malformed: the reason and the position only", async () => {
    const path = join(stub.dir(), "kubeconfig-malformed")
    const secret = "sha256~do-not-print-this-token"
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "users:",
        "- name: u",
        "  user:",
        `    token: ${secret}`,
        "   client-key-data: c2VjcmV0LWtleQ==",
        "current-context: x",
      ].join("\n"),
    )
    const error = await Effect.runPromise(Effect.flip(loadKubeConfig(KubeConfigSource.file(path))))
    expect(error.message).toContain("invalid YAML: bad indentation of a mapping entry (line 7, column 4)")
    expect(error.message).not.toContain(secret)
    expect(error.message).not.toContain("c2VjcmV0LWtleQ")
  })

  it("never quotes what an exec credential plugin printed when it is not JSON (it holds the token)", async () => {
    const h = await harness()
    const plugin = join(stub.dir(), "credential-plugin.sh")
    writeFileSync(plugin, "#!/bin/sh\necho 'sha256~do-not-print-this-token'\n", { mode: 0o755 })
    const kubeconfig = join(stub.dir(), "kubeconfig-exec")
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: h.server.url, "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    )
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.flatMap(Kube, (kube) => kube.configMaps.get("ns", "a")).pipe(Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { retry: fast }))),
      ),
    )
    expect(error).toMatchObject({ _tag: "Unauthorized", reason: "CredentialsUnavailable" })
    expect(error.message).toContain("the credential plugin's output is not a valid ExecCredential JSON document")
    expect(error.message).not.toContain("sha256~")
  })

  it("merges KUBECONFIG files as kubectl does: a cluster, user or context named in two files is the first file's", async () => {
    // Two installers' kubeconfigs both name their context and user `admin`: client-node's merge threw "Duplicate cluster".
    const h = await harness()
    const other = join(stub.dir(), "kubeconfig-other")
    await Effect.runPromise(writeKubeconfig(other, { url: "http://127.0.0.1:1", token: "not-this-one" }))
    const merged = await Effect.runPromise(loadKubeConfig(KubeConfigSource.default, { KUBECONFIG: `${h.kubeconfig}:${other}` }))
    expect(merged.getCurrentCluster()?.server).toBe(h.server.url)
    expect(merged.getCurrentUser()?.token).toBe(h.server.token)
    expect(merged.clusters).toHaveLength(1)
    const reversed = await Effect.runPromise(loadKubeConfig(KubeConfigSource.default, { KUBECONFIG: `${other}:${h.kubeconfig}` }))
    expect(reversed.getCurrentCluster()?.server).toBe("http://127.0.0.1:1")
  })
})

describe("live Kube Layer: watches", () => {
  const names = (events: ReadonlyArray<WatchEvent<Pod>>) =>
    events.map((e) =>
      e.type === "SYNC"
        ? `SYNC ${e.objects.map((p) => p.metadata.name).join(",")}`
        : "object" in e
          ? `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`
          : e.type,
    )

  /** Watches pods while `act` runs, until `count` events arrived. */
  const watchDuring = (h: Harness, count: number, act: (kube: KubeService) => Effect.Effect<unknown, unknown>, from?: string) =>
    h.run((kube) =>
      Effect.gen(function* () {
        const fiber = yield* kube.pods
          .watch("ns", { labelSelector: "app=backup", ...(from === undefined ? {} : { resourceVersion: from }) })
          .pipe(Stream.take(count), Stream.runCollect, Effect.forkChild)
        // Act once a watch runs from the current resourceVersion (after any relist): every later change is an event.
        yield* until("the watch to catch up", () =>
          h.cluster.requests.some((r) => r.verb === "watch" && r.resource === "pods" && r.resourceVersion === h.cluster.resourceVersion()),
        )
        yield* act(kube)
        return yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
      }),
    )

  const createPods = (kube: KubeService, names: ReadonlyArray<string>) =>
    Effect.forEach(
      names,
      (name) => kube.pods.create("ns", { metadata: { name, labels: { app: "backup" } }, spec: podSpec }).pipe(Effect.andThen(Effect.sleep(10))),
      {
        discard: true,
      },
    )

  it("resumes from the last seen resourceVersion after the connection is reset: nothing lost, nothing repeated", async () => {
    const h = await harness()
    h.cluster.faults.inject(Fault.dropWatch(2, true), { verb: "watch" })
    const events = await watchDuring(h, 6, (kube) => createPods(kube, ["a", "b", "c", "d", "e"]))
    const created = h.cluster
      .list(podType, "ns")
      .map((o) => `ADDED ${(o.metadata as { name: string }).name}@${(o.metadata as { resourceVersion: string }).resourceVersion}`)
    expect(names(events)).toEqual(["SYNC ", ...created])
    const watches = h.server.httpRequests.filter((r) => r.query.get("watch") === "true")
    expect(watches.length).toBeGreaterThanOrEqual(2)
    const secondEvent = events[2]
    expect(watches[1]?.query.get("resourceVersion")).toBe(secondEvent?.type === "ADDED" ? secondEvent.object.metadata.resourceVersion : "")
  })

  it("resumes after a clean close too (the server ending the watch)", async () => {
    const h = await harness()
    h.cluster.faults.inject(Fault.dropWatch(1, false), { verb: "watch", times: 3 })
    const events = await watchDuring(h, 5, (kube) => createPods(kube, ["a", "b", "c", "d"]))
    expect(names(events).slice(1)).toEqual(
      h.cluster.list(podType, "ns").map((o) => `ADDED ${(o.metadata as { name: string }).name}@${(o.metadata as { resourceVersion: string }).resourceVersion}`),
    )
  })

  it("reopens a watch connection that stays silent longer than watchIdleMillis, from the same resourceVersion", async () => {
    const h = await harness()
    const events = await h.run(
      (kube) =>
        Effect.gen(function* () {
          const fiber = yield* kube.pods.watch("ns").pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
          yield* until("the first watch", () => h.cluster.requests.some((r) => r.verb === "watch"))
          yield* Effect.sleep(450)
          yield* kube.pods.create("ns", { metadata: { name: "late" }, spec: podSpec })
          return yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
        }),
      { watchIdleMillis: 150 },
    )
    expect(events.map((e) => e.type)).toEqual(["SYNC", "ADDED"])
    const watches = h.server.httpRequests.filter((r) => r.query.get("watch") === "true")
    expect(watches.length).toBeGreaterThanOrEqual(2)
    expect(new Set(watches.map((w) => w.query.get("resourceVersion")))).toEqual(new Set(["1"]))
  })

  it("relists and emits a SYNC of the current state when resuming answers 410 in the stream", async () => {
    const h = await harness()
    for (const name of ["old-1", "old-2"]) {
      Result.getOrThrow(h.cluster.create(podType, { metadata: { name, namespace: "ns", labels: { app: "backup" } }, spec: podSpec }))
    }
    h.cluster.compact()
    const events = await watchDuring(h, 2, (kube) => createPods(kube, ["new"]), "1")
    expect(names(events)[0]).toBe("SYNC old-1,old-2")
    expect(names(events)[1]).toMatch(/^ADDED new@/)
    expect(h.server.httpRequests.filter((r) => r.query.get("watch") === "true")[0]?.query.get("resourceVersion")).toBe("1")
  })

  it("relists after a dropped connection is answered by HTTP 410 Gone", async () => {
    const h = await harness()
    h.cluster.faults.inject(Fault.dropWatch(1, true), { verb: "watch" })
    h.cluster.faults.inject(Fault.status(410, "Gone", "the resourceVersion is gone"), { verb: "watch" })
    const events = await watchDuring(h, 4, (kube) => createPods(kube, ["a", "b", "c"]))
    const types = events.map((e) => e.type)
    expect(types[0]).toBe("SYNC")
    expect(types.filter((t) => t === "SYNC")).toHaveLength(2)
    const lastSync = events.findLast((e) => e.type === "SYNC")
    expect(lastSync?.type === "SYNC" && lastSync.objects.length).toBeGreaterThanOrEqual(1)
  })

  it("sees an operator CR change when a revision is bumped", async () => {
    const h = await harness()
    const fixture = openShiftFixture({ revisions: { etcd: 3 } })
    Result.getOrThrow(fixture.load(h.cluster))
    const events = await h.run((kube) =>
      Effect.gen(function* () {
        // Bump only after the initial SYNC: the watch then resumes from the list's resourceVersion.
        const synced = yield* Deferred.make<void>()
        const fiber = yield* kube.operators.watch("etcd").pipe(
          Stream.tap(() => Deferred.succeed(synced, undefined)),
          Stream.take(2),
          Stream.runCollect,
          Effect.forkChild,
        )
        yield* Deferred.await(synced)
        Result.getOrThrow(fixture.bumpRevision(h.cluster, "etcd", "pending"))
        return yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
      }),
    )
    expect(events[0]?.type).toBe("SYNC")
    expect(events[1]).toMatchObject({ type: "MODIFIED", object: { status: { latestAvailableRevision: 4 } } })
  })
})

describe("live Kube Layer: optimistic concurrency over HTTP", () => {
  it("concurrent updates from the same stale read: exactly one winner, Conflict for the others", async () => {
    const h = await harness()
    for (let round = 0; round < 5; round++) {
      const values = Array.from({ length: 6 }, (_, i) => `r${round}-w${i}`)
      const outcomes = await h.run((kube) =>
        Effect.gen(function* () {
          const base = yield* kube.configMaps
            .get("ns", "shared")
            .pipe(Effect.catchTag("NotFound", () => kube.configMaps.create("ns", { metadata: { name: "shared" } })))
          return yield* Effect.forEach(values, (v) => Effect.result(kube.configMaps.update("ns", { ...base, data: { v } })), {
            concurrency: "unbounded",
          })
        }),
      )
      const winners = outcomes.flatMap((o, i) => (Result.isSuccess(o) ? [values[i]] : []))
      expect(winners).toHaveLength(1)
      expect(outcomes.filter(Result.isFailure).map((o) => o.failure._tag)).toEqual(Array(values.length - 1).fill("Conflict"))
      expect(h.cluster.get(configMapType, "ns", "shared")?.data).toEqual({ v: winners[0] })
    }
  })
})
