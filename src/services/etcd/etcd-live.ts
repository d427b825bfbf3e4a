/**
 * The live Etcd Layer, on `etcd3` (gRPC) with TLS client certificates. The first endpoint that
 * answers a status call is pinned for the life of the Layer: status, reads and the snapshot must
 * come from one member for the revision pairing of `backup-init` to hold.
 */
import { readFile } from "node:fs/promises"
import type { Readable } from "node:stream"
import { NodeStream } from "@effect/platform-node"
import { Etcd3, type IOptions, type IRangeResponse, type ISnapshotResponse } from "etcd3"
import { Effect, Layer, Ref, Stream } from "effect"
import { Etcd, type EtcdConnection, type KeyValue, type MemberStatus, type ReadOptions } from "./etcd.ts"
import { EtcdCredentialsUnreadable, EtcdRequestFailed, EtcdSnapshotFailed, type EtcdError } from "./etcd-errors.ts"
import { classifyEtcdFailure, grpcReason } from "./etcd-grpc-errors.ts"

/** Unary calls that take longer than this fail as unreachable instead of hanging the backup. */
const unaryDeadlineMs = 30_000
/** Keys per range page: Kubernetes objects are up to ~1.5 MiB each, so pages stay well bounded. */
const rangePageSize = 100

const readCredential = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path),
    catch: (e) =>
      new EtcdCredentialsUnreadable({
        path,
        message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}): check the mounted etcd client certificate, key and CA bundle paths.`,
      }),
  })

/** etcd's int64 fields arrive as decimal strings; the values the backup uses fit a double exactly. */
const int64 = (value: string | number | undefined, field: string, endpoint: string): Effect.Effect<number, EtcdRequestFailed> => {
  const n = Number(value ?? 0)
  return Number.isSafeInteger(n)
    ? Effect.succeed(n)
    : Effect.fail(new EtcdRequestFailed({ endpoint, operation: "decode", message: `etcd at ${endpoint} sent ${field}=${String(value)}, not a safe integer.` }))
}

interface Pinned {
  readonly endpoint: string
  readonly client: Etcd3
}

const prefixEnd = (prefix: Buffer): Buffer => {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

/** The live Layer for a connection (see `defaultEtcdConnection` for the backup pod's). */
export const layerLive = (connection: EtcdConnection): Layer.Layer<Etcd, EtcdCredentialsUnreadable> =>
  Layer.effect(
    Etcd,
    Effect.gen(function* () {
      const tls = connection.tls
      const credentials =
        tls === undefined
          ? undefined
          : {
              rootCertificate: yield* readCredential(tls.cacert),
              certChain: yield* readCredential(tls.cert),
              privateKey: yield* readCredential(tls.key),
            }
      const clients = yield* Effect.acquireRelease(
        Effect.sync(() =>
          connection.endpoints.map((endpoint): Pinned => {
            const options: IOptions = {
              hosts: [endpoint],
              grpcOptions: { "grpc.max_receive_message_length": -1 },
              defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + unaryDeadlineMs }),
              ...(credentials === undefined ? {} : { credentials }),
            }
            return { endpoint, client: new Etcd3(options) }
          }),
        ),
        (all) => Effect.sync(() => all.forEach(({ client }) => client.close())),
      )
      const context = (endpoint: string, operation: string, revision?: number) => ({
        endpoint,
        operation,
        revision,
        tls: tls !== undefined,
      })

      const statusOf = ({ endpoint, client }: Pinned): Effect.Effect<MemberStatus, EtcdError> =>
        Effect.tryPromise({
          try: () => client.maintenance.status(),
          catch: (e) => classifyEtcdFailure(context(endpoint, "status"), e),
        }).pipe(
          Effect.flatMap((s) =>
            Effect.all({
              dbSize: int64(s.dbSize, "dbSize", endpoint),
              dbSizeInUse: int64(s.dbSizeInUse, "dbSizeInUse", endpoint),
              raftIndex: int64(s.raftIndex, "raftIndex", endpoint),
              raftTerm: int64(s.raftTerm, "raftTerm", endpoint),
              revision: int64(s.header.revision, "revision", endpoint),
            }).pipe(
              Effect.map((n) => ({
                endpoint,
                memberId: String(s.header.member_id),
                version: s.version,
                isLearner: s.isLearner,
                ...n,
              })),
            ),
          ),
        )

      const pinnedRef = yield* Ref.make<Pinned | undefined>(undefined)
      // Tries the endpoints in order; a failure is not remembered, so a later call tries again.
      const pin: Effect.Effect<Pinned, EtcdError> = Effect.gen(function* () {
        const current = yield* Ref.get(pinnedRef)
        if (current !== undefined) return current
        let first: EtcdError | undefined
        for (const candidate of clients) {
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

      const toKeyValue = (kv: IRangeResponse["kvs"][number], endpoint: string): Effect.Effect<KeyValue, EtcdRequestFailed> =>
        Effect.all({
          createRevision: int64(kv.create_revision, "create_revision", endpoint),
          modRevision: int64(kv.mod_revision, "mod_revision", endpoint),
          version: int64(kv.version, "version", endpoint),
        }).pipe(Effect.map((n) => ({ key: kv.key.toString("utf8"), value: new Uint8Array(kv.value), ...n })))

      const range = (pinned: Pinned, request: { key: Buffer; range_end?: Buffer; limit?: number; revision: number }, operation: string) =>
        Effect.tryPromise({
          try: () => pinned.client.kv.range({ ...request, revision: request.revision }),
          catch: (e) => classifyEtcdFailure(context(pinned.endpoint, operation, request.revision === 0 ? undefined : request.revision), e),
        })

      const get = (key: string, options?: ReadOptions) =>
        Effect.gen(function* () {
          const pinned = yield* pin
          const response = yield* range(pinned, { key: Buffer.from(key), revision: options?.revision ?? 0 }, `read of ${key}`)
          const kv = response.kvs[0]
          return kv === undefined ? undefined : yield* toKeyValue(kv, pinned.endpoint)
        })

      const getPrefix = (prefix: string, options?: ReadOptions) =>
        Effect.gen(function* () {
          const pinned = yield* pin
          const end = prefixEnd(Buffer.from(prefix))
          let revision = options?.revision ?? 0
          let from = Buffer.from(prefix)
          const out: Array<KeyValue> = []
          for (;;) {
            const page = yield* range(pinned, { key: from, range_end: end, limit: rangePageSize, revision }, `read of prefix ${prefix}`)
            // Later pages are read at the first page's revision, so the result is one consistent view.
            if (revision === 0) revision = yield* int64(page.header.revision, "revision", pinned.endpoint)
            for (const kv of page.kvs) out.push(yield* toKeyValue(kv, pinned.endpoint))
            const last = page.kvs.at(-1)
            if (!page.more || last === undefined) return out
            from = Buffer.concat([last.key, Buffer.from([0])])
          }
        })

      const snapshot: Stream.Stream<Uint8Array, EtcdError> = Stream.unwrap(
        Effect.gen(function* () {
          const pinned = yield* pin
          let received = 0
          const failed = (e: unknown) =>
            new EtcdSnapshotFailed({
              endpoint: pinned.endpoint,
              receivedBytes: received,
              message:
                `the snapshot stream from etcd at ${pinned.endpoint} broke off after ${received} bytes (${grpcReason(e)}): ` +
                `check that the etcd member is running and reachable, then take the backup again.`,
            })
          const call = yield* Effect.tryPromise({
            try: () => pinned.client.maintenance.snapshot(),
            catch: (e) => classifyEtcdFailure(context(pinned.endpoint, "snapshot"), e),
          })
          // etcd3 types the call as a bare event emitter; it is grpc-js's object-mode Readable, whose
          // read() only asks the server for more as we consume (HTTP/2 flow control does the rest).
          const readable = call as unknown as Readable & { cancel(): void }
          return NodeStream.fromReadable<ISnapshotResponse, EtcdError>({ evaluate: () => readable, onError: failed }).pipe(
            Stream.map((message) => {
              received += message.blob.length
              return new Uint8Array(message.blob.buffer, message.blob.byteOffset, message.blob.byteLength)
            }),
            Stream.ensuring(Effect.sync(() => readable.cancel())),
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
