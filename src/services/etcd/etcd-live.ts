/**
 * The live Etcd Layer: etcd's gRPC API over Node's HTTP/2 with TLS client certificates
 * (`grpc-http2.ts`; the messages in `status-response.ts`, `range-messages.ts` and
 * `snapshot-response.ts`). The first endpoint that answers a status call is pinned for the life
 * of the Layer: status, reads and the snapshot must come from one member for the revision
 * pairing of `backup-init` to hold.
 *
 * Why not the `etcd3` package: it exposes the Snapshot stream (`client.maintenance.snapshot()`,
 * marked internal), but through grpc-js with a 64 KiB flow-control window and protobufjs
 * decoding, which streamed at about half of etcdctl's rate here (0.51 x) and, with its start-up
 * cost, did not fit the backup's memory budget (bench/RESULTS.md). The three calls used are small and
 * stable, so they are encoded by hand.
 */
import { readFile, stat } from "node:fs/promises"
import { createSecureContext } from "node:tls"
import { Effect, Layer, Ref, Stream } from "effect"
import { describeFileSystemFailure } from "../file-system-error.ts"
import { Etcd, type EtcdConnection, type KeyValue, type MemberStatus, type ReadOptions } from "./etcd.ts"
import { EtcdCredentialsUnreadable, EtcdRequestFailed, EtcdSnapshotFailed, type EtcdError } from "./etcd-errors.ts"
import { classifyEtcdFailure } from "./etcd-grpc-errors.ts"
import { failureReason } from "./grpc-call-failed.ts"
import { makeChannel, type GrpcChannel } from "./grpc-http2.ts"
import { minorGc } from "./minor-gc.ts"
import { GrpcWireError } from "../../domain/protobuf-wire.ts"
import { decodeRangeResponse, encodeRangeRequest, type RangeRequest, type WireKeyValue } from "./range-messages.ts"
import { SnapshotBlobs } from "./snapshot-response.ts"
import { decodeStatusResponse } from "./status-response.ts"

/** Unary calls that take longer than this fail instead of hanging the backup. */
const unaryDeadlineMs = 30_000
const connectTimeoutMs = 10_000
/** Keys per range page: Kubernetes objects are up to ~1.5 MiB each, so pages stay well bounded. */
const rangePageSize = 100
/** Keys without values are small: counting a large keyspace takes few round trips. */
const keysOnlyPageSize = 10_000
/**
 * HTTP/2 flow-control window. The 64 KiB default caps a snapshot at a fraction of what etcd can
 * send (one window per round trip); a few MiB match etcdctl's throughput while bounding what
 * etcd may send ahead of the consumer.
 */
const flowControlWindow = 4 * 1024 * 1024
/**
 * Snapshot bytes received and waiting for the writer before the stream pauses. Measured on a
 * 7.4 GiB snapshot over nine runs: 4 MiB (the window) peaked at 138-148 MiB, 1 MiB at 133-141 MiB
 * at the same speed (fewer network buffers live long enough to reach V8's old space), 256 KiB at
 * 125-132 MiB but ~7 % slower (bench/README.md).
 */
const consumerBufferBytes = 1024 * 1024
/**
 * Received snapshot bytes between two young-generation collections (see `minorGc`). Measured on
 * 1 GiB: every 4 MiB made V8 grow its young generation to the maximum (~60 MiB more heap, more
 * collection work); every 16 MiB or more let more freed network buffers pile up.
 */
const gcEveryBytes = 8 * 1024 * 1024

const empty = new Uint8Array(0)
const paths = {
  status: "/etcdserverpb.Maintenance/Status",
  snapshot: "/etcdserverpb.Maintenance/Snapshot",
  range: "/etcdserverpb.KV/Range",
}

const notRegular = Symbol("not a regular file")

const readCredential = (path: string) =>
  Effect.tryPromise({
    // Links are followed (Kubernetes mounts Secrets through them); a FIFO would be read forever.
    try: () => stat(path).then((info) => (info.isFile() ? readFile(path) : Promise.reject(notRegular))),
    catch: (e) =>
      new EtcdCredentialsUnreadable({
        path,
        message: `${e === notRegular ? `cannot read ${path}: it is not a regular file` : describeFileSystemFailure("read", path, e).message}: check the mounted etcd client certificate, key and CA bundle paths.`,
      }),
  })

/**
 * The client's TLS material, checked before any connection: a key that does not belong to the
 * certificate, or a file that is not PEM, failed only in the handshake, reported as etcd being
 * unreachable and sending the person after the network.
 */
const usableTogether = (tls: { readonly cacert: string; readonly cert: string; readonly key: string }, material: { ca: Buffer; cert: Buffer; key: Buffer }) =>
  Effect.try({
    try: () => void createSecureContext(material),
    catch: (e) =>
      new EtcdCredentialsUnreadable({
        path: tls.cert,
        message: `the etcd client certificate ${tls.cert}, its key ${tls.key} and the CA bundle ${tls.cacert} cannot be used (${e instanceof Error ? e.message : String(e)}): check that each is PEM of its kind (--etcd-cert a certificate, --etcd-key its private key, --etcd-cacert CA certificates) and that the key belongs to the certificate (the etcd-client Secret's tls.crt and tls.key).`,
      }),
  })

interface Pinned {
  readonly endpoint: string
  readonly channel: GrpcChannel
}

const prefixEnd = (prefix: Uint8Array): Uint8Array => {
  const end = Uint8Array.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1
      return end.subarray(0, i + 1)
    }
  }
  return Uint8Array.of(0)
}

const utf8 = new TextDecoder()
const toKeyValue = (kv: WireKeyValue): KeyValue => ({
  key: utf8.decode(kv.key),
  value: kv.value,
  createRevision: kv.createRevision,
  modRevision: kv.modRevision,
  version: kv.version,
})

/** The live Layer for a connection (see `defaultEtcdConnection` for the backup pod's). */
export const live = (connection: EtcdConnection): Layer.Layer<Etcd, EtcdCredentialsUnreadable> =>
  Layer.effect(
    Etcd,
    Effect.gen(function* () {
      const tls = connection.tls
      const credentials =
        tls === undefined ? undefined : { ca: yield* readCredential(tls.cacert), cert: yield* readCredential(tls.cert), key: yield* readCredential(tls.key) }
      if (tls !== undefined && credentials !== undefined) yield* usableTogether(tls, credentials)
      const channels = yield* Effect.acquireRelease(
        Effect.sync(() =>
          connection.endpoints.map(
            (endpoint): Pinned => ({
              endpoint,
              channel: makeChannel({ endpoint, tls: credentials, windowBytes: flowControlWindow, bufferBytes: consumerBufferBytes, connectTimeoutMs }),
            }),
          ),
        ),
        (all) => Effect.forEach(all, ({ channel }) => channel.close, { discard: true }),
      )
      const context = (endpoint: string, operation: string, revision?: number) => ({ endpoint, operation, revision, tls: tls !== undefined })
      // A malformed response is etcd's (or the network's) fault; any other throw is a defect of the decoder.
      const decode = <A>(endpoint: string, operation: string, f: () => A): Effect.Effect<A, EtcdRequestFailed> =>
        Effect.suspend(() => {
          try {
            return Effect.succeed(f())
          } catch (e) {
            if (!(e instanceof GrpcWireError)) throw e
            return Effect.fail(
              new EtcdRequestFailed({
                endpoint,
                operation,
                message: `etcd at ${endpoint} sent a response to ${operation} that cannot be decoded (${e.message}).`,
              }),
            )
          }
        })

      const statusOf = ({ endpoint, channel }: Pinned): Effect.Effect<MemberStatus, EtcdError> =>
        channel.unary(paths.status, empty, unaryDeadlineMs).pipe(
          Effect.mapError((e) => classifyEtcdFailure(context(endpoint, "status"), e)),
          Effect.flatMap((bytes) => decode(endpoint, "status", () => decodeStatusResponse(bytes))),
          Effect.map((s) => ({
            endpoint,
            memberId: s.header.memberId,
            version: s.version,
            dbSize: s.dbSize,
            dbSizeInUse: s.dbSizeInUse,
            raftIndex: s.raftIndex,
            raftTerm: s.raftTerm,
            revision: s.header.revision,
            isLearner: s.isLearner,
          })),
        )

      const pinnedRef = yield* Ref.make<Pinned | undefined>(undefined)
      // Tries the endpoints in order; a failure is not remembered, so a later call tries again.
      const pin: Effect.Effect<Pinned, EtcdError> = Effect.gen(function* () {
        const current = yield* Ref.get(pinnedRef)
        if (current !== undefined) return current
        let first: EtcdError | undefined
        for (const candidate of channels) {
          const result = yield* Effect.result(statusOf(candidate))
          if (result._tag === "Success") {
            yield* Ref.set(pinnedRef, candidate)
            return candidate
          }
          first ??= result.failure
        }
        return yield* Effect.fail(
          first ?? new EtcdRequestFailed({ endpoint: "", operation: "connect", message: "no etcd endpoint given: pass --etcd-endpoints." }),
        )
      })

      const range = (pinned: Pinned, request: RangeRequest, operation: string) =>
        pinned.channel.unary(paths.range, encodeRangeRequest(request), unaryDeadlineMs).pipe(
          Effect.mapError((e) => classifyEtcdFailure(context(pinned.endpoint, operation, request.revision || undefined), e)),
          Effect.flatMap((bytes) => decode(pinned.endpoint, operation, () => decodeRangeResponse(bytes))),
        )

      const encoder = new TextEncoder()
      /** The first key after `key` in etcd's byte order: `key` and a zero byte. */
      const keyAfter = (key: Uint8Array) => {
        const next = new Uint8Array(key.length + 1)
        next.set(key, 0)
        return next
      }
      const get = (key: string, options?: ReadOptions) =>
        Effect.gen(function* () {
          const pinned = yield* pin
          const response = yield* range(pinned, { key: encoder.encode(key), revision: options?.revision ?? 0 }, `read of ${key}`)
          const kv = response.kvs[0]
          return kv === undefined ? undefined : toKeyValue(kv)
        })

      const getPrefix = (prefix: string, options?: ReadOptions) =>
        Effect.gen(function* () {
          const pinned = yield* pin
          const start = encoder.encode(prefix)
          const end = prefixEnd(start)
          let revision = options?.revision ?? 0
          let from = options?.after === undefined ? start : keyAfter(encoder.encode(options.after))
          const out: Array<KeyValue> = []
          for (;;) {
            const limit = Math.min(options?.keysOnly === true ? keysOnlyPageSize : rangePageSize, (options?.limit ?? Number.POSITIVE_INFINITY) - out.length)
            const page = yield* range(pinned, { key: from, rangeEnd: end, limit, revision, keysOnly: options?.keysOnly }, `read of prefix ${prefix}`)
            // Later pages are read at the first page's revision, so the result is one consistent view.
            if (revision === 0) revision = page.header.revision
            for (const kv of page.kvs) out.push(toKeyValue(kv))
            const last = page.kvs.at(-1)
            if (!page.more || last === undefined || out.length >= (options?.limit ?? Number.POSITIVE_INFINITY)) return out
            from = keyAfter(last.key)
          }
        })

      const snapshot: Stream.Stream<Uint8Array, EtcdError> = Stream.unwrap(
        Effect.map(pin, (pinned) => {
          let received = 0
          let collectedAt = 0
          return pinned.channel
            .serverStream(paths.snapshot, empty, () => new SnapshotBlobs())
            .pipe(
              Stream.map((blob) => {
                received += blob.length
                if (received - collectedAt >= gcEveryBytes) {
                  collectedAt = received
                  minorGc()
                }
                return blob
              }),
              Stream.mapError(
                (e): EtcdError =>
                  received === 0 && e.origin === "connecting"
                    ? classifyEtcdFailure(context(pinned.endpoint, "snapshot"), e)
                    : new EtcdSnapshotFailed({
                        endpoint: pinned.endpoint,
                        receivedBytes: received,
                        grpcStatus: e.status,
                        message:
                          `the snapshot stream from etcd at ${pinned.endpoint} broke off after ${received} bytes (${failureReason(e)}): ` +
                          `check that the etcd member is running and reachable, then take the backup again.`,
                      }),
              ),
            )
        }),
      )

      return Etcd.of({
        endpoint: Effect.map(pin, (p) => p.endpoint),
        status: Effect.flatMap(pin, statusOf),
        get,
        getPrefix,
        snapshot,
      })
    }),
  )
