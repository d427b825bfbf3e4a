/**
 * A paced upload writes its body in small pieces, each when the pacer lets it go: the connection never idles for long
 * (S3 ends a request whose client sends nothing for about 20 s: RequestTimeout), whatever the limit.
 */
import { createHash } from "node:crypto"
import http from "node:http"
import type net from "node:net"
import { performance } from "node:perf_hooks"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { makeSendPacer } from "../../../src/services/store/send-pacer.ts"

const KiB = 1024
const objects = new Map<string, { body: Buffer; meta: Record<string, string> }>()
/** For each PUT, when its request arrived and when each piece of its body did (ms). */
const arrivals: Array<Array<number>> = []

const server = http.createServer((req, res) => {
  const key = new URL(req.url ?? "/", "http://stub").pathname
  if (req.method === "PUT") {
    const times = [performance.now()]
    arrivals.push(times)
    const chunks: Array<Buffer> = []
    req.on("data", (d: Buffer) => {
      times.push(performance.now())
      chunks.push(d)
    })
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-amz-meta-"))) as Record<string, string>
      objects.set(key, { body, meta })
      res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end()
    })
    return
  }
  const o = objects.get(key)
  if (req.method === "HEAD" && o !== undefined) return void res.writeHead(200, { "content-length": String(o.body.length), ...o.meta }).end()
  res.writeHead(404).end()
})

afterAll(() => new Promise<void>((closed) => server.close(() => closed())))

describe("a paced upload", () => {
  it("at 256 KiB/s sends 1 MiB in pieces a sixteenth of a second apart, never leaving the connection idle for a second", async () => {
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", () => listening()))
    const store = makeS3Store(
      {
        url: new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`),
        region: "us-east-1",
        bucket: "b",
        pathStyle: true,
        credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" },
        signPayload: true,
        requestTimeoutMs: 5_000,
        pacer: makeSendPacer(256 * KiB),
      },
      { partSize: 5 * 1024 * KiB, partsInFlight: 1, retries: 0, retryBaseMs: 10 },
    )
    const bytes = new Uint8Array(1024 * KiB).fill(7)
    const started = performance.now()
    await Effect.runPromise(store.putBytes("p/id/f", bytes))
    const seconds = (performance.now() - started) / 1000
    // All but the burst (a tenth of a second's worth) waits for the rate.
    expect(seconds).toBeGreaterThanOrEqual((1024 * KiB - 25.6 * KiB) / (256 * KiB) - 0.05)
    expect(Buffer.compare(objects.get("/b/p/id/f")!.body, Buffer.from(bytes))).toBe(0)
    // Node sends the request's head with its first piece: the gaps are between pieces (in 256 KiB pieces, 1 s each).
    const times = arrivals.at(-1)!
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(Math.max(...gaps)).toBeLessThan(700)
  }, 30_000)
})
