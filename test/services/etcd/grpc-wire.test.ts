/**
 * The hand-written etcd wire codecs against protobufjs reading etcd's own .proto files (shipped
 * in the etcd3 package), for arbitrary values; and the gRPC deframer for any chunking.
 */
import { createRequire } from "node:module"
import { join } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  decodeRangeResponse,
  decodeStatusResponse,
  Deframer,
  encodeRangeRequest,
  frameMessage,
  GrpcWireError,
  snapshotBlob,
  SnapshotBlobs,
} from "../../../src/services/etcd/grpc-wire.ts"
import { repoRoot } from "../../support/tools.ts"

// protobufjs is a dependency of etcd3: loaded here only as the reference implementation.
const protobuf = createRequire(import.meta.url)("protobufjs") as {
  loadSync(files: Array<string>, root?: unknown): { lookupType(name: string): ProtoType }
  Root: new () => { resolvePath: (origin: string, target: string) => string; loadSync(files: Array<string>, options?: unknown): { lookupType(name: string): ProtoType } }
}
interface ProtoType {
  fromObject(o: unknown): unknown
  encode(m: unknown): { finish(): Uint8Array }
  decode(b: Uint8Array): unknown
  toObject(m: unknown, o: unknown): Record<string, unknown>
}
const protoDir = join(repoRoot, "node_modules", "etcd3", "proto")
const root = new protobuf.Root()
root.resolvePath = (_origin, target) => join(protoDir, target.split("/").at(-1)!)
const loaded = root.loadSync(["rpc.proto"], { keepCase: true })
const type = (name: string) => loaded.lookupType(name)
const asLong = { longs: String, bytes: Uint8Array, defaults: true }

const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const bytes = fc.uint8Array({ maxLength: 300 })
const header = fc.record({ cluster_id: uint64, member_id: uint64, revision: safe, raft_term: safe })

describe("etcd wire codecs agree with protobufjs on etcd's .proto files", () => {
  it("StatusResponse", () => {
    fc.assert(
      fc.property(
        fc.record({
          header,
          version: fc.string(),
          dbSize: safe,
          leader: uint64,
          raftIndex: safe,
          raftTerm: safe,
          raftAppliedIndex: safe,
          errors: fc.array(fc.string(), { maxLength: 3 }),
          dbSizeInUse: safe,
          isLearner: fc.boolean(),
        }),
        (s) => {
          const T = type("etcdserverpb.StatusResponse")
          const wire = T.encode(
            T.fromObject({ ...s, header: { ...s.header, cluster_id: s.header.cluster_id.toString(), member_id: s.header.member_id.toString() }, leader: s.leader.toString() }),
          ).finish()
          const d = decodeStatusResponse(wire)
          expect(d).toEqual({
            header: { clusterId: s.header.cluster_id.toString(), memberId: s.header.member_id.toString(), revision: s.header.revision, raftTerm: s.header.raft_term },
            version: s.version,
            dbSize: s.dbSize,
            leader: s.leader.toString(),
            raftIndex: s.raftIndex,
            raftTerm: s.raftTerm,
            raftAppliedIndex: s.raftAppliedIndex,
            errors: s.errors,
            dbSizeInUse: s.dbSizeInUse,
            isLearner: s.isLearner,
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it("RangeRequest", () => {
    fc.assert(
      fc.property(bytes, bytes, safe, safe, (key, rangeEnd, limit, revision) => {
        const decoded = type("etcdserverpb.RangeRequest").toObject(type("etcdserverpb.RangeRequest").decode(encodeRangeRequest({ key, rangeEnd, limit, revision })), asLong)
        expect(Buffer.from(decoded.key as Uint8Array)).toEqual(Buffer.from(key))
        expect(Buffer.from(decoded.range_end as Uint8Array)).toEqual(Buffer.from(rangeEnd))
        expect([decoded.limit, decoded.revision]).toEqual([String(limit), String(revision)])
      }),
      { numRuns: 200 },
    )
  })

  it("RangeResponse with its key-values", () => {
    const kv = fc.record({ key: bytes, create_revision: safe, mod_revision: safe, version: safe, value: bytes, lease: safe })
    fc.assert(
      fc.property(header, fc.array(kv, { maxLength: 5 }), fc.boolean(), safe, (h, kvs, more, count) => {
        const T = type("etcdserverpb.RangeResponse")
        const wire = T.encode(T.fromObject({ header: { ...h, cluster_id: h.cluster_id.toString(), member_id: h.member_id.toString() }, kvs, more, count })).finish()
        const d = decodeRangeResponse(wire)
        expect(d.more).toBe(more)
        expect(d.count).toBe(count)
        expect(d.header.revision).toBe(h.revision)
        expect(
          d.kvs.map((x) => ({ ...x, key: Buffer.from(x.key), value: Buffer.from(x.value) })),
        ).toEqual(kvs.map((x) => ({ key: Buffer.from(x.key), createRevision: x.create_revision, modRevision: x.mod_revision, version: x.version, value: Buffer.from(x.value), lease: x.lease })))
      }),
      { numRuns: 200 },
    )
  })

  it("SnapshotResponse blob", () => {
    fc.assert(
      fc.property(header, safe, fc.uint8Array({ maxLength: 5000 }), (h, remaining, blob) => {
        const T = type("etcdserverpb.SnapshotResponse")
        const wire = T.encode(T.fromObject({ header: { ...h, cluster_id: h.cluster_id.toString(), member_id: h.member_id.toString() }, remaining_bytes: remaining, blob })).finish()
        expect(Buffer.from(snapshotBlob(wire))).toEqual(Buffer.from(blob))
      }),
      { numRuns: 200 },
    )
  })

  it("a revision beyond 2^53 or a truncated message is a GrpcWireError", () => {
    const T = type("etcdserverpb.StatusResponse")
    const big = T.encode(T.fromObject({ dbSize: "18014398509481984" })).finish()
    expect(() => decodeStatusResponse(big)).toThrow(GrpcWireError)
    const ok = T.encode(T.fromObject({ version: "3.5.16" })).finish()
    expect(() => decodeStatusResponse(ok.subarray(0, ok.length - 2))).toThrow(GrpcWireError)
  })
})

describe("Deframer", () => {
  it("recovers every message whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map(frameMessage))
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
        const deframer = new Deframer()
        const out: Array<Uint8Array> = []
        let from = 0
        for (const p of [...points, stream.length]) {
          out.push(...deframer.push(stream.subarray(from, p)))
          from = p
        }
        expect(out.map((m) => Buffer.from(m))).toEqual(messages.map((m) => Buffer.from(m)))
        expect(deframer.idle).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("reports a message left unfinished and refuses compressed or oversized messages", () => {
    const d = new Deframer()
    d.push(frameMessage(new Uint8Array(10)).subarray(0, 8))
    expect(d.idle).toBe(false)
    expect(() => new Deframer().push(Uint8Array.of(1, 0, 0, 0, 0))).toThrow(/compressed/)
    expect(() => new Deframer(100).push(Uint8Array.of(0, 0, 0, 1, 0))).toThrow(/exceeds 100/)
  })
})

describe("SnapshotBlobs", () => {
  const T = type("etcdserverpb.SnapshotResponse")
  const message = fc
    .record({ header: fc.option(header, { nil: undefined }), remaining: safe, blob: fc.uint8Array({ maxLength: 3000 }) })
    .map(({ header: h, remaining, blob }) =>
      T.encode(
        T.fromObject({
          ...(h === undefined ? {} : { header: { ...h, cluster_id: h.cluster_id.toString(), member_id: h.member_id.toString() } }),
          remaining_bytes: remaining,
          blob,
        }),
      ).finish(),
    )

  it("passes on exactly the blobs' bytes, in order, whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map(frameMessage))
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
        const blobs = new SnapshotBlobs()
        const out: Array<Uint8Array> = []
        let from = 0
        for (const p of [...points, stream.length]) {
          out.push(...blobs.push(stream.subarray(from, p)))
          from = p
        }
        expect(Buffer.concat(out)).toEqual(Buffer.concat(messages.map((m) => snapshotBlob(m))))
        expect(blobs.idle).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("knows when it stopped inside a message, and refuses a field that overruns its message", () => {
    const blobs = new SnapshotBlobs()
    blobs.push(frameMessage(Uint8Array.of(0x1a, 0x03, 1, 2, 3)).subarray(0, 7))
    expect(blobs.idle).toBe(false)
    // A blob claiming 9 bytes in a 5-byte message.
    expect(() => new SnapshotBlobs().push(frameMessage(Uint8Array.of(0x1a, 0x09, 1, 2, 3)))).toThrow(GrpcWireError)
  })
})
