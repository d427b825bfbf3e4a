/**
 * The in-memory Layer of BackupStore, for unit tests: objects in a Map, with fault injection.
 * Before each request `faults` may fail it (a 5xx, a refused connection) or delay it (a slow
 * server); requests are retried with the same policy as the S3 Layer's, so programs meet the
 * faults that survive retrying, as they would against a real store. Puts are all or nothing.
 */
import { createHash } from "node:crypto"
import { rename } from "node:fs/promises"
import { Effect, Layer } from "effect"
import type { StoreVersioning } from "../../domain/bucket-versioning.ts"
import { compareKeys, type PendingUpload, type StoredObject } from "../../domain/store-layout.ts"
import { readBackupFileBytes } from "../backup-file.ts"
import { createFreshFile } from "../fresh-file.ts"
import { BackupStore, type BackupStoreShape, multipartAbandonedAfterMs, noFolders, type ObjectPage } from "./backup-store.ts"
import { backupFileFailed, localIoFailed, StoreIntegrityFailed, StoreObjectMissing, StoreRequestFailed, type StoreError } from "./store-errors.ts"
import { retryTransient, type RetryOptions } from "./store-retry.ts"

export interface MemoryObject {
  readonly bytes: Uint8Array
  readonly modifiedAt: number
  readonly sha256: string
}

/** Runs before each request: fail it, delay it, or let it through. */
export type FaultInjector = (operation: string, key: string) => Effect.Effect<void, StoreError>

export interface MemoryStoreOptions {
  readonly faults?: FaultInjector
  readonly retry?: RetryOptions
  readonly now?: () => number
  readonly pageSize?: number
  /** The bytes the store holds at most (a volume's size): `freeBytes` reports what is left, and a put past it fails with ENOSPC. Unlimited by default. */
  readonly capacityBytes?: number
  /** A quota, as object storage has one (Ceph RGW's): not reported, a put past it refused with 403 QuotaExceeded. Unlimited by default. */
  readonly quotaBytes?: number
  /** What the store says of its removals (a versioned bucket's); unversioned by default. */
  readonly versioning?: StoreVersioning
}

export interface MemoryStore extends BackupStoreShape {
  /** The objects, by key: tests inspect and edit them directly. */
  readonly objects: Map<string, MemoryObject>
  readonly uploads: Map<string, PendingUpload>
  /** When an upload (by id) last stored a part, as S3's ListParts tells it; its start when it has none. */
  readonly uploadParts: Map<string, number>
}

const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const store = "memory://"

/** A retryable 503, as a store under load answers. */
export const unavailable = (operation: string, key: string) =>
  new StoreRequestFailed({
    store,
    operation,
    key,
    status: 503,
    code: "ServiceUnavailable",
    retryable: true,
    message: `${operation} ${key}: ServiceUnavailable (HTTP 503, injected)`,
  })

/** Faults drawn from `random` (in [0, 1)): each request fails with `failureRate`, else waits up to `maxDelayMs`. */
export const randomFaults =
  (random: () => number, failureRate: number, maxDelayMs: number): FaultInjector =>
  (operation, key) =>
    Effect.suspend(() => {
      if (random() < failureRate) return Effect.fail(unavailable(operation, key))
      const delay = Math.floor(random() * maxDelayMs)
      return delay > 0 ? Effect.sleep(delay) : Effect.void
    })

export const makeMemoryStore = (options: MemoryStoreOptions = {}): MemoryStore => {
  const objects = new Map<string, MemoryObject>()
  const uploads = new Map<string, PendingUpload>()
  const uploadParts = new Map<string, number>()
  const now = options.now ?? Date.now
  const faults = options.faults ?? (() => Effect.void)
  const pageSize = options.pageSize ?? 1000
  const request = <A>(operation: string, key: string, effect: Effect.Effect<A, StoreError>) =>
    retryTransient(options.retry ?? { retries: 5, retryBaseMs: 0 })(faults(operation, key).pipe(Effect.andThen(effect)))

  // What pending uploads hold takes room too: a volume's parts, the parts a quota counts.
  const used = () => [...objects.values()].reduce((sum, o) => sum + o.bytes.byteLength, 0) + [...uploads.values()].reduce((sum, u) => sum + (u.bytes ?? 0), 0)

  const put = (key: string, bytes: Uint8Array, expected: string | undefined, source: string) =>
    Effect.gen(function* () {
      const sha256 = sha256Hex(bytes)
      if (expected !== undefined && expected !== sha256) {
        return yield* new StoreIntegrityFailed({
          store,
          key,
          check: "sha256",
          expected,
          found: sha256,
          message: `${source} has sha256 ${sha256}, not ${expected} as expected: nothing stored under ${key}`,
        })
      }
      if (options.capacityBytes !== undefined && used() + bytes.byteLength > options.capacityBytes) {
        return yield* localIoFailed(`${store}${key}`, "write", Object.assign(new Error("no space left on device"), { code: "ENOSPC" }))
      }
      if (options.quotaBytes !== undefined && used() + bytes.byteLength > options.quotaBytes) {
        return yield* new StoreRequestFailed({
          store,
          operation: "PUT",
          key,
          status: 403,
          code: "QuotaExceeded",
          retryable: false,
          message: `PUT ${key}: QuotaExceeded (HTTP 403, the store's quota of ${options.quotaBytes} bytes)`,
        })
      }
      yield* request(
        "PUT",
        key,
        Effect.sync(() => objects.set(key, { bytes: new Uint8Array(bytes), modifiedAt: now(), sha256 })),
      )
      return { key, size: bytes.byteLength, sha256 }
    })

  const get = (key: string) =>
    request(
      "GET",
      key,
      Effect.suspend(() => {
        const o = objects.get(key)
        return o === undefined ? Effect.fail(new StoreObjectMissing({ store, key, message: `${key} is not in ${store}` })) : Effect.succeed(o)
      }),
    )

  const listPage = (prefix: string, next?: string): Effect.Effect<ObjectPage, StoreError> =>
    request(
      "ListObjectsV2",
      prefix,
      Effect.sync(() => {
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && (next === undefined || compareKeys(k, next) > 0)).sort(compareKeys)
        const page = keys.slice(0, pageSize)
        return {
          objects: page.map((key): StoredObject => ({ key, size: objects.get(key)!.bytes.byteLength, modifiedAt: objects.get(key)!.modifiedAt })),
          next: keys.length > pageSize ? page[page.length - 1] : undefined,
        }
      }),
    )

  return {
    location: store,
    url: store.replace(/\/+$/, ""),
    versioning: Effect.succeed(options.versioning ?? { _tag: "Known", status: "Unversioned" }),
    objects,
    uploads,
    uploadParts,
    putFile: (key, path, o) =>
      (o?.growing?.written(o.growing.size) ?? Effect.void).pipe(
        Effect.andThen(readBackupFileBytes(path, o?.maxBytes ?? Number.MAX_SAFE_INTEGER)),
        Effect.mapError(backupFileFailed),
        Effect.flatMap((b) => put(key, b, o?.sha256, path)),
      ),
    followRingBytes: () => undefined,
    putBytes: (key, bytes) => put(key, bytes, undefined, "the bytes"),
    freeBytes: Effect.sync(() => (options.capacityBytes === undefined ? undefined : Math.max(0, options.capacityBytes - used()))),
    getBytes: (key) => get(key).pipe(Effect.map((o) => new Uint8Array(o.bytes))),
    getStart: (key, bytes) => get(key).pipe(Effect.map((o) => new Uint8Array(o.bytes.subarray(0, bytes)))),
    getFile: (key, path) =>
      get(key).pipe(
        Effect.flatMap((o) =>
          Effect.tryPromise({
            try: async () => {
              const part = await createFreshFile(`${path}.part`, 0o600)
              await part.writeFile(o.bytes).finally(() => part.close())
              await rename(`${path}.part`, path)
              return { key, size: o.bytes.byteLength, sha256: sha256Hex(o.bytes) }
            },
            catch: (e) => localIoFailed(path, "download into", e),
          }),
        ),
      ),
    head: (key) =>
      request(
        "HEAD",
        key,
        Effect.sync(() => {
          const o = objects.get(key)
          return o === undefined ? undefined : { key, size: o.bytes.byteLength, modifiedAt: o.modifiedAt, sha256: o.sha256 }
        }),
      ),
    listPage,
    remove: (key) =>
      request(
        "DELETE",
        key,
        Effect.sync(() => void objects.delete(key)),
      ),
    pendingUploads: (prefix) =>
      request(
        "ListMultipartUploads",
        prefix,
        Effect.sync(() => [...uploads.values()].filter((u) => u.key.startsWith(prefix)).map((u) => ({ ...u, abandonedAfterMs: multipartAbandonedAfterMs }))),
      ),
    abortUpload: (u) =>
      request(
        "AbortMultipartUpload",
        u.key,
        Effect.sync(() => {
          uploads.delete(u.uploadId)
          return true
        }),
      ),
    uploadActiveAt: (u) =>
      request(
        "ListParts",
        u.key,
        Effect.sync(() => (uploads.has(u.uploadId) ? Math.max(u.initiatedAt, uploadParts.get(u.uploadId) ?? 0) : undefined)),
      ),
    ...noFolders,
  }
}

/** The in-memory Layer. */
export const memoryStoreLayer = (options: MemoryStoreOptions = {}): Layer.Layer<BackupStore> =>
  Layer.succeed(BackupStore, BackupStore.of(makeMemoryStore(options)))
