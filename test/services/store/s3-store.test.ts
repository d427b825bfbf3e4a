import { createHash, randomBytes } from "node:crypto"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { S3TransferOptions } from "../../../src/services/store/s3-client.ts"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { s3Request, type S3Endpoint } from "../../../src/services/store/s3-http.ts"
import { makeTransferPacer } from "../../../src/services/store/transfer-pacer.ts"
import { writtenProgress } from "../../../src/services/written-progress.ts"
import { rclone as rcloneOn, s3Server, type S3TestServer } from "../../support/s3-server.ts"

const MiB = 1024 * 1024
const small: S3TransferOptions = { partSize: 5 * MiB, downloadRangeBytes: 5 * MiB, partsInFlight: 3, retries: 2, retryBaseMs: 50, listPageSize: 2 }
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

let server: S3TestServer
const rclone = (...args: Array<string>) => rcloneOn(server, ...args)
let work: string
const bucket = `s3store-${process.pid}`

const endpointOf = (s: S3TestServer, overrides: Partial<S3Endpoint> = {}): S3Endpoint => ({
  url: new URL(s.endpoint),
  region: s.region,
  bucket,
  pathStyle: true,
  credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
  signPayload: true,
  requestTimeoutMs: 30_000,
  ...overrides,
})

beforeAll(async () => {
  server = await s3Server()
  work = mkdtempSync(join(tmpdir(), "s3-store-test-"))
  await Effect.runPromise(s3Request(endpointOf(server), { operation: "CreateBucket", method: "PUT", key: "" }))
}, 200_000)
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Progress calls of one transfer: `count` of them, about `key`, each with more done than the last, the last all of `total`. */
const expectProgress = (calls: ReadonlyArray<[string, number, number]>, key: string, total: number, count: number) => {
  expect(calls.map(([k, , t]) => [k, t])).toEqual(Array.from({ length: count }, () => [key, total]))
  const done = calls.map(([, d]) => d)
  expect(done).toEqual([...new Set(done)].sort((x, y) => x - y))
  expect(done.at(-1)).toBe(total)
}

describe("the S3 store against Swift's s3api", () => {
  it("round-trips a multipart file byte for byte, records its sha256 and checks the size by HEAD; progress after each part and range", async () => {
    const progress: Array<[string, number, number]> = []
    const store = makeS3Store(endpointOf(server), { ...small, onProgress: (key, done, total) => void progress.push([key, done, total]) })
    const data = randomBytes(13 * MiB + 123)
    const src = join(work, "big.bin")
    writeFileSync(src, data)
    const put = await Effect.runPromise(store.putFile("p/b1/big.bin", src, { sha256: sha256(data) }))
    expect(put).toEqual({ key: "p/b1/big.bin", size: data.length, sha256: sha256(data) })
    expect(await Effect.runPromise(store.head("p/b1/big.bin"))).toMatchObject({ size: data.length, sha256: sha256(data) })
    // Three parts stored, then three ranges written: each call names the object, what is done so far (growing) and its size.
    expectProgress(progress.splice(0), "p/b1/big.bin", data.length, 3)
    const got = await Effect.runPromise(store.getFile("p/b1/big.bin", join(work, "big.back")))
    expect(got.sha256).toBe(sha256(data))
    expectProgress(progress.splice(0), "p/b1/big.bin", data.length, 3)
    expect(readFileSync(join(work, "big.back")).equals(data)).toBe(true)
    const manifest = new TextEncoder().encode('{"a":1}\n')
    await Effect.runPromise(store.putBytes("p/b1/backup-manifest.json", manifest))
    expect(Buffer.from(await Effect.runPromise(store.getBytes("p/b1/backup-manifest.json"))).toString()).toBe('{"a":1}\n')
    expect(await Effect.runPromise(store.pendingUploads("p/"))).toEqual([])
  })

  it("reads the bucket's versioning: Swift's s3api says the bucket was never versioned, so prune's deletes free what they remove", async () => {
    expect(await Effect.runPromise(makeS3Store(endpointOf(server), small).versioning)).toEqual({ _tag: "Known", status: "Unversioned" })
  })

  it("lists page by page in key order", async () => {
    const store = makeS3Store(endpointOf(server), small)
    for (const k of ["l/a/1", "l/a/2", "l/b/1", "l/c/1", "l/c/2"]) await Effect.runPromise(store.putBytes(k, new Uint8Array([1])))
    const keys: Array<string> = []
    let next: string | undefined
    let pages = 0
    do {
      const page = await Effect.runPromise(store.listPage("l/", next))
      keys.push(...page.objects.map((o) => o.key))
      next = page.next
      pages++
    } while (next !== undefined)
    expect(keys).toEqual(["l/a/1", "l/a/2", "l/b/1", "l/c/1", "l/c/2"])
    expect(pages).toBe(3)
  })

  it("a wrong secret: StoreAccessDenied saying what to check, with no secret in it", async () => {
    const store = makeS3Store(endpointOf(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: "not-the-secret-42" } }), small)
    const exit = await Effect.runPromiseExit(store.putBytes("p/x", new Uint8Array([1])))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = JSON.stringify(exit)
    expect(error).toContain("StoreAccessDenied")
    expect(error).toContain("Check the access key and secret")
    expect(error).not.toContain("not-the-secret-42")
    expect(error).not.toContain(server.secretAccessKey === "testing" ? "Signature=" : server.secretAccessKey)
  })

  it("a missing bucket: StoreBucketMissing naming it", async () => {
    const store = makeS3Store(endpointOf(server, { bucket: "no-such-bucket-here" }), small)
    const exit = await Effect.runPromiseExit(store.putBytes("p/x", new Uint8Array([1])))
    expect(JSON.stringify(exit)).toMatch(/StoreBucketMissing.*bucket no-such-bucket-here does not exist/)
  })

  it("an upload whose file is not the expected sha256 stores nothing and leaves no multipart upload", async () => {
    const store = makeS3Store(endpointOf(server), small)
    const src = join(work, "other.bin")
    writeFileSync(src, randomBytes(11 * MiB))
    const exit = await Effect.runPromiseExit(store.putFile("p/b2/other.bin", src, { sha256: "0".repeat(64) }))
    expect(JSON.stringify(exit)).toMatch(/StoreIntegrityFailed.*nothing stored under p\/b2\/other\.bin/)
    expect(await Effect.runPromise(store.head("p/b2/other.bin"))).toBeUndefined()
    expect(await Effect.runPromise(store.pendingUploads("p/b2/"))).toEqual([])
  })

  it("an interrupted multipart upload is aborted: no upload pending, no object", async () => {
    const store = makeS3Store(endpointOf(server), { ...small, partsInFlight: 1 })
    const src = join(work, "slow.bin")
    writeFileSync(src, randomBytes(30 * MiB))
    const fiber = Effect.runFork(store.putFile("p/b3/slow.bin", src))
    const deadline = Date.now() + 30_000
    while ((await Effect.runPromise(store.pendingUploads("p/b3/"))).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(await Effect.runPromise(store.pendingUploads("p/b3/"))).toHaveLength(1)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(await Effect.runPromise(store.pendingUploads("p/b3/"))).toEqual([])
    expect(await Effect.runPromise(store.head("p/b3/slow.bin"))).toBeUndefined()
  })

  // prune takes an upload idle for longer than a live writer ever is for a dead writer's: the time is its newest part's.
  it("tells when a multipart upload last stored a part (ListParts), its start before any; nothing once it is gone", async () => {
    const endpoint = endpointOf(server)
    const store = makeS3Store(endpoint, small)
    const key = "p/b9/snapshot.db"
    const created = await Effect.runPromise(s3Request(endpoint, { operation: "CreateMultipartUpload", method: "POST", key, query: { uploads: "" } }))
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString("utf8"))?.[1] ?? ""
    const [pending] = await Effect.runPromise(store.pendingUploads("p/b9/"))
    expect(pending).toMatchObject({ key, uploadId, abandonedAfterMs: 90 * 60_000 })
    expect(await Effect.runPromise(store.uploadActiveAt(pending!))).toBe(pending!.initiatedAt)
    // S3 times are to the second: the part is stored two seconds after the start.
    await new Promise((r) => setTimeout(r, 2_100))
    const before = Date.now()
    await Effect.runPromise(
      s3Request(endpoint, { operation: "UploadPart", method: "PUT", key, query: { partNumber: "1", uploadId }, body: new Uint8Array([1, 2, 3]) }),
    )
    const activeAt = await Effect.runPromise(store.uploadActiveAt(pending!))
    expect(activeAt).toBeGreaterThan(pending!.initiatedAt + 1_000)
    expect(Math.abs(activeAt! - before)).toBeLessThan(5_000)
    await Effect.runPromise(store.abortUpload(pending!))
    expect(await Effect.runPromise(store.uploadActiveAt(pending!))).toBeUndefined()
  })

  it("a growing file: each part is read only once written, the object holds the final bytes, the given metadata stands in for the sha256", async () => {
    const store = makeS3Store(endpointOf(server), small)
    const data = randomBytes(12 * MiB + 77)
    const src = join(work, "growing.bin")
    // Bytes the writer has not reached yet are 0xff: a part read ahead of the writer would store them.
    writeFileSync(src, Buffer.alloc(data.length, 0xff))
    const progress = writtenProgress()
    const fd = openSync(src, "r+")
    const writer = (async () => {
      for (let at = 0; at < data.length; at += MiB) {
        await new Promise((r) => setTimeout(r, 20))
        const end = Math.min(data.length, at + MiB)
        writeSync(fd, data, at, end - at, at)
        progress.advance(end)
      }
    })()
    const put = await Effect.runPromise(
      store.putFile("p/b6/growing.bin", src, { growing: { size: data.length, written: progress.until, metadata: { "Plaintext-Sha256": "abc" } } }),
    )
    await writer
    closeSync(fd)
    expect(put).toEqual({ key: "p/b6/growing.bin", size: data.length, sha256: sha256(data) })
    const head = await Effect.runPromise(s3Request(endpointOf(server), { operation: "HEAD", method: "HEAD", key: "p/b6/growing.bin" }))
    expect(head.headers["x-amz-meta-plaintext-sha256"]).toBe("abc")
    expect(head.headers["x-amz-meta-sha256"]).toBeUndefined()
    await Effect.runPromise(store.getFile("p/b6/growing.bin", join(work, "growing.back")))
    expect(readFileSync(join(work, "growing.back")).equals(data)).toBe(true)
  })

  it("a growing file whose writer never gets there: the upload waits, and when interrupted is aborted", async () => {
    const store = makeS3Store(endpointOf(server), small)
    const src = join(work, "stalled.bin")
    writeFileSync(src, Buffer.alloc(11 * MiB))
    const progress = writtenProgress()
    progress.advance(6 * MiB)
    const fiber = Effect.runFork(store.putFile("p/b7/stalled.bin", src, { growing: { size: 11 * MiB, written: progress.until } }))
    const deadline = Date.now() + 30_000
    while ((await Effect.runPromise(store.pendingUploads("p/b7/"))).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 500))
    expect(fiber.pollUnsafe()).toBeUndefined()
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(await Effect.runPromise(store.pendingUploads("p/b7/"))).toEqual([])
    expect(await Effect.runPromise(store.head("p/b7/stalled.bin"))).toBeUndefined()
  })

  it("with a bandwidth limit, a ranged download (three ranges at once) receives no faster than the limit, and whole", async () => {
    const data = randomBytes(6 * MiB)
    const src = join(work, "paced.bin")
    writeFileSync(src, data)
    const ranged = { ...small, partSize: MiB, downloadRangeBytes: MiB }
    await Effect.runPromise(makeS3Store(endpointOf(server), ranged).putFile("p/paced/paced.bin", src, { sha256: sha256(data) }))
    const paced = makeS3Store(endpointOf(server, { pacer: makeTransferPacer(2 * MiB) }), ranged)
    const started = Date.now()
    const got = await Effect.runPromise(paced.getFile("p/paced/paced.bin", join(work, "paced.back")))
    // All but the burst (a tenth of a second's worth) waits for the rate: unpaced, it takes a fraction of a second.
    expect((Date.now() - started) / 1000).toBeGreaterThanOrEqual((6 * MiB - 0.2 * MiB) / (2 * MiB))
    expect(got.sha256).toBe(sha256(data))
    expect(readFileSync(join(work, "paced.back")).equals(data)).toBe(true)
  }, 60_000)

  it("rclone reads what we wrote with the same sha256, and we read what rclone wrote", async () => {
    const store = makeS3Store(endpointOf(server), small)
    const data = randomBytes(7 * MiB + 5)
    const src = join(work, "ours.bin")
    writeFileSync(src, data)
    await Effect.runPromise(store.putFile("p/b4/ours.bin", src))
    await rclone("copyto", `:s3:${bucket}/p/b4/ours.bin`, join(work, "ours.rclone"))
    expect(sha256(readFileSync(join(work, "ours.rclone")))).toBe(sha256(data))

    const theirs = randomBytes(9 * MiB + 7)
    writeFileSync(join(work, "theirs.bin"), theirs)
    await rclone("copyto", "--s3-chunk-size=5M", "--s3-upload-cutoff=5M", join(work, "theirs.bin"), `:s3:${bucket}/p/b5/theirs.bin`)
    const got = await Effect.runPromise(store.getFile("p/b5/theirs.bin", join(work, "theirs.back")))
    expect(got).toEqual({ key: "p/b5/theirs.bin", size: theirs.length, sha256: sha256(theirs) })
  })
})
