/** The `blob` of `SnapshotResponse` messages, one at a time and as a stream cut anywhere, against protobufjs on etcd's rpc.proto. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { frameMessage } from "../../../src/services/etcd/grpc-framing.ts"
import { GrpcWireError } from "../../../src/domain/protobuf-wire.ts"
import { SnapshotBlobs, snapshotBlob } from "../../../src/services/etcd/snapshot-response.ts"
import { header, headerObject, pushInChunks, safe, type } from "./etcd-proto.ts"

const T = type("etcdserverpb.SnapshotResponse")

describe("etcd wire codecs agree with protobufjs on etcd's .proto files", () => {
  it("SnapshotResponse blob", () => {
    fc.assert(
      fc.property(header, safe, fc.uint8Array({ maxLength: 5000 }), (h, remaining, blob) => {
        const wire = T.encode(T.fromObject({ header: headerObject(h), remaining_bytes: remaining, blob })).finish()
        expect(Buffer.from(snapshotBlob(wire))).toEqual(Buffer.from(blob))
      }),
      { numRuns: 200 },
    )
  })
})

describe("SnapshotBlobs", () => {
  const message = fc
    .record({ header: fc.option(header, { nil: undefined }), remaining: safe, blob: fc.uint8Array({ maxLength: 3000 }) })
    .map(({ header: h, remaining, blob }) =>
      T.encode(T.fromObject({ ...(h === undefined ? {} : { header: headerObject(h) }), remaining_bytes: remaining, blob })).finish(),
    )

  it("passes on exactly the blobs' bytes, in order, whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const blobs = new SnapshotBlobs()
        const out = pushInChunks(Buffer.concat(messages.map(frameMessage)), cuts, (chunk) => blobs.push(chunk))
        expect(Buffer.concat(out)).toEqual(Buffer.concat(messages.map((m) => snapshotBlob(m))))
        expect(blobs.idle).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("passes the blob on as views of the received chunks, never as copies", () => {
    const wire = frameMessage(T.encode(T.fromObject({ remaining_bytes: 1, blob: new Uint8Array(1000).fill(9) })).finish())
    const chunk = Buffer.from(wire)
    const blobs = new SnapshotBlobs()
    const out = [...blobs.push(chunk.subarray(0, 500)), ...blobs.push(chunk.subarray(500))]
    expect(Buffer.concat(out)).toEqual(Buffer.alloc(1000, 9))
    for (const view of out) expect(view.buffer).toBe(chunk.buffer)
  })

  it("knows when it stopped inside a message, and refuses a field that overruns its message", () => {
    const blobs = new SnapshotBlobs()
    blobs.push(frameMessage(Uint8Array.of(0x1a, 0x03, 1, 2, 3)).subarray(0, 7))
    expect(blobs.idle).toBe(false)
    // A blob claiming 9 bytes in a 5-byte message.
    expect(() => new SnapshotBlobs().push(frameMessage(Uint8Array.of(0x1a, 0x09, 1, 2, 3)))).toThrow(GrpcWireError)
  })
})
