import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { formatExactSize, parseByteSize, parseSizeWithUnit } from "../../src/domain/byte-size.ts"

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

describe("parseSizeWithUnit and formatExactSize", () => {
  it.each(["50", " 10 ", "0"])("%j, a bare number, is refused: it would be bytes", (text) => {
    const r = parseSizeWithUnit(text)
    expect(Result.isFailure(r) && r.failure.message).toBe(`"${text.trim()}" needs its unit, like 50Gi, 500Mi or 2G (a bare number would be bytes)`)
  })

  it("the largest exact unit, binary first", () => {
    expect(formatExactSize(50 * 2 ** 30)).toBe("50Gi")
    expect(formatExactSize(2e9)).toBe("2G")
    expect(formatExactSize(1536 * 1024)).toBe("1536Ki")
    expect(formatExactSize(2 ** 40)).toBe("1Ti")
  })

  const unit = fc.constantFrom("Ki", "Mi", "Gi", "Ti", "K", "M", "G", "T")
  test.prop([fc.integer({ min: 0, max: 4000 }), unit])("any size given with a unit comes back from its formatting with a unit, the same size", (n, u) => {
    const bytes = Result.getOrThrow(parseSizeWithUnit(`${n}${u}`))
    const formatted = formatExactSize(bytes)
    expect(formatted).toMatch(/[KMGT]i?$/)
    expect(Result.getOrThrow(parseSizeWithUnit(formatted))).toBe(bytes)
  })
})
