import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { TrailerCheck, trailerLength, withTrailer } from "../../../src/services/etcd/snapshot-trailer.ts"

/** Splits bytes at the given cut points (sorted, deduplicated) into consecutive chunks. */
const cut = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(from, p))
    from = p
  }
  return out
}

const feed = (chunks: ReadonlyArray<Uint8Array>) => {
  const check = new TrailerCheck()
  const released: Array<Uint8Array> = []
  for (const c of chunks) released.push(...check.push(c))
  return { released: Buffer.concat(released), result: check.finish() }
}

const db = fc.uint8Array({ minLength: 1, maxLength: 3000 })
const cuts = fc.array(fc.nat(), { maxLength: 40 })

describe("TrailerCheck", () => {
  it("accepts any chunking of a database and its sha256, releasing exactly the database bytes", () => {
    fc.assert(
      fc.property(db, cuts, (data, points) => {
        const { released, result } = feed(cut(withTrailer(data), points))
        expect(result).toMatchObject({ dbBytes: data.length, sha256: createHash("sha256").update(data).digest("hex") })
        expect(Buffer.compare(released, Buffer.from(data))).toBe(0)
        if ("trailer" in result) expect(Buffer.from(result.trailer).toString("hex")).toBe(createHash("sha256").update(data).digest("hex"))
        // The whole stream's sha256 (what sha256sum shows for the file), from the same pass.
        if ("wholeSha256" in result) expect(result.wholeSha256).toBe(createHash("sha256").update(withTrailer(data)).digest("hex"))
      }),
      { numRuns: 300 },
    )
  })

  it("gives the sha256 of every byte pushed, however chunked, whether or not the trailer matches", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), cuts, (data, points) => {
        const check = new TrailerCheck()
        for (const c of cut(data, points)) check.push(c)
        expect(check.wholeSha256()).toBe(createHash("sha256").update(data).digest("hex"))
      }),
      { numRuns: 300 },
    )
  })

  it("rejects a stream with any single byte changed", () => {
    fc.assert(
      fc.property(db, cuts, fc.nat(), fc.integer({ min: 1, max: 255 }), (data, points, at, flip) => {
        const stream = withTrailer(data)
        const i = at % stream.length
        stream[i] = stream[i]! ^ flip
        const { result } = feed(cut(stream, points))
        expect(result).toMatchObject({ _tag: "SnapshotHashMismatch", dbBytes: data.length })
      }),
      { numRuns: 300 },
    )
  })

  it("rejects a stream cut short anywhere", () => {
    fc.assert(
      fc.property(db, cuts, fc.nat(), (data, points, at) => {
        const stream = withTrailer(data)
        const short = stream.slice(0, at % stream.length)
        const { result } = feed(cut(short, points))
        expect(["SnapshotHashMismatch", "SnapshotTooShort"]).toContain((result as { _tag?: string })._tag)
      }),
      { numRuns: 300 },
    )
  })

  it("holds back at most the trailer, so memory does not grow with the stream", () => {
    const check = new TrailerCheck()
    let released = 0
    for (let i = 0; i < 100; i++) for (const part of check.push(new Uint8Array(1000).fill(i))) released += part.length
    expect(released).toBe(100 * 1000 - trailerLength)
  })

  it("says why a stream too short to hold a trailer fails", () => {
    const { result } = feed([new Uint8Array(10)])
    expect(result).toMatchObject({ _tag: "SnapshotTooShort", bytes: 10 })
    expect((result as Error).message).toContain("ended after 10 bytes")
  })
})
