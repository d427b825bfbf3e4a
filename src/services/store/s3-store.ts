/**
 * The S3 Layer of BackupStore: AWS S3, ODF (Ceph RGW, NooBaa), MinIO, Swift's s3api.
 *
 * Uploads: up to one part's size in one PUT, larger files as a multipart upload with
 * `partsInFlight` parts at a time, each read once for its MD5 (and payload sha256) through a
 * 1 MiB buffer and then streamed from the file as it is sent (memory does not grow with the part
 * size), each sent with Content-MD5 (the server checks it) and
 * retried with exponential backoff when the failure is transient. The sha256 of the whole file is
 * computed while reading, in order, and recorded as object metadata (`x-amz-meta-sha256`); a
 * caller's expected sha256 that differs aborts the upload. A growing file (one still being
 * written, backup-store.ts) is uploaded as its parts are written, read in a ring when the writer
 * writes one; its sha256, unknown when the upload starts, is computed the same way and returned,
 * the caller's metadata recorded instead. After the upload a HEAD checks the size and the
 * recorded sha256. A failed or interrupted multipart upload is aborted, so no parts stay behind.
 *
 * Downloads: up to one part's size in one GET stream; larger objects in ranged GETs of
 * `downloadRangeBytes`, `partsInFlight` at a time, each written at its offset into `<path>.part`
 * through a 1 MiB buffer (each retried alone), the file's sha256 computed in order on a worker
 * thread as the ranges complete (read back from the page cache); renamed to `path` only when whole.
 *
 * The local file's reads and writes are synchronous, in ~1 MiB (hashing, download) or 256 KiB
 * (sending) pieces of a regular file on a local volume: from or into the page cache, they take
 * less than the thread-pool round trip an asynchronous call costs (measured, bench/STORE-RESULTS.md).
 */
import { createHash, type Hash } from "node:crypto"
import { constants, readSync } from "node:fs"
import { open, rename, rm, stat, type FileHandle } from "node:fs/promises"
import { Cause, Effect, Exit, Layer, Option, Result } from "effect"
import type { PendingUpload, StoredObject } from "../../domain/store-layout.ts"
import { followRingBytes as ringBytesOf, partSizeFor as partSizeOf } from "../../domain/multipart-layout.ts"
import { headedObject, listedObject, listedPartTime, listedUpload } from "../../domain/s3-listing-entries.ts"
import { xmlBlocks, xmlField } from "../../domain/xml-fields.ts"
import { sseHeader, sseKmsKeyHeader, sseRequestHeaders, sseUnconfirmed } from "../../domain/server-side-encryption.ts"
import { openBackupFile } from "../backup-file.ts"
import { createFreshFile } from "../fresh-file.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { minorGc } from "../etcd/minor-gc.ts"
import { batchedFileWriter } from "./batched-file-writer.ts"
import { fileSha256Worker } from "./file-sha256-worker.ts"
import {
  BackupStore,
  type BackupStoreShape,
  type GrowingFile,
  multipartAbandonedAfterMs,
  noFolders,
  type ObjectPage,
  type PutFileOptions,
  type PutResult,
} from "./backup-store.ts"
import { describeEndpoint, responseError, s3Exchange, s3Request, type S3Endpoint, type S3Request } from "./s3-http.ts"
import { localIoFailed, StoreIntegrityFailed, StoreObjectMissing, StoreRequestFailed, type StoreError, uploadFileFailed } from "./store-errors.ts"
import { retryTransient, type RetryOptions } from "./store-retry.ts"

export interface S3TransferOptions extends RetryOptions {
  /** Bytes per part (S3: at least 5 MiB except the last, at most 10000 parts). */
  readonly partSize: number
  readonly partsInFlight: number
  /**
   * Bytes per ranged GET of a download, at least `partSize` (default 64 MiB): each request costs
   * the server a signature check and a manifest read (Swift: 4.2 CPU-s per 512 MiB in 16 MiB ranges,
   * 3.8 in 64 MiB ones, as rclone's), while the hash trails the writes by at most this times the
   * ranges in flight.
   */
  readonly downloadRangeBytes?: number | undefined
  /** Keys per listing page (S3's maximum and default: 1000). */
  readonly listPageSize?: number | undefined
  /** Called after each part of a multipart upload is stored: bytes of `key` stored so far. */
  readonly onProgress?: ((key: string, storedBytes: number, totalBytes: number) => void) | undefined
}

interface HeadAnswer {
  readonly object: StoredObject
  readonly encryption: { readonly algorithm: string | undefined; readonly kmsKeyId: string | undefined }
}

export const defaultTransferOptions: S3TransferOptions = { partSize: 16 * 1024 * 1024, partsInFlight: 4, retries: 5, retryBaseMs: 250 }

/** How long a failed multipart upload's abort may take, retries included. */
export const abortWithinMs = 10_000

/** Bytes read at a time for a part's digests (and a download's sha256). */
const readChunkBytes = 1024 * 1024
/** Downloaded bytes between two young-generation collections (8 MiB: as the snapshot stream, measured there). */
const gcEveryBytes = 8 * 1024 * 1024
/** Downloaded bytes written to the file at a time, through one buffer per range in flight. */
const writeBatchBytes = 1024 * 1024
const md5Base64 = (b: Uint8Array) => createHash("md5").update(b).digest("base64")
const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const shaHeader = "x-amz-meta-sha256"
const metadataHeaders = (sha256: string | undefined, growing: GrowingFile | undefined): Record<string, string> =>
  sha256 !== undefined
    ? { [shaHeader]: sha256 }
    : Object.fromEntries(Object.entries(growing?.metadata ?? {}).map(([name, value]) => [`x-amz-meta-${name.toLowerCase()}`, value]))

export const makeS3Store = (endpoint: S3Endpoint, options: S3TransferOptions = defaultTransferOptions): BackupStoreShape => {
  const store = describeEndpoint(endpoint)
  const retrying = retryTransient(options)
  const request = (req: S3Request) => retrying(s3Request(endpoint, req))

  /**
   * AbortMultipartUpload, retried: a repeat that finds no upload (NoSuchUpload) after an attempt whose
   * answer was lost (a reset, a timeout) finds it aborted by that attempt, so it is done. A first
   * attempt's NoSuchUpload fails: the upload was gone before this abort (`abortUpload` takes that as done).
   */
  const abortMultipart = (key: string, uploadId: string) =>
    Effect.suspend(() => {
      let attempts = 0
      return retrying(
        Effect.suspend(() => {
          attempts++
          return s3Request(endpoint, { operation: "AbortMultipartUpload", method: "DELETE", key, query: { uploadId } })
        }),
      ).pipe(
        Effect.asVoid,
        Effect.catchIf(
          (e) => attempts > 1 && e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload",
          () => Effect.void,
        ),
      )
    })

  /** The object under `key` and how the store says it is encrypted; `undefined` when there is none. */
  const headAnswer = (key: string): Effect.Effect<HeadAnswer | undefined, StoreError> =>
    request({ operation: "HEAD", method: "HEAD", key }).pipe(
      Effect.flatMap((r) => {
        const text = (name: string) => (typeof r.headers[name] === "string" ? r.headers[name] : undefined)
        return Result.match(headedObject(key, { contentLength: text("content-length"), lastModified: text("last-modified"), sha256: text(shaHeader) }), {
          onSuccess: (object): Effect.Effect<HeadAnswer | undefined, StoreRequestFailed> =>
            Effect.succeed({ object, encryption: { algorithm: text(sseHeader), kmsKeyId: text(sseKmsKeyHeader) } }),
          onFailure: (problem) =>
            Effect.fail(
              new StoreRequestFailed({
                store,
                operation: "HEAD",
                key,
                status: r.status,
                code: "MalformedAnswer",
                retryable: false,
                message: `${store} answered HEAD ${key} with headers S3 would not send (${problem}): is the endpoint an S3 API, or does a proxy in between drop headers?`,
              }),
            ),
        })
      }),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
    )

  const head = (key: string): Effect.Effect<StoredObject | undefined, StoreError> => Effect.map(headAnswer(key), (a) => a?.object)

  /**
   * The HEAD after an upload: the store holds `size` bytes with our sha256 under `key`, encrypted as asked. An object the
   * store did not encrypt as asked is removed: it must not stay in the clear where encryption was required.
   */
  const checkStored = (key: string, size: number, sha256: string): Effect.Effect<PutResult, StoreError> =>
    Effect.gen(function* () {
      const answer = yield* headAnswer(key)
      const h = answer?.object
      const found = h?.size ?? -1
      if (found !== size) {
        return yield* new StoreIntegrityFailed({
          store,
          key,
          check: "size",
          expected: String(size),
          found: String(found),
          message:
            h === undefined
              ? `${key} is not in ${store} after its upload of ${size} bytes was acknowledged (a HEAD finds no object): the store lost the write, or answers reads from elsewhere (a replica behind, another server behind the endpoint)`
              : `${key} in ${store} holds ${found} bytes after the upload of ${size}`,
        })
      }
      if (h?.sha256 !== undefined && h.sha256 !== sha256) {
        return yield* new StoreIntegrityFailed({
          store,
          key,
          check: "sha256",
          expected: sha256,
          found: h.sha256,
          message: `${key} in ${store} records sha256 ${h.sha256} after the upload of ${sha256}`,
        })
      }
      const sse = endpoint.serverSideEncryption
      const unconfirmed = sse === undefined || answer === undefined ? undefined : sseUnconfirmed(sse, answer.encryption)
      if (sse !== undefined && unconfirmed !== undefined) {
        yield* request({ operation: "DELETE", method: "DELETE", key }).pipe(
          Effect.catch((e) => Effect.logWarning(`could not remove ${key}, stored without the encryption asked for: ${e.message}; remove it by hand`)),
        )
        return yield* new StoreIntegrityFailed({
          store,
          key,
          check: "encryption",
          expected: sse.algorithm,
          found: answer?.encryption.algorithm ?? "none",
          message: `${key} was stored in ${store} but ${unconfirmed}: it was removed again; use a store that encrypts (or drop --s3-sse)`,
        })
      }
      return { key, size, sha256 }
    })

  /**
   * Whether the object under `key` is the one a multipart upload of parts with these ETags makes:
   * its ETag is the MD5 of the parts' MD5s, then `-<parts>` (AWS, Swift, MinIO, Ceph). Parts whose
   * ETags are no MD5 (AWS's SSE-KMS) prove nothing.
   */
  const completedFrom = (key: string, partEtags: ReadonlyArray<string>): Effect.Effect<boolean, StoreError> => {
    const md5s = partEtags.map((e) => e.replace(/"/g, ""))
    if (!md5s.every((m) => /^[0-9a-f]{32}$/i.test(m))) return Effect.succeed(false)
    const expected = `${createHash("md5")
      .update(Buffer.concat(md5s.map((m) => Buffer.from(m, "hex"))))
      .digest("hex")}-${md5s.length}`
    return request({ operation: "HEAD", method: "HEAD", key }).pipe(
      Effect.map(
        (r) =>
          String(r.headers.etag ?? "")
            .replace(/"/g, "")
            .toLowerCase() === expected,
      ),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(false)),
    )
  }

  const putSingle = (key: string, bytes: Uint8Array, sha256: string) =>
    request({
      operation: "PUT",
      method: "PUT",
      key,
      body: bytes,
      headers: {
        "content-md5": md5Base64(bytes),
        [shaHeader]: sha256,
        "content-type": "application/octet-stream",
        ...sseRequestHeaders(endpoint.serverSideEncryption),
      },
    }).pipe(Effect.andThen(checkStored(key, bytes.byteLength, sha256)))

  const putBytes = (key: string, bytes: Uint8Array) => putSingle(key, bytes, sha256Hex(bytes))

  const partSizeFor = (size: number) => partSizeOf(size, options.partSize)

  /** A multipart upload of a growing file reads it in a ring of one part more than it has in flight. */
  const followRingBytes = (size: number) => ringBytesOf(size, options.partSize, options.partsInFlight)

  const shrank = (path: string) => Object.assign(new Error(`${path} shrank while uploading`), { code: "ESHRUNK" })
  const ioFailed = (path: string, operation: string) => (e: unknown) => localIoFailed(path, operation, e)
  const readAt = (fh: FileHandle, path: string, buf: Buffer, length: number, position: number) =>
    Effect.try({ try: () => readSync(fh.fd, buf, 0, length, position), catch: ioFailed(path, "read") }).pipe(
      Effect.flatMap((bytesRead) => (bytesRead === length ? Effect.succeed(buf.subarray(0, length)) : Effect.fail(localIoFailed(path, "read", shrank(path))))),
    )

  /** Feeds bytes `from` to `to` of the file to `hash`, read through `buf`. */
  const hashRange = (fh: FileHandle, path: string, hash: Hash, buf: Buffer, from: number, to: number) =>
    Effect.gen(function* () {
      for (let at = from; at < to; at += buf.length) hash.update(yield* readAt(fh, path, buf, Math.min(buf.length, to - at), at))
    })

  const fileSha256 = (fh: FileHandle, path: string, size: number) =>
    Effect.gen(function* () {
      const hash = createHash("sha256")
      yield* hashRange(fh, path, hash, Buffer.allocUnsafe(Math.min(readChunkBytes, Math.max(size, 1))), 0, size)
      return hash.digest("hex")
    })

  const shaMismatch = (key: string, path: string, expected: string, found: string) =>
    new StoreIntegrityFailed({
      store,
      key,
      check: "sha256",
      expected,
      found,
      message: `${path} has sha256 ${found}, not ${expected} as expected: nothing stored under ${key}`,
    })

  /**
   * `sha256`, when known before the upload starts, is recorded as metadata and must be the file's;
   * a growing file's is computed on the way (its `metadata` recorded instead) and returned.
   */
  const multipart = (key: string, path: string, fh: FileHandle, size: number, sha256: string | undefined, growing?: GrowingFile) =>
    Effect.gen(function* () {
      const partSize = partSizeFor(size)
      const count = Math.ceil(size / partSize)
      const ring = growing?.ring
      if (ring !== undefined && ring.bytes % partSize !== 0)
        return yield* Effect.die(new Error(`a ring of ${ring.bytes} bytes is not a whole number of ${partSize}-byte parts`))
      // Where byte `n` of the object is in the file: a ring's parts never wrap, its size being a whole number of parts.
      const at = (n: number) => (ring === undefined ? n : n % ring.bytes)
      const stored = new Set<number>()
      let releasedParts = 0
      const partStored = (i: number) => {
        stored.add(i)
        while (stored.delete(releasedParts)) releasedParts++
        ring?.release(Math.min(size, releasedParts * partSize))
      }
      const init = yield* request({
        operation: "CreateMultipartUpload",
        method: "POST",
        key,
        query: { uploads: "" },
        headers: { ...metadataHeaders(sha256, growing), "content-type": "application/octet-stream", ...sseRequestHeaders(endpoint.serverSideEncryption) },
      })
      const uploadId = xmlField(init.body.toString("utf8"), "UploadId")
      if (uploadId === undefined) {
        return yield* new StoreRequestFailed({
          store,
          operation: "CreateMultipartUpload",
          key,
          status: init.status,
          code: "NoUploadId",
          retryable: false,
          message: `${store} answered CreateMultipartUpload of ${key} without an UploadId`,
        })
      }
      const upload = Effect.gen(function* () {
        const inFlight = Math.min(options.partsInFlight, count)
        // Each part is read twice (the second time from the page cache): for its digests, then as
        // it is sent. Memory is one read buffer per part in flight, whatever the part size.
        const free = Array.from({ length: inFlight }, () => Buffer.allocUnsafe(Math.min(partSize, readChunkBytes)))
        const hash = createHash("sha256")
        let hashedUpTo = 0
        const waiters = new Map<number, () => void>()
        const etags: Array<string> = []
        let storedBytes = 0
        yield* Effect.forEach(
          Array.from({ length: count }, (_, i) => i),
          (i) =>
            Effect.gen(function* () {
              const length = Math.min(partSize, size - i * partSize)
              const start = i * partSize
              const buffer = free.pop()!
              yield* Effect.addFinalizer(() => Effect.sync(() => free.push(buffer)))
              if (growing !== undefined) yield* growing.written(start + length)
              // The whole file's sha256 needs the parts in order; parts start in order, so a part
              // waits only for the few before it.
              if (hashedUpTo !== i) yield* Effect.callback<void>((resume) => void waiters.set(i, () => resume(Effect.void)))
              const md5 = createHash("md5")
              const payload = endpoint.signPayload ? createHash("sha256") : undefined
              for (let done = 0; done < length; done += buffer.length) {
                const chunk = yield* readAt(fh, path, buffer, Math.min(buffer.length, length - done), at(start + done))
                hash.update(chunk)
                md5.update(chunk)
                payload?.update(chunk)
              }
              hashedUpTo = i + 1
              waiters.get(i + 1)?.()
              waiters.delete(i + 1)
              const res = yield* request({
                operation: `UploadPart ${i + 1}/${count}`,
                method: "PUT",
                key,
                query: { partNumber: String(i + 1), uploadId },
                body: {
                  length,
                  sha256: payload?.digest("hex") ?? "",
                  read: (into, n, offset) => {
                    if (readSync(fh.fd, into, 0, n, at(start + offset)) !== n) throw shrank(path)
                  },
                  readFailed: ioFailed(path, "read"),
                },
                headers: { "content-md5": md5.digest("base64") },
              })
              etags[i] = String(res.headers.etag ?? "")
              storedBytes += length
              partStored(i)
              options.onProgress?.(key, storedBytes, size)
            }).pipe(Effect.scoped),
          { concurrency: inFlight, discard: true },
        )
        const found = hash.digest("hex")
        if (sha256 !== undefined && found !== sha256) return yield* shaMismatch(key, path, sha256, found)
        const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}</ETag></Part>`).join("")}</CompleteMultipartUpload>`
        // S3 may answer 200 and put the error in the body (AWS: "retry the request"): an error like
        // a non-2xx answer's, retried when transient (InternalError, SlowDown), the request included.
        const complete: S3Request = { operation: "CompleteMultipartUpload", method: "POST", key, query: { uploadId }, body: Buffer.from(xml) }
        let attempts = 0
        yield* retrying(
          Effect.suspend(() => {
            attempts++
            return s3Request(endpoint, complete)
          }).pipe(
            Effect.flatMap((done) => {
              const body = done.body.toString("utf8")
              return xmlField(body, "Code") === undefined ? Effect.void : Effect.fail(responseError(endpoint, complete, done.status, body))
            }),
          ),
        ).pipe(
          // A repeat finds no upload when an earlier attempt completed it and its answer was lost (a
          // reset, a timeout; some servers, MinIO among them, answer NoSuchUpload; Swift answers success again):
          // done, when the object is the one these parts make (its multipart ETag).
          Effect.catchIf(
            (e) => attempts > 1 && e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload",
            (e) => Effect.flatMap(completedFrom(key, etags), (done) => (done ? Effect.void : Effect.fail(e))),
          ),
        )
        return found
      })
      // Bounded: a store that stopped answering must not hold the failure back (nor outlast a pod's
      // 30 s termination grace period); an upload left behind is abandoned, and prune removes it.
      const abort = abortMultipart(key, uploadId).pipe(
        Effect.interruptible,
        Effect.timeout(abortWithinMs),
        Effect.catchCause((cause) => {
          const e = Cause.findErrorOption(cause)
          const why = Option.isNone(e)
            ? Cause.hasInterruptsOnly(cause)
              ? "interrupted"
              : Cause.pretty(cause)
            : e.value._tag === "TimeoutError"
              ? `no answer within ${abortWithinMs / 1000} s`
              : e.value._tag === "StoreRequestFailed" && e.value.code === "NoSuchUpload"
                ? "the store knows no such upload (NoSuchUpload): it was completed or aborted before this abort"
                : e.value.message
          return Effect.logWarning(
            `could not abort the multipart upload ${uploadId} of ${key} in ${store} (${why}): its parts may stay in the store; prune removes an upload left there once older than --leftover-grace`,
          )
        }),
      )
      const found = yield* upload.pipe(Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : abort)))
      return yield* checkStored(key, size, found)
    })

  const putFile = (key: string, path: string, putOptions?: PutFileOptions) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => openBackupFile(path, putOptions?.maxBytes), catch: (e) => uploadFileFailed(path, "open", e) }),
      (opened) =>
        Effect.gen(function* () {
          const growing = putOptions?.growing
          const size = growing?.size ?? opened.size
          const fh = opened.handle
          if (size <= options.partSize) {
            if (growing !== undefined) yield* growing.written(size)
            const bytes = yield* readAt(fh, path, Buffer.allocUnsafe(size), size, 0)
            const found = sha256Hex(bytes)
            if (putOptions?.sha256 !== undefined && putOptions.sha256 !== found) return yield* shaMismatch(key, path, putOptions.sha256, found)
            return yield* putSingle(key, bytes, found)
          }
          if (growing !== undefined) return yield* multipart(key, path, fh, size, putOptions?.sha256, growing)
          // The sha256 goes into the metadata when the upload starts: known, or read once first.
          const sha256 = putOptions?.sha256 ?? (yield* fileSha256(fh, path, size))
          return yield* multipart(key, path, fh, size, sha256)
        }),
      ({ handle }) => Effect.promise(() => handle.close()),
    )

  const getBytes = (key: string) => request({ operation: "GET", method: "GET", key }).pipe(Effect.map((r) => new Uint8Array(r.body)))

  /** A ranged GET of the object's first `bytes`; the response is cut there, so a server that ignores Range sends no more. */
  const getStart = (key: string, bytes: number) =>
    retrying(
      s3Exchange(
        endpoint,
        { operation: `GET bytes 0-${bytes - 1}`, method: "GET", key, headers: { range: `bytes=0-${bytes - 1}` } },
        (res) =>
          new Promise<Uint8Array>((resolve, reject) => {
            const chunks: Array<Buffer> = []
            let received = 0
            const done = () => resolve(new Uint8Array(Buffer.concat(chunks).subarray(0, bytes)))
            res.on("data", (d: Buffer) => {
              chunks.push(d)
              received += d.length
              // A 206 is the range asked for, read to its end so its connection is kept; a 200 (Range ignored) is cut.
              if (received < bytes || res.statusCode === 206) return
              res.destroy()
              done()
            })
            res.on("error", reject)
            res.on("end", done)
          }),
      ),
    )

  // Every response chunk is a fresh buffer outside the JS heap, freed only by V8's next collection,
  // which their size alone does not trigger before tens of MiB pile up: collect every few MiB, as
  // the snapshot stream does (services/etcd/minor-gc.ts).
  let receivedSinceGc = 0
  const collectAfter = (bytes: number) => {
    receivedSinceGc += bytes
    if (receivedSinceGc < gcEveryBytes) return
    receivedSinceGc = 0
    minorGc()
  }

  /** Writes the bytes of one range response at their offsets in `fh`, in ~1 MiB batches. */
  const getRange = (key: string, fh: FileHandle, part: string, from: number, length: number, buffer: Uint8Array) =>
    s3Exchange(
      endpoint,
      { operation: `GET bytes ${from}-${from + length - 1}`, method: "GET", key, headers: { range: `bytes=${from}-${from + length - 1}` } },
      (res) =>
        new Promise<void>((resolve, reject) => {
          // A server that ignores Range answers 200 with the whole object: written at this range's offset it would
          // overwrite the others, and every retry would do the same.
          if (res.statusCode !== 206) {
            res.destroy()
            return reject(
              new StoreRequestFailed({
                store,
                operation: `GET bytes ${from}-${from + length - 1}`,
                key,
                status: res.statusCode ?? 0,
                code: "RangeNotHonoured",
                retryable: false,
                message: `${store} answered a ranged GET of ${key} with HTTP ${res.statusCode} instead of 206 Partial Content: it does not serve byte ranges, which downloads of objects over ${formatBytes(options.partSize)} (the part size) use; use an S3 server that does (all of AWS, Ceph RGW, MinIO, Swift's s3api do)`,
              }),
            )
          }
          const writer = batchedFileWriter(fh.fd, from, buffer)
          const failed = (e: unknown) => {
            res.destroy()
            reject(localIoFailed(part, "write", e))
          }
          res.on("data", (d: Buffer) => {
            collectAfter(d.length)
            try {
              writer.push(d)
            } catch (e) {
              failed(e)
            }
          })
          res.on("error", reject)
          res.on("end", () => {
            try {
              const received = writer.end()
              if (received === length) resolve()
              else reject(Object.assign(new Error(`range ${from}-${from + length - 1}: ${received} bytes`), { code: "ECONNRESET" }))
            } catch (e) {
              failed(e)
            }
          })
        }),
    )

  /** Large objects: `partsInFlight` ranged GETs at a time into the part file; each range, once it and those before it are written, is hashed. */
  const getRanged = (key: string, part: string, size: number) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => createFreshFile(part, 0o600, constants.O_RDWR), catch: ioFailed(part, "create") }),
      (fh) =>
        Effect.gen(function* () {
          const rangeBytes = Math.max(options.partSize, options.downloadRangeBytes ?? 64 * 1024 * 1024)
          const count = Math.ceil(size / rangeBytes)
          const hasher = yield* fileSha256Worker(part)
          const buffers = Array.from({ length: Math.min(options.partsInFlight, count) }, () => Buffer.allocUnsafeSlow(writeBatchBytes))
          const written = new Set<number>()
          let hashedUpTo = 0
          const hashWritten = (i: number) => {
            written.add(i)
            for (; written.delete(hashedUpTo); hashedUpTo++) hasher.feed(hashedUpTo * rangeBytes, Math.min(size, (hashedUpTo + 1) * rangeBytes))
          }
          yield* Effect.forEach(
            Array.from({ length: count }, (_, i) => i),
            (i) =>
              Effect.acquireUseRelease(
                Effect.sync(() => buffers.pop()!),
                (buffer) => retrying(getRange(key, fh, part, i * rangeBytes, Math.min(rangeBytes, size - i * rangeBytes), buffer)),
                (buffer) => Effect.sync(() => buffers.push(buffer)),
              ).pipe(Effect.andThen(Effect.sync(() => hashWritten(i)))),
            { concurrency: options.partsInFlight, discard: true },
          )
          // Not flushed range by range as they complete: an fdatasync under way stalls the event
          // loop's synchronous writes to the same file (measured: 512 MiB in 11.3-12.3 s instead of 8.0-8.8).
          const flush = Effect.tryPromise({ try: () => fh.sync(), catch: ioFailed(part, "flush") })
          const [sha256] = yield* Effect.all([hasher.digest, flush], { concurrency: 2 })
          return { key, size, sha256 }
        }).pipe(Effect.scoped),
      (fh) => Effect.promise(() => fh.close()),
    )

  const getFile = (key: string, path: string): Effect.Effect<PutResult, StoreError> =>
    head(key).pipe(
      Effect.flatMap((h) =>
        h === undefined
          ? Effect.fail(new StoreObjectMissing({ store, key, message: `${key} is not in ${store}` }))
          : h.size > options.partSize
            ? getRanged(key, `${path}.part`, h.size).pipe(
                Effect.flatMap((result) =>
                  Effect.tryPromise({ try: () => rename(`${path}.part`, path).then(() => result), catch: ioFailed(path, "rename into place") }),
                ),
                Effect.onError(() => Effect.promise(() => rm(`${path}.part`, { force: true }))),
              )
            : getStreamed(key, path),
      ),
    )

  const getStreamed = (key: string, path: string): Effect.Effect<PutResult, StoreError> => {
    const part = `${path}.part`
    const download = s3Exchange(endpoint, { operation: "GET", method: "GET", key }, (res) => {
      // A response cut while its part file is being created emits its error only to listeners already
      // there, and piped afterwards it would never settle: it is listened to now, and looked at once the
      // file is there.
      res.on("error", () => undefined)
      return createFreshFile(part, 0o600).then(
        (handle) =>
          new Promise<PutResult>((resolve, reject) => {
            if (res.destroyed) {
              const cut = res.errored ?? Object.assign(new Error("the response ended before its body was read"), { code: "ECONNRESET" })
              return void handle.close().then(
                () => reject(cut),
                () => reject(cut),
              )
            }
            const hash = createHash("sha256")
            let size = 0
            const out = handle.createWriteStream()
            // A failed attempt's file is closed before its failure is told: none of its queued writes
            // lands in the next attempt's file (whose sha256 is the stream's, not the file's), and no
            // descriptor keeps the removed part's space.
            const fail = (e: unknown) => {
              res.destroy()
              if (out.closed) return reject(e)
              out.once("close", () => reject(e))
              out.destroy()
            }
            res.on("data", (d: Buffer) => {
              hash.update(d)
              size += d.length
            })
            res.on("error", fail)
            // A write the response's own failure stopped is that failure, which a retry may mend.
            out.on("error", (e) => fail(res.errored ?? localIoFailed(part, "write", e)))
            out.on("finish", () => resolve({ key, size, sha256: hash.digest("hex") }))
            res.pipe(out)
          }),
        (e: unknown) => {
          res.destroy()
          throw localIoFailed(part, "create", e)
        },
      )
    })
    return retrying(download).pipe(
      Effect.flatMap((result) =>
        Effect.tryPromise({
          try: async () => {
            const fh = await open(part, "r+")
            await fh.sync().finally(() => fh.close())
            if ((await stat(part)).size !== result.size) throw Object.assign(new Error("short write"), { code: "EIO" })
            await rename(part, path)
            return result
          },
          catch: ioFailed(part, "finish the download into"),
        }),
      ),
      Effect.onError(() => Effect.promise(() => rm(part, { force: true }))),
    )
  }

  /**
   * The body of a listing, when it is the listing asked for: an endpoint that is not S3 (a web page,
   * a proxy's login form) answers 200 too, and read as a listing it would be an empty store (list
   * showing nothing, prune finding nothing to keep).
   */
  const listing = (operation: string, root: string, status: number, body: Buffer): Effect.Effect<string, StoreRequestFailed> => {
    const xml = body.toString("utf8")
    return new RegExp(`<${root}[\\s>]`).test(xml)
      ? Effect.succeed(xml)
      : Effect.fail(
          new StoreRequestFailed({
            store,
            operation,
            key: "",
            status,
            code: "NotAListing",
            retryable: false,
            message: `${store} answered ${operation} (HTTP ${status}) with something that is not an S3 ${root} (it begins ${JSON.stringify(xml.slice(0, 60))}): is the endpoint an S3 API, and the bucket's address right?`,
          }),
        )
  }

  /**
   * A listing that says it continues but gives nothing to continue from (a server answering another
   * version of the call): ending there would show a store cut short as whole, to list and to prune.
   */
  const paginationBroken = (operation: string, status: number, what: string) =>
    new StoreRequestFailed({
      store,
      operation,
      key: "",
      status,
      code: "BrokenPagination",
      retryable: false,
      message: `${store} answered ${operation} with a truncated page and ${what}: the rest of the listing cannot be asked for; is the endpoint an S3 API supporting ${operation}?`,
    })

  /** A listing's entries, read by `read`; one that is not S3's refuses the whole listing (domain/s3-listing-entries.ts). */
  const listedEntries = <A>(
    operation: string,
    status: number,
    blocks: ReadonlyArray<string>,
    read: (block: string) => Result.Result<A, string>,
  ): Effect.Effect<Array<A>, StoreRequestFailed> =>
    Effect.forEach(blocks, (block) =>
      Result.match(read(block), {
        onSuccess: (entry) => Effect.succeed(entry),
        onFailure: (problem) =>
          Effect.fail(
            new StoreRequestFailed({
              store,
              operation,
              key: "",
              status,
              code: "MalformedListing",
              retryable: false,
              message: `${store} answered ${operation} with an entry S3 would not write (${problem}, in ${JSON.stringify(block.slice(0, 200))}): is the endpoint an S3 API?`,
            }),
          ),
      }),
    )

  const listPage = (prefix: string, next?: string): Effect.Effect<ObjectPage, StoreError> =>
    request({
      operation: "ListObjectsV2",
      method: "GET",
      key: "",
      query: {
        "list-type": "2",
        prefix,
        ...(options.listPageSize === undefined ? {} : { "max-keys": String(options.listPageSize) }),
        ...(next === undefined ? {} : { "continuation-token": next }),
      },
    }).pipe(
      Effect.flatMap((r) =>
        listing("ListObjectsV2", "ListBucketResult", r.status, r.body).pipe(
          Effect.filterOrFail(
            (xml) => xmlField(xml, "IsTruncated") !== "true" || (xmlField(xml, "NextContinuationToken") ?? "") !== "",
            () => paginationBroken("ListObjectsV2", r.status, "no continuation token"),
          ),
          Effect.map((xml) => ({ status: r.status, xml })),
        ),
      ),
      Effect.flatMap(({ status, xml }) =>
        Effect.map(listedEntries("ListObjectsV2", status, xmlBlocks(xml, "Contents"), listedObject), (objects) => {
          const truncated = xmlField(xml, "IsTruncated") === "true"
          return { objects, next: truncated ? xmlField(xml, "NextContinuationToken") : undefined }
        }),
      ),
    )

  const remove = (key: string) =>
    request({ operation: "DELETE", method: "DELETE", key }).pipe(
      Effect.asVoid,
      Effect.catchTag("StoreObjectMissing", () => Effect.void),
    )

  const pendingUploads = (prefix: string): Effect.Effect<ReadonlyArray<PendingUpload>, StoreError> =>
    Effect.gen(function* () {
      const all: Array<PendingUpload> = []
      let markers: Record<string, string> = {}
      for (;;) {
        const r = yield* request({ operation: "ListMultipartUploads", method: "GET", key: "", query: { uploads: "", prefix, ...markers } })
        const xml = yield* listing("ListMultipartUploads", "ListMultipartUploadsResult", r.status, r.body)
        const listed = yield* listedEntries("ListMultipartUploads", r.status, xmlBlocks(xml, "Upload"), listedUpload)
        all.push(...listed.map((u) => ({ ...u, abandonedAfterMs: multipartAbandonedAfterMs })))
        if (xmlField(xml, "IsTruncated") !== "true") return all
        const next = { "key-marker": xmlField(xml, "NextKeyMarker") ?? "", "upload-id-marker": xmlField(xml, "NextUploadIdMarker") ?? "" }
        if (next["key-marker"] === "" || (next["key-marker"] === markers["key-marker"] && next["upload-id-marker"] === markers["upload-id-marker"]))
          return yield* paginationBroken("ListMultipartUploads", r.status, "no next marker past the last one")
        markers = next
      }
    })

  const abortUpload = (u: PendingUpload) =>
    abortMultipart(u.key, u.uploadId).pipe(
      Effect.catchTag("StoreObjectMissing", () => Effect.void),
      Effect.catchIf(
        (e) => e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload",
        () => Effect.void,
      ),
      Effect.as(true),
    )

  const uploadActiveAt = (u: PendingUpload): Effect.Effect<number | undefined, StoreError> =>
    Effect.gen(function* () {
      let newest = u.initiatedAt
      let marker: string | undefined
      for (;;) {
        const r = yield* request({
          operation: "ListParts",
          method: "GET",
          key: u.key,
          query: { uploadId: u.uploadId, ...(marker === undefined ? {} : { "part-number-marker": marker }) },
        })
        const xml = yield* listing("ListParts", "ListPartsResult", r.status, r.body)
        for (const at of yield* listedEntries("ListParts", r.status, xmlBlocks(xml, "Part"), listedPartTime)) newest = Math.max(newest, at)
        if (xmlField(xml, "IsTruncated") !== "true") return newest
        const next = xmlField(xml, "NextPartNumberMarker") ?? ""
        if (next === "" || next === marker) return yield* paginationBroken("ListParts", r.status, "no next part number marker past the last one")
        marker = next
      }
    }).pipe(
      // Completed or aborted since it was listed: no longer pending.
      Effect.catchIf(
        (e) => e._tag === "StoreObjectMissing" || (e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload"),
        () => Effect.succeed(undefined),
      ),
    )

  // Object storage reports no free space (a bucket's quota is not part of S3's API).
  const freeBytes = Effect.succeed(undefined)

  return {
    location: store,
    putFile,
    followRingBytes,
    putBytes,
    freeBytes,
    getFile,
    getBytes,
    getStart,
    head,
    listPage,
    remove,
    pendingUploads,
    abortUpload,
    uploadActiveAt,
    ...noFolders,
  }
}

/** The S3 Layer. */
export const s3StoreLayer = (endpoint: S3Endpoint, options: S3TransferOptions = defaultTransferOptions): Layer.Layer<BackupStore> =>
  Layer.succeed(BackupStore, BackupStore.of(makeS3Store(endpoint, options)))
