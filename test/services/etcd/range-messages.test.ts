/** `RangeRequest` and `RangeResponse` by hand agree with protobufjs on etcd's rpc.proto, for arbitrary values. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeRangeResponse, encodeRangeRequest } from "../../../src/services/etcd/range-messages.ts"
import { asLong, bytes, header, headerObject, safe, type } from "./etcd-proto.ts"

describe("etcd wire codecs agree with protobufjs on etcd's .proto files", () => {
  it("RangeRequest", () => {
    fc.assert(
      fc.property(bytes, bytes, safe, safe, (key, rangeEnd, limit, revision) => {
        const decoded = type("etcdserverpb.RangeRequest").toObject(
          type("etcdserverpb.RangeRequest").decode(encodeRangeRequest({ key, rangeEnd, limit, revision })),
          asLong,
        )
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
        const wire = T.encode(T.fromObject({ header: headerObject(h), kvs, more, count })).finish()
        const d = decodeRangeResponse(wire)
        expect(d.more).toBe(more)
        expect(d.count).toBe(count)
        expect(d.header.revision).toBe(h.revision)
        expect(d.kvs.map((x) => ({ ...x, key: Buffer.from(x.key), value: Buffer.from(x.value) }))).toEqual(
          kvs.map((x) => ({
            key: Buffer.from(x.key),
            createRevision: x.create_revision,
            modRevision: x.mod_revision,
            version: x.version,
            value: Buffer.from(x.value),
            lease: x.lease,
          })),
        )
      }),
      { numRuns: 200 },
    )
  })
})
