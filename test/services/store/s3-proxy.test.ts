/**
 * The S3 store through a real HTTP forward proxy (test/support/forward-proxy.ts), as a cluster
 * whose only way out is OpenShift's cluster-wide proxy: the store opened from the environment
 * (HTTP_PROXY/HTTPS_PROXY/NO_PROXY) against the run's Swift, over plain http (absolute-URI
 * requests to the proxy) and over https (a CONNECT tunnel to a TLS front of Swift whose
 * certificate only the given CA bundle trusts). Loopback servers are named `*.proxied.test`, which
 * only the test proxy resolves: a loopback host itself is never sent to a proxy.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import tls from "node:tls"
import { inspect } from "node:util"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openStore } from "../../../src/services/store/open-store.ts"
import type { S3TransferOptions } from "../../../src/services/store/s3-client.ts"
import { certificateFactory } from "../../support/encrypted-fixtures.ts"
import { type ForwardProxy, startForwardProxy, viaProxyName } from "../../support/forward-proxy.ts"
import { createBucket, s3Env, s3Server, type S3TestServer } from "../../support/s3-server.ts"

const MiB = 1024 * 1024
const transfer: Partial<S3TransferOptions> = { partSize: 5 * MiB, downloadRangeBytes: 5 * MiB, partsInFlight: 2, retries: 1, retryBaseMs: 10 }
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const printed = (value: unknown) => [String(value), JSON.stringify(value), inspect(value, { depth: 8 })].join("\n")

let server: S3TestServer
let work: string
const bucket = `s3proxy-${process.pid}`
const location = { _tag: "S3" as const, bucket, prefix: undefined }
const proxies: Array<ForwardProxy> = []
const proxy = async (options?: Parameters<typeof startForwardProxy>[0]) => {
  const p = await startForwardProxy(options)
  proxies.push(p)
  return p
}
/** The store opened from the environment, with the Swift's settings (named so it goes through a proxy) plus `env`. */
const storeWith = (env: Record<string, string>, settings: { endpoint?: string; caBundle?: string } = {}) =>
  openStore(location, { endpoint: viaProxyName(server.endpoint, "swift"), ...settings, transfer }, { ...s3Env(server), ...env })

beforeAll(async () => {
  server = await s3Server()
  work = mkdtempSync(join(tmpdir(), "s3-proxy-test-"))
  await createBucket(server, bucket)
}, 200_000)
afterAll(async () => {
  for (const p of proxies) await p.close()
  rmSync(work, { recursive: true, force: true })
})

/** Uploads a two-part file and reads it back; returns nothing, fails the test on any difference. */
const roundTrip = async (env: Record<string, string>, key: string, settings?: { endpoint?: string; caBundle?: string }) => {
  const store = await Effect.runPromise(storeWith(env, settings))
  const data = randomBytes(6 * MiB + 11)
  writeFileSync(join(work, key), data)
  expect(await Effect.runPromise(store.putFile(`p/${key}`, join(work, key)))).toMatchObject({ size: data.length, sha256: sha256(data) })
  expect((await Effect.runPromise(store.getFile(`p/${key}`, join(work, `${key}.back`)))).sha256).toBe(sha256(data))
  expect(readFileSync(join(work, `${key}.back`)).equals(data)).toBe(true)
}

describe("the S3 store through an HTTP proxy", () => {
  it("HTTP_PROXY: every request of an upload and a download goes through the proxy", async () => {
    const p = await proxy()
    await roundTrip({ HTTP_PROXY: p.url }, "plain.bin")
    const swift = new URL(viaProxyName(server.endpoint, "swift")).host
    expect(p.forwarded.length).toBeGreaterThanOrEqual(4)
    expect(new Set(p.forwarded)).toEqual(new Set([swift]))
  })

  it("a loopback store goes directly, with or without NO_PROXY naming it: the proxy sees nothing", async () => {
    const p = await proxy()
    const direct = { endpoint: server.endpoint }
    await roundTrip({ http_proxy: p.url, no_proxy: "example.com,127.0.0.0/8" }, "bypass.bin", direct)
    await roundTrip({ HTTP_PROXY: p.url }, "bypass2.bin", direct)
    expect(p.forwarded).toEqual([])
  })

  it("a proxy that wants credentials: given in the URL they are sent, and the password is in no output; wrong ones are a 407 that is not retried", async () => {
    const p = await proxy({ credentials: "backup:pr0xy-Pa55word" })
    const withCredentials = new URL(p.url)
    withCredentials.username = "backup"
    withCredentials.password = "pr0xy-Pa55word"
    await roundTrip({ HTTP_PROXY: withCredentials.href }, "auth.bin")
    expect(p.forwarded.length).toBeGreaterThanOrEqual(4)

    withCredentials.password = "wr0ng-Pa55word"
    const store = await Effect.runPromise(storeWith({ HTTP_PROXY: withCredentials.href }))
    const refused = p.refused.length
    const error = await Effect.runPromise(store.putBytes("p/auth2", new Uint8Array([1])).pipe(Effect.flip))
    expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: "Proxy407", retryable: false })
    expect(error.message).toContain(`proxy ${p.url} (HTTP_PROXY) refused`)
    expect(error.message).toContain("HTTP 407")
    expect(p.refused.length - refused).toBe(1)
    expect(printed(error)).not.toContain("wr0ng-Pa55word")
    expect(printed(error)).not.toContain("backup:")
  })

  it("an unreachable proxy: a retryable error naming the proxy (not the store, never its password)", async () => {
    const closed = await proxy()
    await closed.close()
    const url = new URL(closed.url)
    url.username = "u"
    url.password = "dead-Pa55word"
    const store = await Effect.runPromise(storeWith({ HTTP_PROXY: url.href }))
    const error = await Effect.runPromise(store.putBytes("p/dead", new Uint8Array([1])).pipe(Effect.flip))
    expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: "ECONNREFUSED", retryable: true })
    expect(error.message).toContain(`proxy ${closed.url} (HTTP_PROXY) did not answer (ECONNREFUSED)`)
    expect(printed(error)).not.toContain("dead-Pa55word")
  })

  it("a proxy variable that is no proxy URL: the store does not open, and the value is not quoted", async () => {
    const error = await Effect.runPromise(storeWith({ HTTP_PROXY: "socks5://u:s0cks-Pa55@127.0.0.1:1080" }).pipe(Effect.flip))
    expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: "BadProxy", retryable: false })
    expect(printed(error)).not.toContain("s0cks-Pa55")
  })

  it("a store that stops answering behind the proxy: the request's deadline still holds, and the message says it went through the proxy", async () => {
    const silent = net.createServer(() => undefined)
    await new Promise<void>((listening) => silent.listen(0, "127.0.0.1", listening))
    try {
      const p = await proxy()
      const store = await Effect.runPromise(
        openStore(
          location,
          {
            endpoint: viaProxyName(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, "silent"),
            requestTimeoutMs: 500,
            transfer: { ...transfer, retries: 0 },
          },
          {
            ...s3Env(server),
            AWS_ENDPOINT_URL: "",
            HTTP_PROXY: p.url,
          },
        ),
      )
      const started = Date.now()
      const error = await Effect.runPromise(store.putBytes("p/silent", new Uint8Array([1])).pipe(Effect.flip))
      expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: "Timeout", retryable: true })
      expect(error.message).toContain(`no answer within 500 ms (through proxy ${p.url})`)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(p.forwarded).toHaveLength(1)
    } finally {
      silent.close()
    }
  })

  describe("an https store (a TLS front of the Swift, its certificate signed by a private CA)", () => {
    let front: net.Server
    let endpoint: string
    let caBundle: string
    beforeAll(async () => {
      const certs = certificateFactory(join(work, "certs"))
      const day = 86_400_000
      const ca = certs.ca("proxy-store-ca", new Date(Date.now() - day), new Date(Date.now() + day))
      const leaf = certs.leaf("store.proxied.test", ca, new Date(Date.now() - day), new Date(Date.now() + day))
      caBundle = join(work, "ca.pem")
      writeFileSync(caBundle, ca.certPem)
      const swift = new URL(server.endpoint)
      front = tls.createServer({ key: readFileSync(leaf.keyPath), cert: leaf.certPem }, (client) => {
        const upstream = net.connect(Number(swift.port), swift.hostname)
        client.pipe(upstream).pipe(client)
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
      })
      await new Promise<void>((listening) => front.listen(0, "127.0.0.1", listening))
      endpoint = `https://store.proxied.test:${(front.address() as net.AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((closed) => front.close(() => closed())))

    it("HTTPS_PROXY: a CONNECT tunnel, inside which the store's certificate is checked against --s3-ca-bundle", async () => {
      const p = await proxy()
      await roundTrip({ HTTPS_PROXY: p.url }, "tunnel.bin", { endpoint, caBundle })
      // Keep-alive holds through the proxy: a dozen requests, a tunnel per connection in flight at once.
      expect(p.tunnels.length).toBeGreaterThanOrEqual(1)
      expect(p.tunnels.length).toBeLessThanOrEqual(4)
      expect(new Set(p.tunnels)).toEqual(new Set([new URL(endpoint).host]))
      expect(p.forwarded).toEqual([])
    })

    it("a proxy that takes the connection and never answers the CONNECT, or closes it: a retryable failure naming the proxy, within the request's timeout", async () => {
      const held: Array<net.Socket> = []
      for (const behaviour of ["silent", "closing"] as const) {
        const hung = net.createServer((socket) => (behaviour === "silent" ? held.push(socket) : socket.destroy()))
        await new Promise<void>((listening) => hung.listen(0, "127.0.0.1", listening))
        const proxyUrl = `http://127.0.0.1:${(hung.address() as net.AddressInfo).port}`
        try {
          const store = await Effect.runPromise(
            openStore(
              location,
              { endpoint, caBundle, requestTimeoutMs: 500, transfer: { ...transfer, retries: 0 } },
              { ...s3Env(server), AWS_ENDPOINT_URL: "", HTTPS_PROXY: proxyUrl },
            ),
          )
          const started = Date.now()
          const error = await Effect.runPromise(store.putBytes("p/hung", new Uint8Array([1])).pipe(Effect.flip))
          expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: "ProxyTunnel", retryable: true })
          expect(error.message).toContain(`proxy ${proxyUrl} (HTTPS_PROXY) opened no tunnel to ${new URL(endpoint).host} (the CONNECT `)
          expect(error.message).not.toContain("is the endpoint right and the store up")
          expect(Date.now() - started).toBeLessThan(10_000)
        } finally {
          for (const socket of held.splice(0)) socket.destroy()
          hung.close()
        }
      }
    })

    it("a proxy that refuses the tunnel: 502 is retryable, 403 is not; each names the proxy", async () => {
      for (const [status, retryable] of [
        [502, true],
        [403, false],
      ] as const) {
        const p = await proxy({ refuseWith: status })
        const store = await Effect.runPromise(storeWith({ HTTPS_PROXY: p.url }, { endpoint, caBundle }))
        const error = await Effect.runPromise(store.putBytes("p/refused", new Uint8Array([1])).pipe(Effect.flip))
        expect(error).toMatchObject({ _tag: "StoreRequestFailed", code: `Proxy${status}`, retryable })
        expect(error.message).toContain(`proxy ${p.url} (HTTPS_PROXY) refused to connect to ${new URL(endpoint).host}: HTTP ${status}`)
        expect(p.tunnels).toEqual([])
      }
    })
  })
})
