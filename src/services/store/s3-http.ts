/**
 * One signed S3 request over node:http/https, as an Effect: interruption aborts the request,
 * a per-request deadline turns a server that stopped answering into a retryable failure, and
 * every failure becomes a StoreError that names the operation and key (never a credential; the
 * server's own message is left out of 403s, which may quote the string that was signed).
 */
import { createHash } from "node:crypto"
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http"
import https from "node:https"
import { Effect } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import { xmlField } from "../../domain/xml-fields.ts"
import type { ServerSideEncryption } from "../../domain/server-side-encryption.ts"
import { storeDocumentMaxBytes } from "./backup-store.ts"
import { serverCertificateFailures, tlsCodeOf, tlsFailureDescription } from "../tls-failure.ts"
import { agentThrough, type ChosenProxy, proxyFailure } from "./proxy-agent.ts"
import type { TransferPacer } from "./transfer-pacer.ts"
import { currentCredentials, type CredentialSource } from "./s3-credentials.ts"
import { canonicalQuery, emptyPayloadHash, signRequest, uriEncodePath } from "./sigv4.ts"
import {
  archivedObjectCode,
  errnoCode,
  quotaExceededCodes,
  StoreAccessDenied,
  StoreBucketMissing,
  StoreObjectMissing,
  StoreRequestFailed,
  type StoreError,
} from "./store-errors.ts"

export interface S3Endpoint {
  /** `http(s)://host[:port]`, no path. */
  readonly url: URL
  readonly region: string
  readonly bucket: string
  /** Path-style (`host/bucket/key`) rather than virtual-hosted (`bucket.host/key`). */
  readonly pathStyle: boolean
  /** PEM of the CAs to trust instead of Node's, for private CAs (ODF, RGW). */
  readonly ca?: string | undefined
  /** Fixed, or renewing (web identity): each request is signed with the current ones. */
  readonly credentials: CredentialSource
  /** Sign the payload's sha256 (default) or send `UNSIGNED-PAYLOAD` (Content-MD5 still checked). */
  readonly signPayload: boolean
  /** A request that gets no response byte for this long fails (retryably). */
  readonly requestTimeoutMs: number
  /** The HTTP(S) proxy requests go through (`proxyFor`), or none. */
  readonly proxy?: ChosenProxy | undefined
  /** Server-side encryption every object created is asked for, and its HEAD must confirm. */
  readonly serverSideEncryption?: ServerSideEncryption | undefined
  /** Paces the bytes of request bodies and of downloads' responses (`--bandwidth-limit`), shared by every request to the store. */
  readonly pacer?: TransferPacer | undefined
}

export interface S3Request {
  readonly operation: string
  readonly method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD"
  /** The object key, or `""` for the bucket. */
  readonly key: string
  readonly query?: Readonly<Record<string, string>>
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array | StreamedBody
}

/**
 * A body read from its source as it is sent (an upload part straight from the file), through one
 * reused buffer: memory grows neither with its size nor with garbage awaiting collection. Its
 * digests are computed beforehand, in a first pass.
 */
export interface StreamedBody {
  readonly length: number
  /** Hex sha256 of the bytes, for the signature. */
  readonly sha256: string
  /**
   * Reads exactly `length` bytes of the body from byte `offset` of it into `buf`, synchronously: a
   * regular file's bytes are in the page cache (the digests' pass read them just before), and a
   * thread-pool read per chunk cost more than the copy (a worker's wake-up preempting the sender).
   */
  readonly read: (buf: Buffer, length: number, offset: number) => void
  /** The StoreError for a failure to read the source. */
  readonly readFailed: (cause: unknown) => StoreError
}

/** Bytes of a streamed body read and written at a time. */
const sendChunkBytes = 256 * 1024

/**
 * Writes the body into the request chunk by chunk, each read into the buffer once the socket has taken the one before
 * (and, with a bandwidth limit, once the pacer lets its bytes go).
 */
const sendStreamed = async (r: http.ClientRequest, body: StreamedBody, pacer: TransferPacer | undefined): Promise<void> => {
  const buf = Buffer.allocUnsafe(Math.min(pacer?.chunkBytes ?? sendChunkBytes, body.length))
  for (let sent = 0; sent < body.length && !r.destroyed; ) {
    const n = Math.min(buf.length, body.length - sent)
    if (pacer !== undefined) await pacer.take(n)
    if (r.destroyed) break
    body.read(buf, n, sent)
    await new Promise<void>((flushed) => r.write(buf.subarray(0, n), () => flushed()))
    sent += n
  }
  r.end()
}

const isStreamed = (body: Uint8Array | StreamedBody): body is StreamedBody => "read" in body

/** Bytes in memory as a streamed body, for a paced send (their sha256 is signed before: not needed here). */
const bytesBody = (e: S3Endpoint, req: S3Request, bytes: Uint8Array): StreamedBody => ({
  length: bytes.byteLength,
  sha256: "",
  read: (buf, length, offset) => void buf.set(bytes.subarray(offset, offset + length)),
  readFailed: (cause) =>
    new StoreRequestFailed({
      store: describeEndpoint(e),
      operation: req.operation,
      key: req.key,
      status: 0,
      code: "EIO",
      retryable: false,
      message: `${requestWhat(e, req)} could not be sent: ${String(cause)}`,
    }),
})

export interface S3Response {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/** `s3://bucket` or the endpoint and bucket: where messages say the store is. */
export const describeEndpoint = (e: Pick<S3Endpoint, "bucket" | "url">): string => `s3://${e.bucket} at ${e.url.origin}`

const agents = new WeakMap<object, http.Agent>()
const agentFor = (e: S3Endpoint): http.Agent => {
  const existing = agents.get(e)
  if (existing !== undefined) return existing
  const agent = agentThrough(e.url.protocol, e.proxy, { keepAlive: true, ca: e.ca })
  agents.set(e, agent)
  return agent
}

/** The start of an error answer that is kept: S3's error XML is a few hundred bytes. */
const errorBodyKeptBytes = 64 * 1024

const retryableCodes = new Set(["InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "BadDigest", "IncompleteBody", "OperationAborted"])

/** What a request was about, for a message: its operation and key, or the bucket for a request on the bucket itself. */
const requestWhat = (e: S3Endpoint, req: S3Request) => `${req.operation} ${req.key === "" ? `bucket ${e.bucket}` : req.key}`

/**
 * The StoreError for an S3 error response; `bucketRegion` is its `x-amz-bucket-region` header (AWS
 * sends it with the 301 a bucket of another region gets, a HEAD's included, which has no body).
 */
export const responseError = (e: S3Endpoint, req: S3Request, status: number, body: string, bucketRegion?: string): StoreError => {
  // An http endpoint's requests go to the proxy itself: its 407 is its own, never the store's.
  const proxied = status === 407 ? proxyError(e, req, undefined, status) : undefined
  if (proxied !== undefined) return proxied
  const store = describeEndpoint(e)
  const s3Code = xmlField(body, "Code")
  const code = s3Code ?? `HTTP${status}`
  const what = requestWhat(e, req)
  /** A refusal that retrying cannot change, with what to do about it. */
  const refusedBecause = (advice: string) =>
    new StoreRequestFailed({
      store,
      operation: req.operation,
      key: req.key,
      status,
      code,
      retryable: false,
      message: `${store} refused ${what}: ${code} (HTTP ${status}): ${advice}`,
    })
  // Only a redirect's: some servers (MinIO) send the header with every answer, a 404's included.
  if (status >= 300 && status < 400 && bucketRegion !== undefined && bucketRegion !== "" && bucketRegion !== e.region) {
    return refusedBecause(`bucket ${e.bucket} is in region ${bucketRegion}, not ${e.region}: give --s3-region ${bucketRegion} (or AWS_REGION)`)
  }
  // A 403 on AWS, but no credential or policy is wrong: this host's clock is (SigV4 allows 15 min).
  if (code === "RequestTimeTooSkewed") {
    return refusedBecause(
      "this host's clock differs from the store's by more than it allows (15 minutes on AWS); set the clock right (NTP, chrony) and run again",
    )
  }
  // A 403 on Ceph RGW (ODF), but no credential is wrong: the bucket's or its owner's quota is used up.
  if (quotaExceededCodes.has(code)) {
    return refusedBecause(
      `the store's quota (bucket ${e.bucket}'s, or its owner's) is used up: remove old backups from it (prune with a retention rule) or have the quota raised`,
    )
  }
  // A 403 on AWS, but nothing is denied: the object was moved to an archive storage class (a lifecycle rule).
  if (code === archivedObjectCode) {
    return refusedBecause(
      `${req.key} is in an archive storage class (S3 Glacier Flexible Retrieval or Deep Archive, or an Intelligent-Tiering archive tier) and cannot be read until it is restored (S3 RestoreObject); transition backups to archive only after the retention that lists, verifies and restores them`,
    )
  }
  if (status === 403 || code === "SignatureDoesNotMatch" || code === "InvalidAccessKeyId" || code === "AccessDenied") {
    return new StoreAccessDenied({
      store,
      operation: req.operation,
      key: req.key,
      status,
      code,
      message: `${store} refused ${what}: ${code} (HTTP ${status}). Check the access key and secret (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the credentials file), the region (${e.region}) and the bucket's policy.${e.serverSideEncryption?.algorithm === "aws:kms" ? ` With SSE-KMS the role also needs kms:GenerateDataKey and kms:Decrypt on ${e.serverSideEncryption.kmsKeyId ?? "the bucket's KMS key"}, and the key's policy must allow them.` : ""}`,
    })
  }
  if (code === "NoSuchBucket") {
    return new StoreBucketMissing({
      store,
      bucket: e.bucket,
      message: `bucket ${e.bucket} does not exist at ${e.url.origin}: create it, or fix the bucket name in the store location`,
    })
  }
  // A request on the bucket itself (a listing), or one that writes, answered 404 without S3's code: no such bucket, or not
  // an S3 endpoint at all. (A read's 404 has no body on S3 either: HEAD has none. That one is the object missing.)
  if (status === 404 && s3Code === undefined && (req.key === "" || req.method === "PUT" || req.method === "POST")) {
    return new StoreBucketMissing({
      store,
      bucket: e.bucket,
      message: `${e.url.origin} answered ${what} with 404 Not Found and no S3 error: bucket ${e.bucket} does not exist there, or it is not an S3 endpoint (check --s3-endpoint, a proxy in between, and the bucket name)`,
    })
  }
  if (code === "NoSuchKey" || (status === 404 && req.method !== "DELETE" && !("uploadId" in (req.query ?? {})))) {
    return new StoreObjectMissing({ store, key: req.key, message: `${req.key} is not in ${store}` })
  }
  // 501 (NotImplemented: a feature the store lacks, server-side encryption on Swift) and 505 answer every repeat alike, as
  // AWS's SDKs take them.
  const retryable = (status >= 500 && status !== 501 && status !== 505) || status === 429 || retryableCodes.has(code)
  const serverMessage = xmlField(body, "Message")
  return new StoreRequestFailed({
    store,
    operation: req.operation,
    key: req.key,
    status,
    code,
    retryable,
    message: `${store} failed ${what}: ${code} (HTTP ${status})${serverMessage === undefined ? "" : `: ${serverMessage}`}${retryable ? "" : "; repeating the request will not help"}`,
  })
}

/** Why the endpoint's TLS is not trusted (`serverCertificateFailures`), and what to check. */
const untrustedBecause = (e: S3Endpoint, req: S3Request, code: string, cause: unknown): string => {
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `its certificate does not name the host ${target(e, req).host}: check the endpoint's host name${e.pathStyle ? "" : " (or address the bucket by path: --s3-addressing path)"}`
  }
  const clock = code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID" ? ", or this host's clock" : ""
  return `its certificate is not trusted (${tlsFailureDescription(code, undefined, cause instanceof Error ? cause.message : code)}): give the CAs that sign it with --s3-ca-bundle or AWS_CA_BUNDLE (a BackupPolicy's store.s3.caBundleConfigMap)${clock}`
}

/** The proxy's refusal or silence (`proxyFailure`) as the request's StoreError, or undefined if the proxy was not at fault. */
const proxyError = (e: S3Endpoint, req: S3Request, cause: unknown, status?: number): StoreRequestFailed | undefined => {
  const failure = proxyFailure(e.proxy, target(e, req).host, cause, status)
  return failure === undefined
    ? undefined
    : new StoreRequestFailed({
        store: describeEndpoint(e),
        operation: req.operation,
        key: req.key,
        status: status ?? 0,
        code: failure.code,
        retryable: failure.retryable,
        message: `${requestWhat(e, req)} at ${e.url.origin}: ${failure.text}${failure.retryable ? "" : "; repeating the request will not help"}`,
      })
}

const connectionError = (e: S3Endpoint, req: S3Request, cause: unknown): StoreRequestFailed => {
  const proxied = proxyError(e, req, cause)
  if (proxied !== undefined) return proxied
  const code = tlsCodeOf(errnoCode(cause), cause instanceof Error ? cause.message : "")
  // The store answered, in a TLS this host does not trust (or not in TLS): no repeat changes that, and "no answer" would mislead.
  const untrusted = serverCertificateFailures.has(code)
  return new StoreRequestFailed({
    store: describeEndpoint(e),
    operation: req.operation,
    key: req.key,
    status: 0,
    code,
    retryable: !untrusted,
    message: untrusted
      ? code === "ERR_SSL_WRONG_VERSION_NUMBER"
        ? `${requestWhat(e, req)} at ${e.url.origin}: the endpoint answered, but not in TLS (${code}): is it http:// rather than https://?`
        : `${requestWhat(e, req)} at ${e.url.origin}: the endpoint answered, but not in a TLS this host trusts (${code}): ${untrustedBecause(e, req, code, cause)}`
      : `${requestWhat(e, req)} at ${e.url.origin} got no answer (${code}): is the endpoint right and the store up?`,
  })
}

const timeoutError = (e: S3Endpoint, req: S3Request): StoreRequestFailed =>
  new StoreRequestFailed({
    store: describeEndpoint(e),
    operation: req.operation,
    key: req.key,
    status: 0,
    code: "Timeout",
    retryable: true,
    message: `${requestWhat(e, req)} at ${e.url.origin}: no answer within ${e.requestTimeoutMs} ms${e.proxy === undefined ? "" : ` (through proxy ${e.proxy.shown})`}`,
  })

const target = (e: S3Endpoint, req: S3Request) => {
  const keyPath = req.key === "" ? "" : `/${req.key}`
  const host = e.pathStyle ? e.url.host : `${e.bucket}.${e.url.host}`
  const path = uriEncodePath(e.pathStyle ? `/${e.bucket}${keyPath}` : keyPath === "" ? "/" : keyPath)
  return { host, path }
}

/**
 * Sends the request; `onResponse` consumes a 2xx response (its body stream) and settles the
 * result. Non-2xx responses become StoreErrors here.
 */
export const s3Exchange = <A>(
  e: S3Endpoint,
  req: S3Request,
  onResponse: (res: IncomingMessage) => Promise<A>,
  now: () => Date = () => new Date(),
): Effect.Effect<A, StoreError> =>
  Effect.flatMap(currentCredentials(e.credentials), (credentials) =>
    Effect.tryPromise({
      try: (signal) =>
        new Promise<A>((resolve, reject) => {
          const { host, path } = target(e, req)
          const query = req.query ?? {}
          const body = req.body
          const payloadHash =
            body === undefined
              ? emptyPayloadHash
              : !e.signPayload
                ? "UNSIGNED-PAYLOAD"
                : isStreamed(body)
                  ? body.sha256
                  : createHash("sha256").update(body).digest("hex")
          const headers = signRequest(
            {
              method: req.method,
              host,
              path,
              query,
              headers: {
                ...(req.headers ?? {}),
                ...(body === undefined ? {} : { "content-length": String(isStreamed(body) ? body.length : body.byteLength) }),
              },
              payloadHash,
            },
            credentials,
            e.region,
            now(),
          )
          const qs = canonicalQuery(query)
          const client = e.url.protocol === "https:" ? https : http
          const r = client.request(
            {
              protocol: e.url.protocol,
              // An IPv6 literal without its brackets: node:http looks `[::1]` up as a host name.
              hostname: e.url.hostname.replace(/^\[(.*)\]$/, "$1"),
              port: e.url.port,
              method: req.method,
              path: qs === "" ? path : `${path}?${qs}`,
              headers: { ...headers, host },
              agent: agentFor(e),
              signal,
              timeout: e.requestTimeoutMs,
            },
            (res) => {
              const status = res.statusCode ?? 0
              if (status >= 200 && status < 300) {
                onResponse(res).then(resolve, reject)
                return
              }
              const chunks: Array<Buffer> = []
              let kept = 0
              const region = res.headers["x-amz-bucket-region"]
              const refused = () =>
                reject({ s3Status: status, body: Buffer.concat(chunks).toString("utf8"), bucketRegion: typeof region === "string" ? region : undefined })
              res.on("data", (d: Buffer) => {
                chunks.push(d)
                kept += d.length
                // An error's XML is a few hundred bytes: past its start, what a server sends is not read.
                if (kept < errorBodyKeptBytes) return
                res.destroy()
                refused()
              })
              res.on("end", refused)
              res.on("error", reject)
            },
          )
          r.on("timeout", () => r.destroy(Object.assign(new Error("timeout"), { code: "Timeout" })))
          r.on("error", reject)
          // Small bodies (XML, a manifest) go at once; an upload's bytes at the bandwidth limit's pace, if any.
          if (body === undefined || (!isStreamed(body) && (e.pacer === undefined || body.byteLength < sendChunkBytes))) {
            r.end(body)
            return
          }
          const streamed = isStreamed(body) ? body : bytesBody(e, req, body)
          sendStreamed(r, streamed, e.pacer).catch((cause: unknown) => {
            r.destroy()
            reject(streamed.readFailed(cause))
          })
        }),
      catch: (cause): StoreError => {
        if (typeof cause === "object" && cause !== null && "s3Status" in cause) {
          const c = cause as { s3Status: number; body: string; bucketRegion: string | undefined }
          return responseError(e, req, c.s3Status, c.body, c.bucketRegion)
        }
        if (typeof cause === "object" && cause !== null && "_tag" in cause) return cause as StoreError
        return errnoCode(cause) === "Timeout" ? timeoutError(e, req) : connectionError(e, req, cause)
      },
    }),
  )

/**
 * A request whose 2xx response body is read whole (small bodies: XML, the manifest), at most `storeDocumentMaxBytes`:
 * a larger answer (the wrong endpoint or key, or a hostile server) is refused, not read into memory.
 */
export const s3Request = (e: S3Endpoint, req: S3Request): Effect.Effect<S3Response, StoreError> =>
  s3Exchange(
    e,
    req,
    (res) =>
      new Promise((resolve, reject) => {
        const chunks: Array<Buffer> = []
        let received = 0
        const tooLarge = () => {
          res.destroy()
          reject(
            new StoreRequestFailed({
              store: describeEndpoint(e),
              operation: req.operation,
              key: req.key,
              status: res.statusCode ?? 0,
              code: "ResponseTooLarge",
              retryable: false,
              message: `${requestWhat(e, req)} at ${e.url.origin} answered with more than ${formatBytes(storeDocumentMaxBytes)}, more than a listing or a backup's manifest takes: is the endpoint an S3 API, and the key right?`,
            }),
          )
        }
        // A HEAD's length is the object's, with no body.
        if (req.method !== "HEAD" && Number(res.headers["content-length"] ?? 0) > storeDocumentMaxBytes) return tooLarge()
        res.on("data", (d: Buffer) => {
          received += d.length
          if (received > storeDocumentMaxBytes) return tooLarge()
          chunks.push(d)
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on("error", reject)
      }),
  )
