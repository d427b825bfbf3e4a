/**
 * Uploads to S3: up to one part's size in one PUT, larger files as a multipart upload with
 * `partsInFlight` parts at a time, each read once for its MD5 (and payload sha256) through a
 * 1 MiB buffer and then streamed from the file as it is sent (memory does not grow with the part
 * size), each sent with Content-MD5 (the server checks it) and
 * retried with exponential backoff when the failure is transient. The sha256 of the whole file is
 * computed while reading, in order, and recorded as object metadata (`x-amz-meta-sha256`); a
 * caller's expected sha256 that differs aborts the upload. A growing file (one still being
 * written, backup-store.ts) is uploaded as its parts are written, read in a ring when the writer
 * writes one; its sha256, unknown when the upload starts, is computed the same way and returned,
 * the caller's metadata recorded instead. After the upload a HEAD checks the size, the
 * recorded sha256 and the server-side encryption asked for. A failed or interrupted multipart upload is aborted, so no parts stay behind.
 *
 * The local file is read synchronously, in ~1 MiB (hashing) or 256 KiB (sending) pieces of a
 * regular file on a local volume: from the page cache, a read takes less than the thread-pool
 * round trip an asynchronous call costs (measured, bench/STORE-RESULTS.md).
 */
import { createHash, type Hash } from "node:crypto"
import { readSync } from "node:fs"
import type { FileHandle } from "node:fs/promises"
import { Cause, Effect, Exit, Option } from "effect"
import { followRingBytes as ringBytesOf, partSizeFor as partSizeOf } from "../../domain/multipart-layout.ts"
import { sseRequestHeaders, sseUnconfirmed } from "../../domain/server-side-encryption.ts"
import { xmlField } from "../../domain/xml-fields.ts"
import { openBackupFile } from "../backup-file.ts"
import type { GrowingFile, PutFileOptions, PutResult } from "./backup-store.ts"
import type { S3Client } from "./s3-client.ts"
import { responseError, type S3Request, s3Request } from "./s3-http.ts"
import { abortMultipart } from "./s3-multipart-uploads.ts"
import { type S3Head, sha256MetadataHeader } from "./s3-object-head.ts"
import { localIoFailed, localIoFailedOn, type StoreError, StoreIntegrityFailed, StoreRequestFailed, uploadFileFailed } from "./store-errors.ts"

/** How long a failed multipart upload's abort may take, retries included. */
export const abortWithinMs = 10_000

/** Bytes read at a time for a part's digests (and a file's sha256). */
const readChunkBytes = 1024 * 1024
const md5Base64 = (b: Uint8Array) => createHash("md5").update(b).digest("base64")
const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const metadataHeaders = (sha256: string | undefined, growing: GrowingFile | undefined): Record<string, string> =>
  sha256 !== undefined
    ? { [sha256MetadataHeader]: sha256 }
    : Object.fromEntries(Object.entries(growing?.metadata ?? {}).map(([name, value]) => [`x-amz-meta-${name.toLowerCase()}`, value]))

const shrank = (path: string) => Object.assign(new Error(`${path} shrank while uploading`), { code: "ESHRUNK" })
const readAt = (fh: FileHandle, path: string, buf: Buffer, length: number, position: number) =>
  Effect.try({ try: () => readSync(fh.fd, buf, 0, length, position), catch: localIoFailedOn(path, "read") }).pipe(
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

export const makeS3Uploads = (client: S3Client, { headAnswer }: S3Head) => {
  const { endpoint, options, store, retrying, request } = client

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
        [sha256MetadataHeader]: sha256,
        "content-type": "application/octet-stream",
        ...sseRequestHeaders(endpoint.serverSideEncryption),
      },
    }).pipe(Effect.andThen(checkStored(key, bytes.byteLength, sha256)))

  const putBytes = (key: string, bytes: Uint8Array) => putSingle(key, bytes, sha256Hex(bytes))

  const partSizeFor = (size: number) => partSizeOf(size, options.partSize)

  /** A multipart upload of a growing file reads it in a ring of one part more than it has in flight. */
  const followRingBytes = (size: number) => ringBytesOf(size, options.partSize, options.partsInFlight)

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
                  readFailed: localIoFailedOn(path, "read"),
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
      const abort = abortMultipart(client, key, uploadId).pipe(
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

  return { putFile, putBytes, followRingBytes }
}
