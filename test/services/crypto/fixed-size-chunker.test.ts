/**
 * The re-chunker under age's STREAM: whatever the pieces, the chunks put back together are the
 * stream, every chunk handed out early is full, and the last one is held back (never empty unless
 * the stream was).
 */
import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { FixedSizeChunker } from "../../../src/services/crypto/fixed-size-chunker.ts"

const pieces = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 })

/** Each chunk copied before the next is asked for: a chunk may be a buffer the next one reuses. */
const copied = (chunks: Iterable<Uint8Array>) => Array.from(chunks, (c) => Buffer.from(c))

const run = (size: number, input: ReadonlyArray<Uint8Array>) => {
  const chunker = new FixedSizeChunker(size)
  const early = input.flatMap((piece) => copied(chunker.push(piece)))
  return { early, last: Buffer.from(chunker.end()) }
}

describe("FixedSizeChunker", () => {
  test.prop([fc.integer({ min: 1, max: 16 }), pieces])("the chunks are the stream, cut at every `size` bytes, the last held back", (size, input) => {
    const { early, last } = run(size, input)
    const stream = Buffer.concat(input)
    expect(Buffer.concat([...early, last])).toEqual(stream)
    for (const chunk of early) expect(chunk.length).toBe(size)
    expect(last.length).toBe(stream.length === 0 ? 0 : ((stream.length - 1) % size) + 1)
  })

  it("a full chunk stays held back until a byte after it arrives", () => {
    const chunker = new FixedSizeChunker(4)
    expect(copied(chunker.push(Buffer.from("abcd")))).toEqual([])
    expect(copied(chunker.push(Buffer.from("e"))).map(String)).toEqual(["abcd"])
    expect(Buffer.from(chunker.end()).toString()).toBe("e")
  })

  it("a chunk inside a large piece is handed out in place, not copied", () => {
    const piece = Buffer.from("abcdefghij")
    const [first] = new FixedSizeChunker(4).push(piece)
    expect(first!.buffer).toBe(piece.buffer)
    expect(first!.byteOffset).toBe(piece.byteOffset)
  })
})
