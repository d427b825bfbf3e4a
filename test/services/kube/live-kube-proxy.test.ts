/**
 * The live Layer behind an HTTP(S) proxy named by the environment, as kubectl and client-go take it (a laptop or bastion
 * whose `oc` reaches the cluster through `HTTPS_PROXY`): requests, a watch and `pods/exec` all go through the proxy's
 * CONNECT, with its credentials; NO_PROXY reaches the server directly. The API server's name (`api.cluster.test`)
 * resolves nowhere: only the proxy, which tunnels it to the stub API server here, can reach it.
 */
import { randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Kube } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource, loadKubeConfig } from "../../../src/services/kube/live-transport.ts"
import { startSimulatedApiServer, writeKubeconfig, type SimulatedApiServer } from "../../../src/simulation/simulated-api-server.ts"
import { certificateFactory } from "../../support/encrypted-fixtures.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { errorOf, heldPodCluster, readWatchExec, sha256 } from "./held-pod-cluster.ts"

const dir = tempDir("kube-proxy")
const certs = certificateFactory(dir)
const day = 86_400_000
const ca = certs.ca("proxy-test-ca", new Date(Date.now() - day), new Date(Date.now() + 30 * day))
const serving = certs.leaf("api.cluster.test", ca, new Date(Date.now() - day), new Date(Date.now() + 30 * day))

const content = randomBytes(1024 * 1024 + 3)
writeFileSync(join(dir, "snapshot.db"), content)

/** `server` listening on a loopback port: the port, and a close that ends its open `sockets` too. */
const listening = async (server: NetServer, sockets: Set<Socket>) => {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const { port } = server.address() as { port: number }
  return {
    port,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => done())
      }),
  }
}

/**
 * A CONNECT proxy that tunnels every target to this machine's loopback, at the target's port; what it was asked. With
 * `requiredAuthorization`, a CONNECT without that Proxy-Authorization is answered 407.
 */
const startProxy = async (requiredAuthorization?: string) => {
  const tunnels: Array<{ readonly target: string; readonly authorization: string | undefined }> = []
  const sockets = new Set<Socket>()
  const server = createServer((_, response) => response.writeHead(405).end())
  server.on("connect", (request: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.push({ target: request.url ?? "", authorization: request.headers["proxy-authorization"] })
    if (requiredAuthorization !== undefined && request.headers["proxy-authorization"] !== requiredAuthorization) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const port = Number((request.url ?? "").split(":").at(-1))
    const upstream = connect(port, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on("error", () => socket.destroy())
      socket.on("close", () => sockets.delete(socket))
    }
    upstream.on("close", () => client.destroy())
    client.on("close", () => upstream.destroy())
  })
  return { ...(await listening(server, sockets)), tunnels }
}

/**
 * A SOCKS5 proxy (no authentication, CONNECT only), as `ssh -D` gives, tunnelling every target to this machine's
 * loopback at the target's port; the targets it was asked for, as host:port.
 */
const startSocks5 = async () => {
  const targets: Array<string> = []
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    client.on("error", () => client.destroy())
    let buffered = Buffer.alloc(0)
    let greeted = false
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!greeted) {
        if (buffered.length < 2 || buffered.length < 2 + buffered[1]!) return
        buffered = buffered.subarray(2 + buffered[1]!)
        greeted = true
        client.write(Buffer.from([5, 0]))
      }
      if (buffered.length < 5) return
      const kind = buffered[3]!
      const hostBytes = kind === 1 ? 4 : kind === 4 ? 16 : 1 + buffered[4]!
      if (buffered.length < 4 + hostBytes + 2) return
      const host = kind === 3 ? buffered.subarray(5, 5 + buffered[4]!).toString("utf8") : kind === 1 ? [...buffered.subarray(4, 8)].join(".") : "ipv6"
      const port = buffered.readUInt16BE(4 + hostBytes)
      const rest = buffered.subarray(4 + hostBytes + 2)
      client.off("data", onData)
      targets.push(`${host}:${port}`)
      const upstream = connect(port, "127.0.0.1", () => {
        client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]))
        if (rest.length > 0) upstream.write(rest)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      sockets.add(upstream)
      upstream.on("error", () => upstream.destroy())
      upstream.on("close", () => {
        sockets.delete(upstream)
        client.destroy()
      })
      client.on("close", () => upstream.destroy())
    }
    client.on("data", onData)
  })
  return { ...(await listening(server, sockets)), targets }
}

let api: SimulatedApiServer
let proxy: Awaited<ReturnType<typeof startProxy>>
let kubeconfig = ""
beforeAll(async () => {
  const cluster = heldPodCluster(dir)
  api = await startSimulatedApiServer(cluster, {
    tls: { cert: serving.certPem, key: readFileSync(serving.keyPath, "utf8"), urlHost: "api.cluster.test" },
  })
  proxy = await startProxy()
  kubeconfig = join(dir, "kubeconfig")
  await Effect.runPromise(writeKubeconfig(kubeconfig, { url: api.url, token: api.token, certificateAuthority: ca.certPem }))
})
afterAll(async () => {
  await proxy?.close()
  await api?.close()
})

/** A read, a watch's first event and an exec's output digest, with the Layer reading `env`. */
const through = (env: NodeJS.ProcessEnv) =>
  readWatchExec(
    Kube.live(KubeConfigSource.file(kubeconfig), {
      requestTimeoutMillis: 3_000,
      env,
      retry: { maxRetries: 0, baseDelayMillis: 1, maxDelayMillis: 1, jitter: 0 },
    }),
    "snapshot.db",
  )

describe("live Kube Layer behind a proxy the environment names", () => {
  it("HTTPS_PROXY with credentials: the read, the watch and the exec go through its CONNECT, whole", async () => {
    const before = proxy.tunnels.length
    const seen = await through({ HTTPS_PROXY: `http://backup:s3cret@127.0.0.1:${proxy.port}` })
    expect(Exit.isSuccess(seen.get) && seen.get.value.data).toEqual({ state: "Complete" })
    expect(Exit.isSuccess(seen.watched) && seen.watched.value[0]).toMatchObject({ type: "SYNC" })
    expect(Exit.isSuccess(seen.exec) ? seen.exec.value : errorOf(seen.exec)).toBe(sha256(content))
    const tunnels = proxy.tunnels.slice(before)
    expect(tunnels.length).toBeGreaterThanOrEqual(2)
    for (const tunnel of tunnels) {
      expect(tunnel.target).toBe(`api.cluster.test:${api.port}`)
      expect(tunnel.authorization).toBe(`Basic ${Buffer.from("backup:s3cret").toString("base64")}`)
    }
    // The exec's WebSocket is among them: the upgrade reached the server.
    expect(api.httpRequests.filter((r) => r.path.endsWith("/exec")).at(-1)?.status).toBe(101)
  })

  it("a SOCKS5 proxy (ssh -D) in HTTPS_PROXY, as kubectl takes it: the read, the watch and the exec go through it, whole", async () => {
    const socks = await startSocks5()
    try {
      for (const scheme of ["socks5", "socks5h"]) {
        const before = socks.targets.length
        const seen = await through({ HTTPS_PROXY: `${scheme}://127.0.0.1:${socks.port}` })
        expect(Exit.isSuccess(seen.get), JSON.stringify(errorOf(seen.get))).toBe(true)
        expect(Exit.isSuccess(seen.watched)).toBe(true)
        expect(Exit.isSuccess(seen.exec) ? seen.exec.value : errorOf(seen.exec)).toBe(sha256(content))
        // The name went to the proxy: nothing here resolves it.
        expect(new Set(socks.targets.slice(before))).toEqual(new Set([`api.cluster.test:${api.port}`]))
      }
    } finally {
      await socks.close()
    }
  })

  it("NO_PROXY naming the server's domain: nothing through the proxy (the name resolves nowhere, so the read fails)", async () => {
    const before = proxy.tunnels.length
    const seen = await through({ HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: "localhost,.cluster.test" })
    expect(errorOf(seen.get)).toMatchObject({ _tag: expect.stringMatching(/^(Unavailable|Timeout)$/) })
    expect((errorOf(seen.get) as { message: string }).message).not.toContain("through the proxy")
    expect(proxy.tunnels.length).toBe(before)
  })

  it("a proxy that is not there: the failure names the server and the proxy, never the proxy's credentials", async () => {
    const closed = createServer()
    await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done))
    const { port } = closed.address() as { port: number }
    await new Promise<void>((done) => (closed as Server).close(() => done()))
    const seen = await through({ HTTPS_PROXY: `http://backup:s3cret@127.0.0.1:${port}` })
    for (const exit of [seen.get, seen.exec]) {
      const error = errorOf(exit) as { _tag: string; message: string }
      expect(error._tag).toBe("Unavailable")
      expect(error.message).toContain(`https://api.cluster.test:${api.port} through the proxy http://127.0.0.1:${port}`)
      expect(error.message).not.toContain("s3cret")
    }
  })

  it("a proxy that wants other credentials (407): the read and the exec fail naming the proxy and its answer", async () => {
    const guarded = await startProxy(`Basic ${Buffer.from("backup:right").toString("base64")}`)
    try {
      const seen = await through({ HTTPS_PROXY: `http://backup:wrong@127.0.0.1:${guarded.port}` })
      for (const exit of [seen.get, seen.exec]) {
        const error = errorOf(exit) as { _tag: string; message: string }
        expect(error.message).toContain(`through the proxy http://127.0.0.1:${guarded.port}`)
        expect(error.message).toContain("407")
        expect(error.message).not.toContain("wrong")
      }
    } finally {
      await guarded.close()
    }
  })

  it("the operator behind OpenShift's cluster-wide proxy: the API server's service address is in its noProxy, so it goes directly", async () => {
    const service = join(dir, "kubeconfig-service")
    await Effect.runPromise(writeKubeconfig(service, { url: "https://172.30.0.1:443", token: "t", certificateAuthority: ca.certPem }))
    const proxyOf = async (env: NodeJS.ProcessEnv) =>
      (await Effect.runPromise(loadKubeConfig(KubeConfigSource.file(service), env))).getCurrentCluster()?.proxyUrl
    // The variables OLM gives an operator, noProxy as OpenShift's Proxy status computes it (the service network among them).
    const olm = {
      HTTPS_PROXY: "http://proxy.corp:3128",
      HTTP_PROXY: "http://proxy.corp:3128",
      NO_PROXY: ".cluster.local,.svc,10.128.0.0/14,127.0.0.1,172.30.0.0/16,api-int.ocp.example.com,localhost",
    }
    expect(await proxyOf(olm)).toBeUndefined()
    expect(await proxyOf({ HTTPS_PROXY: olm.HTTPS_PROXY })).toBe("http://proxy.corp:3128/")
  })

  it("HTTPS_PROXY that is no proxy URL: the configuration is refused, naming the variable, not its value", async () => {
    const seen = await through({ HTTPS_PROXY: "ftp://backup:s3cret@proxy:21" })
    const error = errorOf(seen.get) as { _tag: string; message: string }
    expect(error._tag).toBe("KubeConfigInvalid")
    expect(error.message).toContain("HTTPS_PROXY is not an http://, https://, socks5:// or socks5h:// proxy URL")
    expect(error.message).not.toContain("s3cret")
  })
})
