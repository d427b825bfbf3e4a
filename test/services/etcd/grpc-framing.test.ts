/** The gRPC deframer: every message back whatever the chunking; unfinished, compressed and oversized messages. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Deframer, frameMessage } from "../../../src/services/etcd/grpc-framing.ts"
import { pushInChunks } from "./etcd-proto.ts"

describe("Deframer", () => {
  it("recovers every message whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const deframer = new Deframer()
        const out = pushInChunks(Buffer.concat(messages.map(frameMessage)), cuts, (chunk) => deframer.push(chunk))
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
