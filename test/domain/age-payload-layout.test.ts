import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { chunkCount, payloadBytes, plaintextBytes, streamNonce } from "../../src/domain/age-payload-layout.ts"

const KiB64 = 65536

describe("age payload layout", () => {
  it.each([
    [0, 1, 16 + 16],
    [1, 1, 16 + 1 + 16],
    [KiB64 - 1, 1, 16 + KiB64 - 1 + 16],
    [KiB64, 1, 16 + KiB64 + 16],
    [KiB64 + 1, 2, 16 + KiB64 + 1 + 32],
    [2 * KiB64, 2, 16 + 2 * KiB64 + 32],
  ])("%i plaintext bytes take %i chunk(s) and a payload of %i bytes", (plain, chunks, payload) => {
    expect(chunkCount(plain)).toBe(chunks)
    expect(payloadBytes(plain)).toBe(payload)
    expect(plaintextBytes(payload)).toBe(plain)
  })

  test.prop([fc.nat({ max: 2 ** 40 })], { numRuns: 1000 })("the plaintext size is recovered from the payload size", (n) => {
    expect(plaintextBytes(payloadBytes(n))).toBe(n)
  })

  test.prop([fc.nat({ max: 2 ** 24 })], { numRuns: 1000 })("a payload size no plaintext gives is recognised", (size) => {
    const plain = plaintextBytes(size)
    if (plain === undefined) {
      // No plaintext size maps there.
      const near = Math.max(0, size - 16 - Math.ceil(size / 65552) * 16)
      for (let n = Math.max(0, near - 40); n <= near + 40; n++) expect(payloadBytes(n)).not.toBe(size)
    } else {
      expect(payloadBytes(plain)).toBe(size)
    }
  })

  it("refuses sizes of a truncated payload: no chunk, a short tag, an empty last chunk after full ones", () => {
    expect(plaintextBytes(16)).toBeUndefined()
    expect(plaintextBytes(16 + 15)).toBeUndefined()
    expect(plaintextBytes(16 + 65552 + 16)).toBeUndefined()
  })

  it("nonces: 11-byte big-endian counter, then the last-chunk flag", () => {
    expect(Buffer.from(streamNonce(0, false)).toString("hex")).toBe("000000000000000000000000")
    expect(Buffer.from(streamNonce(1, true)).toString("hex")).toBe("000000000000000000000101")
    expect(Buffer.from(streamNonce(0x0102030405, false)).toString("hex")).toBe("000000000000010203040500")
  })
})
