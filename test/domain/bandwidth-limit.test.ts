import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  leastSendMs,
  longestPacedPartsMs,
  minBandwidthBytesPerSecond,
  pacedBurstBytes,
  pacedChunkBytes,
  pacedPartsProblem,
  paceSend,
  parseBandwidthLimit,
  type SendPace,
} from "../../src/domain/bandwidth-limit.ts"

const KiB = 1024
const MiB = 1024 * KiB

describe("parseBandwidthLimit", () => {
  it("takes bytes a second with their unit, /s or not", () => {
    expect(parseBandwidthLimit("50Mi")).toEqual(Result.succeed(50 * MiB))
    expect(parseBandwidthLimit(" 20M/s ")).toEqual(Result.succeed(20_000_000))
    expect(parseBandwidthLimit("64Ki")).toEqual(Result.succeed(minBandwidthBytesPerSecond))
  })

  it("refuses a bare number (bytes a second), a rate below 64Ki and what is no rate, saying what to give", () => {
    const message = (input: string) => {
      const r = parseBandwidthLimit(input)
      return Result.isFailure(r) ? r.failure.message : undefined
    }
    expect(message("50")).toBe(`"50" is not a rate: give bytes a second with the unit, like 50Mi or 20M/s`)
    expect(message("10Mbps")).toBe(`"10Mbps" is not a rate: give bytes a second with the unit, like 50Mi or 20M/s`)
    expect(message("63Ki")).toBe(`"63Ki" is below the lowest limit, 64Ki a second`)
  })

  test.prop([fc.integer({ min: 64, max: 100_000 }), fc.constantFrom("Ki", "Mi", "Gi")])("reads back what a person writes, /s or not", (n, unit) => {
    const factor = { Ki: KiB, Mi: MiB, Gi: 1024 * MiB }[unit]
    expect(parseBandwidthLimit(`${n}${unit}`)).toEqual(Result.succeed(n * factor))
    expect(parseBandwidthLimit(`${n}${unit}/s`)).toEqual(Result.succeed(n * factor))
  })
})

describe("leastSendMs", () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: minBandwidthBytesPerSecond, max: 2 ** 32 })])(
    "is the least whole ms in which the rate sends the bytes",
    (bytes, rate) => {
      const ms = leastSendMs(bytes, rate)
      expect((ms * rate) / 1000).toBeGreaterThanOrEqual(bytes)
      if (ms > 0) expect(((ms - 1) * rate) / 1000).toBeLessThan(bytes)
    },
  )
})

describe("pacedChunkBytes and pacedBurstBytes", () => {
  test.prop([fc.integer({ min: minBandwidthBytesPerSecond, max: 2 ** 36 }), fc.integer({ min: 1, max: 64 })])(
    "a part in flight waits at most 4 s between its writes while the others take their turns, and a burst holds a write",
    (rate, partsInFlight) => {
      const chunk = pacedChunkBytes(rate)
      expect(chunk).toBeGreaterThanOrEqual(4 * KiB)
      expect(chunk).toBeLessThanOrEqual(256 * KiB)
      expect((partsInFlight * chunk * 1000) / rate).toBeLessThanOrEqual(4000)
      expect(pacedBurstBytes(rate)).toBeGreaterThanOrEqual(chunk)
      expect(pacedBurstBytes(rate)).toBeGreaterThanOrEqual(Math.floor(rate / 10))
    },
  )
})

describe("pacedPartsProblem", () => {
  const flags = { partSize: "--part-size", partsInFlight: "--parts-in-flight" }
  it("says how long the parts in flight take, and which flags make them fewer or smaller", () => {
    expect(pacedPartsProblem(16 * MiB, 4, 64 * KiB, flags)).toBe(
      "at 64.0 KiB/s, 4 parts of 16.0 MiB in flight take 17m4s to send, over 10m: prune takes a multipart upload with no part stored for 90 minutes for a dead one, and a part may be sent again on a retry; raise the limit, or send fewer or smaller parts (--parts-in-flight, --part-size)",
    )
    expect(pacedPartsProblem(5 * MiB, 1, 64 * KiB, flags)).toBeUndefined()
  })

  test.prop([
    fc.integer({ min: 5 * MiB, max: 5 * 1024 * MiB }),
    fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: minBandwidthBytesPerSecond, max: 2 ** 32 }),
  ])("refuses exactly the parts in flight that take longer than the longest allowed to send", (partSize, partsInFlight, rate) => {
    const problem = pacedPartsProblem(partSize, partsInFlight, rate, flags)
    expect(problem === undefined).toBe(leastSendMs(partSize * partsInFlight, rate) <= longestPacedPartsMs)
  })
})

const pace = fc.record({
  bytesPerSecond: fc.integer({ min: minBandwidthBytesPerSecond, max: 1024 * MiB }),
  burstBytes: fc.integer({ min: 1, max: 4 * MiB }),
})
/** Sends asked for at times that do not go back (gaps in ms), each of some bytes. */
const sends = fc.array(fc.record({ gapMs: fc.double({ min: 0, max: 5_000, noNaN: true }), bytes: fc.integer({ min: 1, max: 4 * MiB }) }), {
  minLength: 1,
  maxLength: 60,
})

/** Each send's start (ms) when the pacer is asked in order: now + its wait. */
const starts = (p: SendPace, asked: ReadonlyArray<{ readonly gapMs: number; readonly bytes: number }>) => {
  let due = 0
  let now = 0
  return asked.map(({ gapMs, bytes }) => {
    now += gapMs
    const next = paceSend(due, now, bytes, p)
    due = next.due
    return { bytes, asked: now, start: now + next.waitMs }
  })
}

describe("paceSend", () => {
  test.prop([pace, sends])("never starts a send before it is asked for, nor before one asked for earlier", (p, asked) => {
    const s = starts(p, asked)
    s.forEach((send, i) => {
      expect(send.start).toBeGreaterThanOrEqual(send.asked)
      if (i > 0) expect(send.start).toBeGreaterThanOrEqual(s[i - 1]!.start - 1e-6)
    })
  })

  test.prop([pace, sends])("starts, over any stretch of sends, at most the rate times its length plus one burst (or its first send)", (p, asked) => {
    const s = starts(p, asked)
    for (let i = 0; i < s.length; i++) {
      let bytes = 0
      for (let j = i; j < s.length; j++) {
        bytes += s[j]!.bytes
        const allowed = (p.bytesPerSecond * (s[j]!.start - s[i]!.start)) / 1000 + Math.max(p.burstBytes, s[i]!.bytes)
        expect(bytes).toBeLessThanOrEqual(allowed * (1 + 1e-9) + 1)
      }
    }
  })

  test.prop([pace, fc.double({ min: 0, max: 1e9, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true })])(
    "does not hold back a send within the burst after a pause",
    (p, due, pause) => {
      expect(paceSend(due, due + pause, p.burstBytes, p).waitMs).toBeCloseTo(0, 6)
    },
  )

  test.prop([pace, sends])("keeps up: back-to-back sends end at the rate, however they are cut", (p, asked) => {
    const s = starts(
      p,
      asked.map((a) => ({ ...a, gapMs: 0 })),
    )
    const total = s.reduce((n, x) => n + x.bytes, 0)
    const last = s.at(-1)!
    // The last send starts once all but one burst of the bytes could have gone at the rate.
    expect(last.start).toBeCloseTo(Math.max(0, ((total - p.burstBytes) * 1000) / p.bytesPerSecond), 3)
  })
})
