import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { formatDuration, parseDuration } from "../../src/domain/durations.ts"

const ok = (text: string) => Result.getOrThrow(parseDuration(text))

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["90m", 5_400_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["3600", 3_600_000],
    ["2d", 172_800_000],
  ])("%s is %d ms", (text, ms) => {
    expect(ok(text)).toBe(ms)
  })

  it.each(["", "1.5h", "-1s", "1 h", "h", "10x", "1h-", "abc"])("%j is refused with the input named", (text) => {
    const r = parseDuration(text)
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure._tag).toBe("DurationInvalid")
      expect(r.failure.message).toContain(`"${text}"`)
    }
  })

  test.prop([fc.integer({ min: 1, max: 10_000_000 })])("formatDuration of whole seconds parses back", (seconds) => {
    expect(ok(formatDuration(seconds * 1000))).toBe(seconds * 1000)
  })
})

describe("MillisFromDurationString", () => {
  it("decodes flag text and explains a bad one", async () => {
    const { Schema } = await import("effect")
    const { MillisFromDurationString } = await import("../../src/domain/durations.ts")
    expect(Schema.decodeUnknownSync(MillisFromDurationString)("1h")).toBe(3_600_000)
    expect(() => Schema.decodeUnknownSync(MillisFromDurationString)("1 hour")).toThrow(/not a duration/)
  })
})
