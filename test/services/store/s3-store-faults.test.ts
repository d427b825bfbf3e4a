import { createHash, randomBytes } from "node:crypto"
import { relay } from "../../support/tcp-relay.ts"
import { mkdtempSync, writeFileSync } from "node:fs"
import http from "node:http"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { s3Request, type S3Endpoint } from "../../../src/services/store/s3-http.ts"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { s3Server, type S3TestServer } from "../../support/s3-server.ts"

const MiB = 1024 * 1024
const bucket = `faults-${process.pid}`
let server: S3TestServer
let work: string
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

const endpoint = (url: string, requestTimeoutMs = 30_000): S3Endpoint => ({
  url: new URL(url),
  region: server.region,
  bucket,
  pathStyle: true,
  credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  signPayload: true,
  requestTimeoutMs,
})

const listen = (srv: net.Server, port = 0) =>
  new Promise<number>((resolve) => srv.listen(port, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port)))

/** A TCP proxy to Swift that can be cut (every connection reset, nothing listening) and restored. */
const cuttableProxy = async (target: number) => {
  const sockets = new Set<net.Socket>()
  let forwarded = 0
  const make = () =>
    net.createServer((client) => {
      const upstream = net.connect(target, "127.0.0.1")
      client.on("data", (d: Buffer) => (forwarded += d.length))
      relay(client, upstream, sockets)
    })
  let srv = make()
  const port = await listen(srv)
  return {
    port,
    forwarded: () => forwarded,
    cut: () => {
      srv.close()
      for (const s of sockets) s.destroy()
    },
    restore: async () => {
      srv = make()
      await listen(srv, port)
    },
    close: () => {
      srv.close()
      for (const s of sockets) s.destroy()
    },
  }
}

beforeAll(async () => {
  server = await s3Server()
  work = mkdtempSync(join(tmpdir(), "s3-faults-"))
  await Effect.runPromise(s3Request(endpoint(server.endpoint), { operation: "CreateBucket", method: "PUT", key: "" }))
}, 200_000)

describe("the S3 store when the server fails", () => {
  let proxy: Awaited<ReturnType<typeof cuttableProxy>> | undefined
  afterAll(() => proxy?.close())

  it("the proxy cut mid-upload and back a second later: the parts are retried and the upload completes whole", async () => {
    proxy = await cuttableProxy(Number(new URL(server.endpoint).port))
    const p = proxy
    const store = makeS3Store(endpoint(`http://127.0.0.1:${p.port}`), { partSize: 5 * MiB, partsInFlight: 2, retries: 6, retryBaseMs: 300 })
    const data = randomBytes(26 * MiB)
    writeFileSync(join(work, "cut.bin"), data)
    const upload = Effect.runPromise(store.putFile("cut/b/cut.bin", join(work, "cut.bin")))
    while (p.forwarded() < 8 * MiB) await new Promise((r) => setTimeout(r, 20))
    p.cut()
    await new Promise((r) => setTimeout(r, 1000))
    await p.restore()
    expect(await upload).toEqual({ key: "cut/b/cut.bin", size: data.length, sha256: sha256(data) })
    const direct = makeS3Store(endpoint(server.endpoint))
    expect(await Effect.runPromise(direct.head("cut/b/cut.bin"))).toMatchObject({ size: data.length, sha256: sha256(data) })
    expect(await Effect.runPromise(direct.pendingUploads("cut/"))).toEqual([])
  })

  it("a server that accepts and never answers (a stopped proxy): a retryable Timeout after the retries, naming the key", async () => {
    const silent = net.createServer(() => undefined)
    const port = await listen(silent)
    try {
      const store = makeS3Store(endpoint(`http://127.0.0.1:${port}`, 300), { partSize: 5 * MiB, partsInFlight: 1, retries: 2, retryBaseMs: 10 })
      const started = Date.now()
      const exit = await Effect.runPromiseExit(store.putBytes("stalled/b/x", new Uint8Array([1, 2, 3])))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*"code":"Timeout".*stalled\/b\/x at http:\/\/127\.0\.0\.1:\d+: no answer within 300 ms/)
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    } finally {
      silent.close()
    }
  })
  it("an endpoint that answers 200 with something else (a web page): listing fails, naming what came, instead of an empty store", async () => {
    const web = http.createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html><body>Welcome</body></html>"))
    const port = await listen(web as unknown as net.Server)
    try {
      const store = makeS3Store(endpoint(`http://127.0.0.1:${port}`), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 10 })
      const exits: Array<Exit.Exit<unknown, unknown>> = [
        await Effect.runPromiseExit(store.listPage("p/")),
        await Effect.runPromiseExit(store.pendingUploads("p/")),
      ]
      for (const exit of exits) {
        expect(Exit.isFailure(exit)).toBe(true)
        expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*"code":"NotAListing".*not an S3 List.*<html><body>Welcome/)
      }
    } finally {
      web.close()
    }
  })
})
