/**
 * Downloads from S3: up to one part's size in one GET stream; larger objects in ranged GETs of
 * `downloadRangeBytes`, `partsInFlight` at a time, each written at its offset into `<path>.part`
 * through a 1 MiB buffer (each retried alone), the file's sha256 computed in order on a worker
 * thread as the ranges complete (read back from the page cache); renamed to `path` only when whole.
 *
 * The local file is written synchronously, in ~1 MiB pieces of a regular file on a local volume:
 * into the page cache, a write takes less than the thread-pool round trip an asynchronous call
 * costs (measured, bench/STORE-RESULTS.md).
 */
import { createHash } from "node:crypto"
import { constants } from "node:fs"
import { type FileHandle, open, rename, rm, stat } from "node:fs/promises"
import { Effect } from "effect"
import { formatBytes } from "../../domain/byte-format.ts"
import { minorGc } from "../etcd/minor-gc.ts"
import { createFreshFile } from "../fresh-file.ts"
import type { PutResult } from "./backup-store.ts"
import { batchedFileWriter } from "./batched-file-writer.ts"
import { fileSha256Worker } from "./file-sha256-worker.ts"
import type { S3Client } from "./s3-client.ts"
import { s3Exchange } from "./s3-http.ts"
import { pacedTransform } from "./transfer-pacer.ts"
import type { S3Head } from "./s3-object-head.ts"
import { localIoFailed, localIoFailedOn, type StoreError, StoreObjectMissing, StoreRequestFailed } from "./store-errors.ts"

/** Downloaded bytes between two young-generation collections (8 MiB: as the snapshot stream, measured there). */
const gcEveryBytes = 8 * 1024 * 1024
/** Downloaded bytes written to the file at a time, through one buffer per range in flight. */
const writeBatchBytes = 1024 * 1024

export const makeS3Downloads = ({ endpoint, options, store, retrying, request }: S3Client, { head }: S3Head) => {
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
            // With a bandwidth limit, the next bytes are read once the pacer gives these.
            if (endpoint.pacer === undefined) return
            res.pause()
            void endpoint.pacer.take(d.length).then(() => {
              if (!res.destroyed) res.resume()
            })
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
      Effect.tryPromise({ try: () => createFreshFile(part, 0o600, constants.O_RDWR), catch: localIoFailedOn(part, "create") }),
      (fh) =>
        Effect.gen(function* () {
          const rangeBytes = Math.max(options.partSize, options.downloadRangeBytes ?? 64 * 1024 * 1024)
          const count = Math.ceil(size / rangeBytes)
          const hasher = yield* fileSha256Worker(part)
          const buffers = Array.from({ length: Math.min(options.partsInFlight, count) }, () => Buffer.allocUnsafeSlow(writeBatchBytes))
          const written = new Set<number>()
          let hashedUpTo = 0
          let downloaded = 0
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
              ).pipe(
                Effect.andThen(
                  Effect.sync(() => {
                    hashWritten(i)
                    downloaded += Math.min(rangeBytes, size - i * rangeBytes)
                    options.onProgress?.(key, downloaded, size)
                  }),
                ),
              ),
            { concurrency: options.partsInFlight, discard: true },
          )
          // Not flushed range by range as they complete: an fdatasync under way stalls the event
          // loop's synchronous writes to the same file (measured: 512 MiB in 11.3-12.3 s instead of 8.0-8.8).
          const flush = Effect.tryPromise({ try: () => fh.sync(), catch: localIoFailedOn(part, "flush") })
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
                  Effect.tryPromise({ try: () => rename(`${path}.part`, path).then(() => result), catch: localIoFailedOn(path, "rename into place") }),
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
            if (endpoint.pacer === undefined) res.pipe(out)
            else res.pipe(pacedTransform(endpoint.pacer)).pipe(out)
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
          catch: localIoFailedOn(part, "finish the download into"),
        }),
      ),
      Effect.onError(() => Effect.promise(() => rm(part, { force: true }))),
    )
  }

  return { getFile, getBytes, getStart }
}
