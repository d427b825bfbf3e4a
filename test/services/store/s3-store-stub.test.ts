import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs"
import http from "node:http"
import https from "node:https"
import type net from "node:net"
import { tmpdir } from "node:os"
import { performance } from "node:perf_hooks"
import { join } from "node:path"
import { Effect, Exit, Logger } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { S3Endpoint } from "../../../src/services/store/s3-http.ts"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { makeTransferPacer } from "../../../src/services/store/transfer-pacer.ts"
import { isQuotaExceeded } from "../../../src/services/store/store-errors.ts"
import { certificateFactory } from "../../support/encrypted-fixtures.ts"

/**
 * A minimal S3 (no signature check) that answers as a handler says: for the answers Swift cannot be
 * made to give (a 200 carrying an error, a truncated listing without its token).
 */
type Handler = (req: http.IncomingMessage, url: URL, body: Buffer, res: http.ServerResponse) => void

const servers: Array<http.Server> = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

const stub = async (handler: Handler, host = "127.0.0.1"): Promise<string> => {
  const srv = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (d: Buffer) => chunks.push(d))
    req.on("end", () => handler(req, new URL(req.url ?? "/", "http://stub"), Buffer.concat(chunks), res))
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, host, () => r()))
  return `http://${host.includes(":") ? `[${host}]` : host}:${(srv.address() as net.AddressInfo).port}`
}

/** A server answering every request with `status` and the XML `answer()` gives. */
const xmlStub = (status: number, answer: () => string) =>
  stub((_req, _url, _body, res) => res.writeHead(status, { "content-type": "application/xml" }).end(answer()))

/** ListObjectsV2 `<Contents>` entries for `keys`, as S3 writes them. */
const contents = (keys: ReadonlyArray<string>) =>
  keys.map((k) => `<Contents><Key>${k}</Key><Size>1</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>`).join("")

const endpoint = (url: string): S3Endpoint => ({
  url: new URL(url),
  region: "us-east-1",
  bucket: "b",
  pathStyle: true,
  credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" },
  signPayload: true,
  requestTimeoutMs: 5_000,
})

const MiB = 1024 * 1024
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/**
 * A multipart-capable object store in memory whose CompleteMultipartUpload answers `completeAnswers` in turn first.
 * With `lostCompletion`, the first completion takes effect but its connection is cut before the answer, and the
 * upload is then gone (NoSuchUpload, as MinIO answers a completion repeated).
 */
const multipartStub = (completeAnswers: Array<string>, lostCompletion = false, abortAnswers: Array<"lost" | "denied"> = []) => {
  let aborted = false
  const parts = new Map<number, Buffer>()
  const objects = new Map<string, { body: Buffer; meta: Record<string, string>; etag: string }>()
  let completed = false
  let meta: Record<string, string> = {}
  const calls: Array<string> = []
  const handler: Handler = (req, url, body, res) => {
    const key = decodeURIComponent(url.pathname.slice("/b/".length))
    const q = url.searchParams
    if (req.method === "POST" && q.has("uploads")) {
      calls.push("initiate")
      meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-amz-meta-"))) as Record<string, string>
      res.writeHead(200).end(`<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
    } else if (req.method === "PUT" && q.has("partNumber")) {
      parts.set(Number(q.get("partNumber")), body)
      res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end()
    } else if (req.method === "POST" && q.has("uploadId")) {
      calls.push("complete")
      const answer = completeAnswers.shift()
      if (answer !== undefined) {
        res.writeHead(200).end(answer)
        return
      }
      if (completed) {
        res.writeHead(404).end(`<Error><Code>NoSuchUpload</Code><Message>The specified multipart upload does not exist.</Message></Error>`)
        return
      }
      const sorted = [...parts.entries()].sort(([a], [b]) => a - b).map(([, p]) => p)
      const etag = `"${createHash("md5")
        .update(Buffer.concat(sorted.map((p) => createHash("md5").update(p).digest())))
        .digest("hex")}-${sorted.length}"`
      objects.set(key, { body: Buffer.concat(sorted), meta, etag })
      completed = lostCompletion
      if (lostCompletion) {
        lostCompletion = false
        res.socket?.destroy()
        return
      }
      res.writeHead(200).end(`<CompleteMultipartUploadResult><Key>${key}</Key><ETag>${etag}</ETag></CompleteMultipartUploadResult>`)
    } else if (req.method === "DELETE" && q.has("uploadId")) {
      calls.push("abort")
      const answer = abortAnswers.shift()
      // An abort that took effect, its answer lost: the connection cut; a repeat finds no upload.
      if (answer === "lost") {
        aborted = true
        res.socket?.destroy()
      } else if (answer === "denied") res.writeHead(403).end(`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
      else if (aborted) res.writeHead(404).end(`<Error><Code>NoSuchUpload</Code><Message>The specified multipart upload does not exist.</Message></Error>`)
      else res.writeHead(204).end()
    } else if (req.method === "HEAD") {
      const o = objects.get(key)
      if (o === undefined) res.writeHead(404).end()
      else res.writeHead(200, { "content-length": String(o.body.length), "last-modified": new Date().toUTCString(), etag: o.etag, ...o.meta }).end()
    } else res.writeHead(501).end()
  }
  return { handler, calls }
}

/** An 11 MiB file uploaded in two parts through `s` (retried up to 3 times); the upload's exit and the file's bytes. */
const uploadThrough = async (s: ReturnType<typeof multipartStub>) => {
  const store = makeS3Store(endpoint(await stub(s.handler)), { partSize: 5 * MiB, partsInFlight: 2, retries: 3, retryBaseMs: 1 })
  const work = mkdtempSync(join(tmpdir(), "s3-stub-"))
  const data = randomBytes(11 * MiB)
  writeFileSync(join(work, "f.bin"), data)
  return { data, exit: await Effect.runPromiseExit(store.putFile("p/id/f.bin", join(work, "f.bin"))) }
}

describe("the S3 store against answers Swift does not give", () => {
  it("CompleteMultipartUpload answered 200 with a transient InternalError in the body (as AWS documents it may be): retried, the upload completes", async () => {
    const s = multipartStub([
      `<?xml version="1.0"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`,
    ])
    const { data, exit } = await uploadThrough(s)
    expect(exit).toEqual(Exit.succeed({ key: "p/id/f.bin", size: data.length, sha256: sha256(data) }))
    expect(s.calls).toEqual(["initiate", "complete", "complete"])
  })

  it("CompleteMultipartUpload answered 200 with a permanent error in the body: not retried, the upload aborted", async () => {
    const s = multipartStub([`<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.</Message></Error>`])
    const { exit } = await uploadThrough(s)
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*"code":"InvalidPart"/)
    expect(s.calls).toEqual(["initiate", "complete", "abort"])
  })
})

describe("the abort of a failed multipart upload", () => {
  const failedUpload = async (abortAnswers: Array<"lost" | "denied">) => {
    const s = multipartStub(
      [`<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.</Message></Error>`],
      false,
      abortAnswers,
    )
    const store = makeS3Store(endpoint(await stub(s.handler)), { partSize: 5 * MiB, partsInFlight: 2, retries: 3, retryBaseMs: 1 })
    const work = mkdtempSync(join(tmpdir(), "s3-stub-"))
    writeFileSync(join(work, "f.bin"), randomBytes(11 * MiB))
    const lines: Array<string> = []
    const logger = Logger.layer([Logger.make((options) => void lines.push(String(Logger.formatLogFmt.log(options))))])
    const exit = await Effect.runPromiseExit(store.putFile("p/id/f.bin", join(work, "f.bin")).pipe(Effect.provide(logger)))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*"code":"InvalidPart"/)
    return { calls: s.calls, warnings: lines.filter((l) => l.includes("abort")) }
  }

  it("that took effect but whose answer was lost: the repeat's NoSuchUpload means it is aborted, no warning that it could not be", async () => {
    const { calls, warnings } = await failedUpload(["lost"])
    expect(calls).toEqual(["initiate", "complete", "abort", "abort"])
    expect(warnings).toEqual([])
  })

  it("refused: the warning says why (the store's answer), not only that it could not abort", async () => {
    const { calls, warnings } = await failedUpload(["denied"])
    expect(calls).toEqual(["initiate", "complete", "abort"])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/could not abort the multipart upload u1 of p\/id\/f\.bin .*\(.*AccessDenied/)
  })
})

describe("a CompleteMultipartUpload that took effect but whose answer was lost", () => {
  it("the repeated request finds the upload gone (NoSuchUpload): the object completed from these very parts is taken, not reported as a failed upload", async () => {
    const s = multipartStub([], true)
    const { data, exit } = await uploadThrough(s)
    expect(exit).toEqual(Exit.succeed({ key: "p/id/f.bin", size: data.length, sha256: sha256(data) }))
    expect(s.calls).toEqual(["initiate", "complete", "complete"])
  })

  it("an object under the key that these parts did not make (an earlier upload's, of the same size) is no proof: the upload fails and is aborted", async () => {
    const answers: Array<string> = []
    const s = multipartStub(answers, true)
    const store = makeS3Store(endpoint(await stub(s.handler)), { partSize: 5 * MiB, partsInFlight: 2, retries: 3, retryBaseMs: 1 })
    const work = mkdtempSync(join(tmpdir(), "s3-stub-"))
    writeFileSync(join(work, "f.bin"), randomBytes(11 * MiB))
    await Effect.runPromise(store.putFile("p/id/f.bin", join(work, "f.bin")))
    // The next upload's completion fails (transiently) without taking effect; its repeat finds no upload, and the first upload's object.
    answers.push(`<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
    writeFileSync(join(work, "g.bin"), randomBytes(11 * MiB))
    const exit = await Effect.runPromiseExit(store.putFile("p/id/f.bin", join(work, "g.bin")))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*"code":"NoSuchUpload"/)
    expect(s.calls.slice(3)).toEqual(["initiate", "complete", "complete", "abort"])
  })
})

describe("an upload the store acknowledged but does not hold", () => {
  it("a PUT answered 200 whose object a HEAD then does not find: an integrity failure saying the object is not there, not that it 'holds -1 bytes'", async () => {
    const url = await stub((req, _url, _body, res) => void (req.method === "PUT" ? res.writeHead(200, { etag: '"x"' }).end() : res.writeHead(404).end()))
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const e = await Effect.runPromise(store.putBytes("p/id/f", new Uint8Array([1, 2, 3])).pipe(Effect.flip))
    expect(e).toMatchObject({ _tag: "StoreIntegrityFailed", check: "size", key: "p/id/f" })
    expect(e.message).toContain("p/id/f is not in s3://b at")
    expect(e.message).toContain("after its upload of 3 bytes was acknowledged")
    expect(e.message).not.toContain("-1")
  })
})

describe("what the S3 store says of a refusal", () => {
  it("RequestTimeTooSkewed (HTTP 403 on AWS): the host's clock is named, not the credentials or the bucket's policy", async () => {
    const url = await xmlStub(
      403,
      () =>
        `<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20261204T120000Z</RequestTime><ServerTime>2026-12-04T10:00:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>`,
    )
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const exit = await Effect.runPromiseExit(store.listPage("p/"))
    const text = JSON.stringify(exit)
    expect(text).toMatch(/RequestTimeTooSkewed/)
    expect(text).toMatch(/clock/)
    expect(text).not.toMatch(/StoreAccessDenied|access key|bucket's policy/)
  })

  it.each([
    [403, "QuotaExceeded", "Ceph RGW (ODF)"],
    [400, "XMinioAdminBucketQuotaExceeded", "MinIO"],
  ])("a used-up quota (HTTP %i %s, %s): named as the quota, with what to do, not the credentials; not repeated", async (status, code) => {
    let puts = 0
    const url = await stub((req, _url, _body, res) => {
      if (req.method === "PUT") puts++
      res.writeHead(status, { "content-type": "application/xml" }).end(`<Error><Code>${code}</Code><Message>quota</Message><BucketName>b</BucketName></Error>`)
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1 })
    const e = await Effect.runPromise(store.putBytes("p/id/f", new Uint8Array([1, 2, 3])).pipe(Effect.flip))
    expect(e).toMatchObject({ _tag: "StoreRequestFailed", code, status, retryable: false })
    expect(isQuotaExceeded(e)).toBe(true)
    expect(e.message).toContain(
      "quota (bucket b's, or its owner's) is used up: remove old backups from it (prune with a retention rule) or have the quota raised",
    )
    expect(e.message).not.toMatch(/access key|bucket's policy/)
    expect(puts).toBe(1)
  })

  it("a bucket of another region (HTTP 301, x-amz-bucket-region): the bucket's region is named, for a HEAD (no body) as for a listing", async () => {
    const url = await stub((req, _url, _body, res) => {
      res.writeHead(301, { "content-type": "application/xml", "x-amz-bucket-region": "eu-central-1" })
      res.end(
        req.method === "HEAD"
          ? undefined
          : `<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>b.s3.eu-central-1.amazonaws.com</Endpoint><Bucket>b</Bucket></Error>`,
      )
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    for (const exit of [await Effect.runPromiseExit(store.head("p/id/f.bin")), await Effect.runPromiseExit(store.listPage("p/"))]) {
      const text = JSON.stringify(exit)
      expect(text).toMatch(/region eu-central-1/)
      expect(text).toMatch(/--s3-region eu-central-1/)
    }
  })

  it("a missing object's 404 that carries x-amz-bucket-region (MinIO sends it always) is still a missing object", async () => {
    const url = await stub((_req, _url, _body, res) => res.writeHead(404, { "x-amz-bucket-region": "eu-central-1" }).end())
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(store.head("p/id/f.bin"))).toBeUndefined()
  })
})

describe("the S3 store's endpoint", () => {
  it("an IPv6 literal (http://[::1]:port, an IPv6-only cluster's store) is connected to, not looked up as a host name", async () => {
    const url = await stub(
      (_req, _url, _body, res) =>
        res.writeHead(200, { "content-type": "application/xml" }).end(`<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`),
      "::1",
    )
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(store.listPage("p/"))).toEqual({ objects: [], next: undefined })
  })
})

describe("an https endpoint whose certificate this host does not trust", () => {
  it("an unknown CA, or a certificate for another host: one attempt, a message naming the CA bundle (or the host), not 'no answer: is the store up?'", async () => {
    const certs = certificateFactory(mkdtempSync(join(tmpdir(), "s3-stub-tls-")))
    const day = 86_400_000
    const ca = certs.ca("store-ca", new Date(Date.now() - day), new Date(Date.now() + day))
    const leaf = certs.leaf("localhost", ca, new Date(Date.now() - day), new Date(Date.now() + day))
    let connections = 0
    const srv = https.createServer({ key: readFileSync(leaf.keyPath), cert: leaf.certPem }, (_req, res) =>
      res.writeHead(200, { "content-type": "application/xml" }).end(`<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`),
    )
    srv.on("connection", () => connections++)
    servers.push(srv)
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()))
    const port = (srv.address() as net.AddressInfo).port
    const store = (host: string, caPem?: string) =>
      makeS3Store({ ...endpoint(`https://${host}:${port}`), ca: caPem }, { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1 })

    const unknownCa = await Effect.runPromise(store("127.0.0.1").listPage("p/").pipe(Effect.flip))
    expect(unknownCa).toMatchObject({ _tag: "StoreRequestFailed", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", retryable: false })
    expect(unknownCa.message).toMatch(/not in a TLS this host trusts.*--s3-ca-bundle or AWS_CA_BUNDLE/)
    expect(unknownCa.message).not.toMatch(/no answer|store up/)
    expect(connections).toBe(1)

    const otherHost = await Effect.runPromise(store("127.0.0.1", ca.certPem).listPage("p/").pipe(Effect.flip))
    expect(otherHost).toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID", retryable: false })
    expect(otherHost.message).toContain("its certificate does not name the host 127.0.0.1")

    expect(await Effect.runPromise(store("localhost", ca.certPem).listPage("p/"))).toEqual({ objects: [], next: undefined })
  })
})

describe("an https endpoint that answers in plain http", () => {
  it("one attempt, and a message asking whether it is http://, not 'no answer: is the store up?'", async () => {
    let connections = 0
    const url = await stub((_req, _url, _body, res) => res.writeHead(200).end())
    const srv = servers.at(-1)!
    srv.on("connection", () => connections++)
    const store = makeS3Store(endpoint(url.replace("http://", "https://")), { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1 })
    const failure = await Effect.runPromise(store.listPage("p/").pipe(Effect.flip))
    expect(failure).toMatchObject({ _tag: "StoreRequestFailed", code: "ERR_SSL_WRONG_VERSION_NUMBER", retryable: false })
    expect(failure.message).toContain("the endpoint answered, but not in TLS (ERR_SSL_WRONG_VERSION_NUMBER): is it http:// rather than https://?")
    expect(connections).toBe(1)
  })
})

describe("the S3 store's listings when the server's pagination is broken", () => {
  it("a listing page that says it is truncated but gives no continuation token (a server answering ListObjects v1): an error, not the end of the store", async () => {
    const url = await xmlStub(200, () => `<ListBucketResult><IsTruncated>true</IsTruncated><Marker></Marker>${contents(["p/a/x", "p/a/y"])}</ListBucketResult>`)
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const exit = await Effect.runPromiseExit(store.listPage("p/"))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*continuation/)
  })

  it("multipart upload listings that say they are truncated but do not move on: an error, not a loop without end", async () => {
    let requests = 0
    const url = await stub((_req, _url, _body, res) => {
      requests++
      res
        .writeHead(200, { "content-type": "application/xml" })
        .end(
          `<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><Upload><Key>p/a/x</Key><UploadId>u1</UploadId><Initiated>2026-01-01T00:00:00.000Z</Initiated></Upload></ListMultipartUploadsResult>`,
        )
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const exit = await Effect.runPromiseExit(store.pendingUploads("p/").pipe(Effect.timeout(3_000)))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*marker/)
    expect(requests).toBeLessThanOrEqual(2)
  })
})

describe("when a multipart upload last stored a part (ListParts)", () => {
  const upload = { key: "p/a/x", uploadId: "u1", initiatedAt: Date.parse("2026-01-01T00:00:00Z") }
  const part = (n: number, at: string) => `<Part><PartNumber>${n}</PartNumber><LastModified>${at}</LastModified><ETag>"e"</ETag><Size>5</Size></Part>`

  it("reads every page, following the part number marker: the newest part of all", async () => {
    const markers: Array<string | null> = []
    const url = await stub((_req, url, _body, res) => {
      markers.push(url.searchParams.get("part-number-marker"))
      const page =
        url.searchParams.get("part-number-marker") === null
          ? `<IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>${part(1, "2026-01-01T00:10:00.000Z")}${part(2, "2026-01-01T00:30:00.000Z")}`
          : `<IsTruncated>false</IsTruncated>${part(3, "2026-01-01T00:20:00.000Z")}`
      res.writeHead(200, { "content-type": "application/xml" }).end(`<ListPartsResult>${page}</ListPartsResult>`)
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(store.uploadActiveAt(upload))).toBe(Date.parse("2026-01-01T00:30:00Z"))
    expect(markers).toEqual([null, "2"])
  })

  it("a page that says it is truncated but does not move on: an error, not a loop without end; a part time that does not parse: refused", async () => {
    const looping = await xmlStub(
      200,
      () =>
        `<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>1</NextPartNumberMarker>${part(1, "2026-01-01T00:10:00.000Z")}</ListPartsResult>`,
    )
    const options = { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 }
    const loop = await Effect.runPromiseExit(makeS3Store(endpoint(looping), options).uploadActiveAt(upload).pipe(Effect.timeout(3_000)))
    expect(JSON.stringify(loop)).toMatch(/StoreRequestFailed.*part number marker/)
    const badTime = await xmlStub(200, () => `<ListPartsResult><IsTruncated>false</IsTruncated>${part(1, "yesterday")}</ListPartsResult>`)
    const bad = await Effect.runPromiseExit(makeS3Store(endpoint(badTime), options).uploadActiveAt(upload))
    expect(JSON.stringify(bad)).toMatch(/MalformedListing.*LastModified/)
  })

  it("NoSuchUpload (completed or aborted since it was listed): no longer pending", async () => {
    const url = await xmlStub(404, () => `<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>`)
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(store.uploadActiveAt(upload))).toBeUndefined()
  })
})

describe("the S3 store's listings with what a server may write in them", () => {
  it("decodes keys' character references, and keeps one that names no character as written instead of failing", async () => {
    const url = await xmlStub(
      200,
      () =>
        `<ListBucketResult><IsTruncated>false</IsTruncated>${contents(["p/a&amp;b/&#xe9;t&#233;", "p/&#x110000;/x", "p/&#99999999999;/y"])}</ListBucketResult>`,
    )
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const page = await Effect.runPromise(store.listPage("p/"))
    expect(page.objects.map((o) => o.key)).toEqual(["p/a&b/été", "p/&#x110000;/x", "p/&#99999999999;/y"])
  })

  // Read as the epoch, such a time would put another uploader's object or upload past every grace period, and prune would remove it.
  it("refuses a listing whose entry has a time or size S3 would not write, naming it, rather than reading it as the epoch or as no size", async () => {
    const answers = [
      `<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/a/x</Key><Size>1</Size><LastModified>yesterday</LastModified></Contents></ListBucketResult>`,
      `<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/a/x</Key><Size>big</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>`,
      `<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>p/a/x</Key><UploadId>u1</UploadId><Initiated></Initiated></Upload></ListMultipartUploadsResult>`,
    ]
    let answer = 0
    const url = await xmlStub(200, () => answers[answer++]!)
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 2, retryBaseMs: 1 })
    const failures = [
      await Effect.runPromise(Effect.flip(store.listPage("p/"))),
      await Effect.runPromise(Effect.flip(store.listPage("p/"))),
      await Effect.runPromise(Effect.flip(store.pendingUploads("p/"))),
    ]
    expect(failures.map((e) => [e._tag, "code" in e ? e.code : undefined, "retryable" in e ? e.retryable : undefined])).toEqual([
      ["StoreRequestFailed", "MalformedListing", false],
      ["StoreRequestFailed", "MalformedListing", false],
      ["StoreRequestFailed", "MalformedListing", false],
    ])
    expect(failures.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /ListObjectsV2 with an entry S3 would not write \(LastModified "yesterday" is not a time, in .*p\/a\/x.*is the endpoint an S3 API\?$/,
      ),
      expect.stringMatching(/\(Size "big" is not a size,/),
      expect.stringMatching(/ListMultipartUploads with an entry S3 would not write \(no Initiated,/),
    ])
    expect(answer).toBe(3)
  })
})

describe("answers too large to be a listing or a manifest", () => {
  /** A server answering with `status`, `head` and then `bytes` of body in 1 MiB pieces as the client takes them; and what it sent. */
  const floodStub = async (status: number, headers: http.OutgoingHttpHeaders, head: string, bytes: number) => {
    const sent = { bytes: 0 }
    const url = await stub((_req, _url, _body, res) => {
      res.writeHead(status, { "content-type": "application/xml", ...headers })
      res.write(head)
      const piece = Buffer.alloc(MiB, 0x20)
      const send = (): void => {
        if (res.destroyed || sent.bytes >= bytes) return void res.end()
        sent.bytes += piece.length
        if (res.write(piece)) setImmediate(send)
        else res.once("drain", send)
      }
      send()
    })
    return { sent, store: makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 2, retryBaseMs: 1 }) }
  }

  it("a manifest larger than any manifest (stated or streamed): refused, not retried, and not read on", async () => {
    const stated = await floodStub(200, { "content-length": String(1024 * MiB) }, "", 1024 * MiB)
    const e = await Effect.runPromise(Effect.flip(stated.store.getBytes("p/id/backup-manifest.json")))
    expect(e).toMatchObject({ _tag: "StoreRequestFailed", code: "ResponseTooLarge", retryable: false })
    expect(e.message).toMatch(/GET p\/id\/backup-manifest\.json at .* answered with more than 64\.0 MiB, more than a listing or a backup's manifest takes/)
    const streamed = await floodStub(200, {}, "", 1024 * MiB)
    expect(await Effect.runPromise(Effect.flip(streamed.store.getBytes("p/id/backup-manifest.json")))).toMatchObject({ code: "ResponseTooLarge" })
    await new Promise((r) => setTimeout(r, 200))
    expect(streamed.sent.bytes).toBeLessThan(256 * MiB)
  })

  it("a HEAD of an object of any size gives its size: the length it states is the object's, with no body", async () => {
    const url = await stub((req, _url, _body, res) => {
      expect(req.method).toBe("HEAD")
      res.writeHead(200, { "content-length": String(160 * MiB) }).end()
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(store.head("p/id/snapshot.db"))).toMatchObject({ key: "p/id/snapshot.db", size: 160 * MiB })
  })

  // Before, a HEAD without Content-Length gave size -1, which prune's re-check took for a file not all there.
  it("a HEAD answer without a Content-Length is refused as not S3's", async () => {
    const url = await stub((_req, _url, _body, res) => {
      res.writeHead(200, { "last-modified": "Sat, 05 Dec 2026 10:00:00 GMT" })
      res.end()
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    expect(await Effect.runPromise(Effect.flip(store.head("p/id/snapshot.db")))).toMatchObject({
      _tag: "StoreRequestFailed",
      code: "MalformedAnswer",
      retryable: false,
      message: expect.stringContaining("Content-Length"),
    })
  })

  it("an error answer that does not end: its S3 code is read from its start, the rest is not", async () => {
    const { sent, store } = await floodStub(403, {}, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>", 1024 * MiB)
    expect(await Effect.runPromise(Effect.flip(store.listPage("p/")))).toMatchObject({ _tag: "StoreAccessDenied", code: "AccessDenied" })
    await new Promise((r) => setTimeout(r, 200))
    expect(sent.bytes).toBeLessThan(64 * MiB)
  })
})

describe("a download whose response is cut", () => {
  /** A store whose every GET of its 100-byte object has `cut` send the first half and end the connection; and the GETs it served. */
  const cutStore = async (cut: (res: http.ServerResponse, half: Buffer) => void) => {
    const served = { gets: 0 }
    const url = await stub((req, _url, _body, res) => {
      if (req.method === "HEAD") return void res.writeHead(200, { "content-length": "100" }).end()
      served.gets++
      res.writeHead(200, { "content-length": "100" })
      cut(res, Buffer.alloc(50, 1))
    })
    return { served, store: makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 2, retryBaseMs: 1 }) }
  }

  it("each failed attempt's part file is closed: no descriptor left open on it, none writing into the next attempt's", async () => {
    const { served, store } = await cutStore((res, half) => {
      res.write(half)
      setTimeout(() => res.socket?.destroy(), 20)
    })
    const work = mkdtempSync(join(tmpdir(), "s3-stub-cut-"))
    const exit = await Effect.runPromiseExit(store.getFile("p/id/f", join(work, "f")))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*ECONNRESET/)
    expect(served.gets).toBe(3)
    const open = readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/self/fd/${fd}`)]
      } catch {
        return []
      }
    })
    expect(open.filter((l) => l.startsWith(work))).toEqual([])
    expect(readdirSync(work)).toEqual([])
  })

  // The cut can come before the part file exists, while nothing listens on the response yet: it has to be seen then too.
  it("a response cut as soon as its first bytes are sent is told as the cut, and retried, never hanging or blamed on the file", async () => {
    const { served, store } = await cutStore((res, half) => res.write(half, () => res.socket?.destroy()))
    const work = mkdtempSync(join(tmpdir(), "s3-stub-cut-early-"))
    for (let i = 0; i < 20; i++) {
      served.gets = 0
      const exit = await Effect.runPromiseExit(store.getFile("p/id/f", join(work, "f")))
      expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*ECONNRESET/)
      expect(served.gets).toBe(3)
      expect(readdirSync(work)).toEqual([])
    }
  }, 20_000)
})

describe("a server that ignores Range", () => {
  it("answers a ranged GET with the whole object (200): one clear error, not retried, nothing left", async () => {
    const body = randomBytes(12 * MiB)
    let gets = 0
    const url = await stub((req, _url, _body, res) => {
      if (req.method === "HEAD") return void res.writeHead(200, { "content-length": String(body.length) }).end()
      gets++
      res.writeHead(200, { "content-length": String(body.length) }).end(body)
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1, downloadRangeBytes: 5 * MiB })
    const work = mkdtempSync(join(tmpdir(), "s3-stub-range-"))
    const exit = await Effect.runPromiseExit(store.getFile("p/id/f", join(work, "f")))
    expect(JSON.stringify(exit)).toMatch(/StoreRequestFailed.*RangeNotHonoured.*HTTP 200 instead of 206 Partial Content/)
    expect(gets).toBe(1)
    expect(readdirSync(work)).toEqual([])
  })
})

describe("getStart, the first bytes of an object", () => {
  it("asks for the range and, from a server that ignores it (200 with the whole object), reads no further than asked", async () => {
    const body = randomBytes(64 * MiB)
    const ranges: Array<string | undefined> = []
    let sent = 0
    const url = await stub((req, _url, _body, res) => {
      ranges.push(req.headers.range)
      res.writeHead(200, { "content-length": String(body.length) })
      // Sent in 1 MiB pieces as the client takes them: a client that stops reading stops the sending.
      const send = (from: number): void => {
        if (from >= body.length || res.destroyed) return void res.end()
        sent = from + MiB
        if (res.write(body.subarray(from, from + MiB))) send(from + MiB)
        else res.once("drain", () => send(from + MiB))
      }
      send(0)
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const start = await Effect.runPromise(store.getStart("p/id/f.age", 64 * 1024))
    expect(Buffer.from(start).equals(body.subarray(0, 64 * 1024))).toBe(true)
    expect(ranges).toEqual(["bytes=0-65535"])
    await new Promise((r) => setTimeout(r, 200))
    expect(sent).toBeLessThan(16 * MiB)
  })

  // The header check reads the start of each encrypted file: a proper 206 must not cost a new connection each time.
  it("a 206 answer is read to its end and its connection kept for the next request", async () => {
    const body = randomBytes(256 * 1024)
    let connections = 0
    const srv = http.createServer((req, res) => {
      const [from, to] = /bytes=(\d+)-(\d+)/
        .exec(req.headers.range ?? "")!
        .slice(1)
        .map(Number) as [number, number]
      res.writeHead(206, { "content-length": String(to - from + 1), "content-range": `bytes ${from}-${to}/${body.length}` }).end(body.subarray(from, to + 1))
    })
    srv.on("connection", () => connections++)
    servers.push(srv)
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()))
    const store = makeS3Store(endpoint(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`), {
      partSize: 5 * MiB,
      partsInFlight: 1,
      retries: 0,
      retryBaseMs: 1,
    })
    for (let i = 0; i < 3; i++)
      expect(Buffer.from(await Effect.runPromise(store.getStart(`p/id/f${i}.age`, 64 * 1024))).equals(body.subarray(0, 64 * 1024))).toBe(true)
    expect(connections).toBe(1)
  })
})

describe("an endpoint that answers 404 with no S3 error (not an S3 service, or a proxy in between)", () => {
  it("a listing or a write fails naming the endpoint and what to check, not as a missing object", async () => {
    const url = await stub((_req, _url, _body, res) => void res.writeHead(404, { "content-length": "0" }).end())
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const listed = JSON.stringify(await Effect.runPromiseExit(store.listPage("p/")))
    expect(listed).toMatch(/StoreBucketMissing/)
    expect(listed).toContain(
      `${url} answered ListObjectsV2 bucket b with 404 Not Found and no S3 error: bucket b does not exist there, or it is not an S3 endpoint`,
    )
    // A write too: a PUT's 404 without S3's code is never "the object is missing".
    const put = JSON.stringify(await Effect.runPromiseExit(store.putBytes("p/id/f", new Uint8Array(8))))
    expect(put).toMatch(/StoreBucketMissing/)
    expect(put).toContain(`${url} answered PUT p/id/f with 404 Not Found and no S3 error`)
    // An object's HEAD has no body on S3 either: a 404 there is the object missing.
    expect(await Effect.runPromise(store.head("p/id/f"))).toBeUndefined()
  })
})

describe("an endpoint nobody listens on", () => {
  it("a listing's failure names the bucket it was about, never an empty key", async () => {
    const url = await stub(() => undefined)
    await new Promise<void>((r) => servers.pop()!.close(() => r()))
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 1 })
    const listed = JSON.stringify(await Effect.runPromiseExit(store.listPage("p/")))
    expect(listed).toContain(`ListObjectsV2 bucket b at ${url} got no answer (ECONNREFUSED): is the endpoint right and the store up?`)
  })
})

/**
 * A store that keeps what it is sent and answers HEAD with the server-side encryption `answer` gives for what was asked
 * (AWS names the KMS key by its ARN); every request's headers are kept, with the names its signature covers.
 */
const sseStub = (answer: (asked: Record<string, string>) => Record<string, string>) => {
  const objects = new Map<string, { body: Buffer; asked: Record<string, string> }>()
  const parts: Array<Buffer> = []
  let uploadAsked: Record<string, string> = {}
  const requests: Array<{ method: string; query: string; headers: http.IncomingHttpHeaders; signed: Array<string> }> = []
  const asked = (req: http.IncomingMessage) =>
    Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-amz-server-side-encryption"))) as Record<string, string>
  const handler: Handler = (req, url, body, res) => {
    const key = decodeURIComponent(url.pathname.slice("/b/".length))
    const q = url.searchParams
    const signed = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))?.[1]?.split(";") ?? []
    requests.push({ method: req.method ?? "", query: url.search, headers: req.headers, signed })
    if (req.method === "PUT" && q.has("partNumber")) {
      parts[Number(q.get("partNumber")) - 1] = body
      res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end()
    } else if (req.method === "PUT") {
      objects.set(key, { body, asked: asked(req) })
      res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end()
    } else if (req.method === "POST" && q.has("uploads")) {
      uploadAsked = asked(req)
      res.writeHead(200).end(`<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
    } else if (req.method === "POST" && q.has("uploadId")) {
      objects.set(key, { body: Buffer.concat(parts), asked: uploadAsked })
      res.writeHead(200).end(`<CompleteMultipartUploadResult><Key>${key}</Key></CompleteMultipartUploadResult>`)
    } else if (req.method === "HEAD") {
      const o = objects.get(key)
      if (o === undefined) res.writeHead(404).end()
      else res.writeHead(200, { "content-length": String(o.body.length), "last-modified": new Date().toUTCString(), ...answer(o.asked) }).end()
    } else if (req.method === "DELETE") {
      objects.delete(key)
      res.writeHead(204).end()
    } else res.writeHead(501).end()
  }
  return { handler, objects, requests }
}

const kmsArn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
const echoed = (asked: Record<string, string>): Record<string, string> => {
  const algorithm = asked["x-amz-server-side-encryption"]
  if (algorithm === undefined) return {}
  return { "x-amz-server-side-encryption": algorithm, ...(algorithm === "aws:kms" ? { "x-amz-server-side-encryption-aws-kms-key-id": kmsArn } : {}) }
}

describe("server-side encryption", () => {
  const sse = async (answer: (asked: Record<string, string>) => Record<string, string>, serverSideEncryption: S3Endpoint["serverSideEncryption"]) => {
    const s = sseStub(answer)
    const store = makeS3Store({ ...endpoint(await stub(s.handler)), serverSideEncryption }, { partSize: 5 * MiB, partsInFlight: 2, retries: 0, retryBaseMs: 1 })
    const work = mkdtempSync(join(tmpdir(), "s3-sse-"))
    writeFileSync(join(work, "big.bin"), randomBytes(11 * MiB))
    const single = await Effect.runPromiseExit(store.putBytes("p/id/small.json", new TextEncoder().encode("{}")))
    const multipart = await Effect.runPromiseExit(store.putFile("p/id/big.bin", join(work, "big.bin")))
    return { s, single, multipart }
  }
  const creating = (s: ReturnType<typeof sseStub>) =>
    s.requests.filter((r) => (r.method === "PUT" && !r.query.includes("partNumber")) || r.query.includes("uploads"))

  it("each object created (PutObject, CreateMultipartUpload) asks for it in signed headers, parts do not; confirmed, both are stored", async () => {
    const { s, single, multipart } = await sse(echoed, { algorithm: "aws:kms", kmsKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" })
    expect(Exit.isSuccess(single), JSON.stringify(single)).toBe(true)
    expect(Exit.isSuccess(multipart), JSON.stringify(multipart)).toBe(true)
    expect(creating(s)).toHaveLength(2)
    for (const r of creating(s)) {
      expect(r.headers["x-amz-server-side-encryption"]).toBe("aws:kms")
      expect(r.headers["x-amz-server-side-encryption-aws-kms-key-id"]).toBe("1234abcd-12ab-34cd-56ef-1234567890ab")
      expect(r.signed).toEqual(expect.arrayContaining(["x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"]))
    }
    const partRequests = s.requests.filter((r) => r.query.includes("partNumber"))
    expect(partRequests.length).toBe(3)
    for (const r of partRequests) expect(r.headers["x-amz-server-side-encryption"]).toBeUndefined()
    expect([...s.objects.keys()].sort()).toEqual(["p/id/big.bin", "p/id/small.json"])
  })

  it("a store that does not confirm it (no header, another algorithm, another key): the object is removed and the put fails, naming what it answered", async () => {
    for (const [answer, asked, found] of [
      [() => ({}), { algorithm: "AES256" }, /no x-amz-server-side-encryption header/],
      [() => ({ "x-amz-server-side-encryption": "AES256" }), { algorithm: "aws:kms" }, /encrypted it with AES256, not aws:kms as asked/],
      [echoed, { algorithm: "aws:kms", kmsKeyId: "ffffffff-12ab-34cd-56ef-1234567890ab" }, /KMS key arn:aws:kms:\S+, not ffffffff-\S+ as asked/],
    ] as const) {
      const { s, single, multipart } = await sse(answer, asked)
      for (const exit of [single, multipart]) {
        expect(Exit.isFailure(exit)).toBe(true)
        const text = JSON.stringify(exit)
        expect(text).toMatch(/"check":"encryption"/)
        expect(text).toMatch(found)
        expect(text).toMatch(/it was removed again/)
      }
      expect(s.objects.size).toBe(0)
    }
  })

  it("none asked: no header sent, and an object the store encrypts by default is fine", async () => {
    const { s, single, multipart } = await sse(() => ({ "x-amz-server-side-encryption": "AES256" }), undefined)
    expect(Exit.isSuccess(single) && Exit.isSuccess(multipart)).toBe(true)
    for (const r of s.requests) expect(r.headers["x-amz-server-side-encryption"]).toBeUndefined()
  })

  it("a PUT refused 403 with SSE-KMS names the KMS permissions beside the credentials; without it, it does not", async () => {
    const url = await xmlStub(403, () => `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
    const refused = async (serverSideEncryption: S3Endpoint["serverSideEncryption"]) =>
      JSON.stringify(await Effect.runPromiseExit(makeS3Store({ ...endpoint(url), serverSideEncryption }).putBytes("p/id/small.json", new Uint8Array(2))))
    expect(await refused({ algorithm: "aws:kms", kmsKeyId: "alias/etcd-backups" })).toMatch(
      /Check the access key and secret .* With SSE-KMS the role also needs kms:GenerateDataKey and kms:Decrypt on alias\/etcd-backups/,
    )
    expect(await refused({ algorithm: "AES256" })).not.toMatch(/kms:/)
  })

  it("a 501 NotImplemented (Swift asked for encryption) fails at once: repeating it will not help", async () => {
    let requests = 0
    const url = await stub((_req, _url, _body, res) => {
      requests++
      res
        .writeHead(501, { "content-type": "application/xml" })
        .end(`<Error><Code>NotImplemented</Code><Message>Server-side encryption is not supported.</Message></Error>`)
    })
    const store = makeS3Store(
      { ...endpoint(url), serverSideEncryption: { algorithm: "AES256" } },
      { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1 },
    )
    const exit = await Effect.runPromiseExit(store.putBytes("p/id/small.json", new Uint8Array(2)))
    expect(JSON.stringify(exit)).toMatch(/NotImplemented \(HTTP 501\): Server-side encryption is not supported.; repeating the request will not help/)
    expect(requests).toBe(1)
  })
})

describe("an object in an archive storage class", () => {
  // S3 answers 403 InvalidObjectState: it read as access denied, "check the access key and secret".
  it("a read answered 403 InvalidObjectState says the object is archived and must be restored, not that access was denied", async () => {
    let requests = 0
    const url = await xmlStub(403, () => {
      requests++
      return `<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message><StorageClass>GLACIER</StorageClass></Error>`
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 3, retryBaseMs: 1 })
    const text = JSON.stringify(await Effect.runPromiseExit(store.getBytes("p/id/backup-manifest.json")))
    expect(text).toMatch(/"_tag":"StoreRequestFailed"/)
    expect(text).toMatch(/"code":"InvalidObjectState"/)
    expect(text).toMatch(/is in an archive storage class .* cannot be read until it is restored \(S3 RestoreObject\)/)
    expect(text).not.toMatch(/access key/)
    expect(requests).toBe(1)
  })
})

describe("the bucket's versioning (GetBucketVersioning)", () => {
  const versioningOf = async (status: number, xml: string) => {
    const seen: Array<string> = []
    const url = await stub((req, url, _body, res) => {
      seen.push(`${req.method} ${url.pathname}${url.search}`)
      res.writeHead(status, { "content-type": "application/xml" }).end(xml)
    })
    const store = makeS3Store(endpoint(url), { partSize: 5 * MiB, partsInFlight: 1, retries: 1, retryBaseMs: 1 })
    return { versioning: await Effect.runPromise(store.versioning), seen }
  }

  it("is asked of the bucket, and read from its Status", async () => {
    const enabled = await versioningOf(
      200,
      `<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`,
    )
    expect(enabled.versioning).toEqual({ _tag: "Known", status: "Enabled" })
    expect(enabled.seen).toEqual(["GET /b?versioning="])
    expect((await versioningOf(200, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)).versioning).toEqual({
      _tag: "Known",
      status: "Unversioned",
    })
  })

  it("is unknown, with why, where the store does not say (no permission, not implemented), and never fails", async () => {
    const denied = await versioningOf(403, `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
    expect(denied.versioning).toMatchObject({ _tag: "Unknown", why: expect.stringMatching(/AccessDenied/) })
    const other = await versioningOf(200, `<ListBucketResult></ListBucketResult>`)
    expect(other.versioning).toEqual({ _tag: "Unknown", why: "the answer is not a VersioningConfiguration" })
  })
})

// S3 ends a request whose client sends nothing for about 20 s (RequestTimeout): a paced body goes in small pieces.
describe("a paced upload", () => {
  it("at 256 KiB/s sends 1 MiB in pieces a sixteenth of a second apart, never leaving the connection idle for a second", async () => {
    const objects = new Map<string, { body: Buffer; meta: Record<string, string> }>()
    /** When each piece of the PUT's body arrived (ms). */
    const arrivals: Array<number> = []
    const srv = http.createServer((req, res) => {
      const key = new URL(req.url ?? "/", "http://stub").pathname
      if (req.method === "PUT") {
        const chunks: Array<Buffer> = []
        req.on("data", (d: Buffer) => {
          arrivals.push(performance.now())
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
    servers.push(srv)
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()))
    const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`
    const store = makeS3Store({ ...endpoint(url), pacer: makeTransferPacer(256 * 1024) }, { partSize: 5 * MiB, partsInFlight: 1, retries: 0, retryBaseMs: 10 })
    const bytes = new Uint8Array(MiB).fill(7)
    const started = performance.now()
    await Effect.runPromise(store.putBytes("p/id/f", bytes))
    // All but the burst (a tenth of a second's worth) waits for the rate.
    expect((performance.now() - started) / 1000).toBeGreaterThanOrEqual((MiB - 0.1 * MiB) / (256 * 1024) - 0.05)
    expect(Buffer.compare(objects.get("/b/p/id/f")!.body, Buffer.from(bytes))).toBe(0)
    // Node sends the request's head with its first piece: the gaps are between pieces (in 256 KiB pieces, 1 s each).
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!)
    expect(Math.max(...gaps)).toBeLessThan(700)
  }, 30_000)
})
