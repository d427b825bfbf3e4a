/** The stub API server's protocol, checked with plain HTTP (no Kubernetes client in between). */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { request as httpRequest } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { parse } from "yaml"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { configMapType } from "../../src/services/kube/resources.ts"
import { Fault } from "../../src/simulation/faults.ts"
import { startSimulatedApiServer, writeKubeconfig, type SimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../src/simulation/simulated-cluster.ts"

let cluster: SimulatedCluster
let server: SimulatedApiServer
beforeAll(async () => {
  cluster = makeSimulatedCluster()
  server = await startSimulatedApiServer(cluster, { token: "secret-token" })
})
afterAll(() => server.close())

const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: "Bearer secret-token", "Content-Type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  })
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> }
}

/** Reads watch lines until `count` arrived or the server ended the response. */
const watchLines = (path: string, count: number): Promise<{ lines: Array<Record<string, unknown>>; ended: boolean }> =>
  new Promise((resolve, reject) => {
    const lines: Array<Record<string, unknown>> = []
    let buffer = ""
    const req = httpRequest(`${server.url}${path}`, { headers: { Authorization: "Bearer secret-token" } }, (res) => {
      expect(res.headers["transfer-encoding"]).toBe("chunked")
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buffer += chunk
        for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
          lines.push(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>)
          buffer = buffer.slice(newline + 1)
        }
        if (lines.length >= count) {
          req.destroy()
          resolve({ lines, ended: false })
        }
      })
      res.on("end", () => resolve({ lines, ended: true }))
    })
    req.on("error", reject)
    req.end()
  })

describe("stub API server", () => {
  it("answers Kubernetes Status objects for a missing token, an unknown path and an unsupported method", async () => {
    const noToken = await call("GET", "/api/v1/namespaces/ns/configmaps", undefined, { Authorization: "" })
    expect(noToken.status).toBe(401)
    expect(noToken.json).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", code: 401, reason: "Unauthorized" })
    expect((await call("GET", "/api/v1/namespaces/ns/widgets")).json).toMatchObject({ code: 404, reason: "NotFound" })
    expect((await call("POST", "/api/v1/namespaces/ns/configmaps/a", {})).json).toMatchObject({ code: 405, reason: "MethodNotAllowed" })
  })

  it("serves create (201), get, list with labelSelector, put, merge patch and delete", async () => {
    const created = await call("POST", "/api/v1/namespaces/ns/configmaps", { metadata: { name: "a", labels: { app: "x" } }, data: { k: "1" } })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "ns" } })
    await call("POST", "/api/v1/namespaces/ns/configmaps", { metadata: { name: "b", labels: { app: "y" } } })
    const list = await call("GET", "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx")
    expect(list.json).toMatchObject({ kind: "ConfigMapList", metadata: { resourceVersion: cluster.resourceVersion() } })
    expect((list.json.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name)).toEqual(["a"])
    const put = await call("PUT", "/api/v1/namespaces/ns/configmaps/a", { ...created.json, data: { k: "2" } })
    expect(put.json.data).toEqual({ k: "2" })
    const patch = await call("PATCH", "/api/v1/namespaces/ns/configmaps/a", { data: { k: null, j: "3" } }, { "Content-Type": "application/merge-patch+json" })
    expect(patch.json.data).toEqual({ j: "3" })
    expect((await call("DELETE", "/api/v1/namespaces/ns/configmaps/a")).json).toMatchObject({ kind: "Status", status: "Success" })
    expect((await call("GET", "/api/v1/namespaces/ns/configmaps/a")).status).toBe(404)
  })

  it("serves a cluster-scoped BackupPolicy and its /status subresource: put and patch change only status; post, delete and watch there are 405", async () => {
    const base = "/apis/backup.openshift.io/v1alpha1/backuppolicies"
    const created = await call("POST", base, { metadata: { name: "hourly" }, spec: { schedule: "0 * * * *" }, status: { x: 1 } })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({ kind: "BackupPolicy", metadata: { name: "hourly", generation: 1 } })
    expect(created.json.status).toBeUndefined()
    const put = await call("PUT", `${base}/hourly/status`, { ...created.json, spec: { suspend: true }, status: { ready: true } })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ spec: { schedule: "0 * * * *" }, status: { ready: true }, metadata: { generation: 1 } })
    const stale = await call("PUT", `${base}/hourly/status`, { ...created.json, status: { ready: false } })
    expect(stale.json).toMatchObject({ code: 409, reason: "Conflict" })
    const patch = await call("PATCH", `${base}/hourly/status`, { status: { n: 2 } }, { "Content-Type": "application/merge-patch+json" })
    expect(patch.json.status).toEqual({ ready: true, n: 2 })
    expect((await call("GET", `${base}/hourly/status`)).json).toEqual(patch.json)
    for (const method of ["POST", "DELETE"]) expect((await call(method, `${base}/hourly/status`)).json).toMatchObject({ code: 405 })
    expect((await call("GET", `${base}/hourly/status?watch=true`)).json).toMatchObject({ code: 405 })
    expect((await call("GET", "/api/v1/namespaces/ns/configmaps/a/status")).json).toMatchObject({ code: 404 })
  })

  it("refuses a patch that is not a merge patch (415) and a body that is not JSON (400)", async () => {
    await call("POST", "/api/v1/namespaces/ns/configmaps", { metadata: { name: "p" } })
    const strategic = await call("PATCH", "/api/v1/namespaces/ns/configmaps/p", { data: {} }, { "Content-Type": "application/strategic-merge-patch+json" })
    expect(strategic.json).toMatchObject({ code: 415, reason: "UnsupportedMediaType" })
    expect((await call("POST", "/api/v1/namespaces/ns/configmaps", "{not json")).json).toMatchObject({ code: 400, reason: "BadRequest" })
  })

  it("sends Retry-After with an injected 429", async () => {
    cluster.faults.inject(Fault.tooManyRequests(7), { verb: "list" })
    const throttled = await call("GET", "/api/v1/namespaces/ns/configmaps")
    expect(throttled.status).toBe(429)
    expect(throttled.headers.get("retry-after")).toBe("7")
    expect(throttled.json).toMatchObject({ reason: "TooManyRequests", details: { retryAfterSeconds: 7 } })
  })

  it("streams watch events as chunked newline-delimited JSON, from a resourceVersion, with watch=1 too", async () => {
    const from = cluster.resourceVersion()
    const pending = watchLines(`/api/v1/namespaces/ns/pods?watch=1&resourceVersion=${from}&labelSelector=app%3Dw`, 2)
    await new Promise((r) => setTimeout(r, 30))
    for (const name of ["w1", "w2"]) {
      await call("POST", "/api/v1/namespaces/ns/pods", { metadata: { name, labels: { app: "w" } }, spec: { containers: [{ name: "c", image: "i" }] } })
    }
    const { lines } = await pending
    expect(lines.map((l) => [l.type, (l.object as { metadata: { name: string } }).metadata.name])).toEqual([
      ["ADDED", "w1"],
      ["ADDED", "w2"],
    ])
  })

  it("ends a watch after timeoutSeconds, and answers an expired resourceVersion with an in-stream 410 ERROR", async () => {
    const started = Date.now()
    const timedOut = await watchLines(`/api/v1/namespaces/ns/pods?watch=true&resourceVersion=${cluster.resourceVersion()}&timeoutSeconds=1`, 99)
    expect(timedOut.ended).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    // Writes of its own, so that resourceVersion 1 lies before the compaction whatever ran before.
    for (const name of ["compacted-a", "compacted-b"]) Result.getOrThrow(cluster.create(configMapType, { metadata: { name, namespace: "ns" } }))
    cluster.compact()
    const expired = await watchLines("/api/v1/namespaces/ns/pods?watch=true&resourceVersion=1", 99)
    expect(expired.ended).toBe(true)
    expect(expired.lines).toEqual([{ type: "ERROR", object: expect.objectContaining({ kind: "Status", code: 410, reason: "Expired" }) }])
  })

  it("leaves an injected timeout unanswered, and close() still ends it", async () => {
    const own = await startSimulatedApiServer(makeSimulatedCluster(), { token: "t" })
    own.cluster.faults.inject(Fault.timeout(), { verb: "get" })
    const hanging = fetch(`${own.url}/api/v1/namespaces/ns/configmaps/a`, { headers: { Authorization: "Bearer t" } }).then(
      () => "answered",
      () => "connection closed",
    )
    const early = await Promise.race([hanging, new Promise((r) => setTimeout(() => r("still waiting"), 150))])
    expect(early).toBe("still waiting")
    await own.close()
    expect(await hanging).toBe("connection closed")
    expect(own.httpRequests.at(-1)?.status).toBe("none")
  })

  it("writes a kubeconfig (mode 0600) pointing at the server with its token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeconfig-"))
    try {
      const path = join(dir, "nested", "kubeconfig")
      await Effect.runPromise(writeKubeconfig(path, { url: server.url, token: server.token, namespace: "openshift-etcd" }))
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      const config = parse(await readFile(path, "utf8")) as Record<string, unknown>
      expect(config).toMatchObject({
        kind: "Config",
        "current-context": "simulated",
        clusters: [{ cluster: { server: server.url } }],
        users: [{ user: { token: "secret-token" } }],
        contexts: [{ context: { namespace: "openshift-etcd" } }],
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
