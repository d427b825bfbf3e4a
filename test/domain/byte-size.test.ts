import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseByteSize } from "../../src/domain/byte-size.ts"

describe("parseByteSize", () => {
  it.each([
    ["1024", 1024],
    ["500Mi", 500 * 2 ** 20],
    ["50Gi", 50 * 2 ** 30],
    ["2G", 2e9],
    ["3K", 3000],
  ])("%s is %d bytes", (text, bytes) => {
    expect(Result.getOrThrow(parseByteSize(text))).toBe(bytes)
  })
  it.each(["", "1.5Gi", "-1", "10 Gi", "Gi", "12Xi"])("%j is refused, naming it", (text) => {
    const r = parseByteSize(text)
    expect(Result.isFailure(r) && r.failure.message.includes(`"${text}"`)).toBe(true)
  })
  test.prop([fc.integer({ min: 0, max: 2 ** 40 })])("a plain number of bytes is itself", (n) => {
    expect(Result.getOrThrow(parseByteSize(String(n)))).toBe(n)
  })
})
