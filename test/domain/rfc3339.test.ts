import { fc, test } from "@fast-check/vitest"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { formatRfc3339Utc, isRfc3339Millis, maxRfc3339Millis, minRfc3339Millis, parseRfc3339Utc, Rfc3339Utc } from "../../src/domain/rfc3339.ts"
import { instantArb } from "./arbitraries.ts"

describe("RFC 3339 UTC", () => {
  it("writes whole seconds without a fraction and reads Kubernetes' form", () => {
    expect(formatRfc3339Utc(Date.UTC(2024, 4, 1, 12))).toBe("2024-05-01T12:00:00Z")
    expect(formatRfc3339Utc(Date.UTC(2024, 4, 1, 12) + 5)).toBe("2024-05-01T12:00:00.005Z")
    expect(parseRfc3339Utc("2024-05-01T12:00:00Z")).toBe(Date.UTC(2024, 4, 1, 12))
    expect(parseRfc3339Utc("2024-05-01T12:00:00.123456Z")).toBe(Date.UTC(2024, 4, 1, 12) + 123)
    expect(parseRfc3339Utc("0000-01-01T00:00:00Z")).toBe(minRfc3339Millis)
    expect(parseRfc3339Utc("9999-12-31T23:59:59.999Z")).toBe(maxRfc3339Millis)
  })

  test.prop([instantArb], { numRuns: 500 })("parse(format(t)) == t", (ms) => {
    expect(isRfc3339Millis(ms)).toBe(true)
    const text = formatRfc3339Utc(ms)
    expect(Schema.is(Rfc3339Utc)(text)).toBe(true)
    expect(parseRfc3339Utc(text)).toBe(ms)
  })

  it.each([
    "2024-05-01 12:00:00Z",
    "2024-05-01T12:00:00",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01t12:00:00z",
    "2023-02-29T00:00:00Z",
    "2024-04-31T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T12:60:00Z",
    "2024-05-01T12:00:60Z",
    "2024-05-01T12:00:00.Z",
    "2024-13-01T12:00:00Z",
    "24-05-01T12:00:00Z",
    "",
  ])("%j is refused", (text) => {
    expect(parseRfc3339Utc(text)).toBeUndefined()
    expect(Schema.is(Rfc3339Utc)(text)).toBe(false)
  })

  test.prop([fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/)], { numRuns: 500 })(
    "what is accepted formats back to the same instant",
    (text) => {
      const ms = parseRfc3339Utc(text)
      if (ms !== undefined) expect(parseRfc3339Utc(formatRfc3339Utc(ms))).toBe(ms)
    },
  )
})
