import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { followRingBytes, maxParts, minPartSize, partSizeFor } from "../../src/domain/multipart-layout.ts"

const MiB = 2 ** 20
const sizeArb = fc.integer({ min: 0, max: 5 * 2 ** 40 })
const partArb = fc.integer({ min: 1, max: 5 * 1024 }).map((n) => n * MiB)

describe("partSizeFor", () => {
  test.prop([sizeArb, partArb])("at least the configured size and S3's smallest, and few enough parts for S3", (size, partSize) => {
    const part = partSizeFor(size, partSize)
    expect(part).toBeGreaterThanOrEqual(Math.max(partSize, minPartSize))
    expect(Math.ceil(size / part)).toBeLessThanOrEqual(maxParts)
    // Larger than configured only where the configured size would take too many parts.
    if (part > Math.max(partSize, minPartSize)) expect(Math.ceil(size / Math.max(partSize, minPartSize))).toBeGreaterThan(maxParts)
  })

  it("S3's limits: 5 MiB parts at the least, 10,000 parts at the most", () => {
    expect(partSizeFor(100 * MiB, MiB)).toBe(5 * MiB)
    expect(partSizeFor(16 * 2 ** 30, 16 * MiB)).toBe(16 * MiB)
    expect(partSizeFor(1000 * 2 ** 30, 16 * MiB)).toBe(Math.ceil((1000 * 2 ** 30) / 10_000))
  })
})

describe("followRingBytes", () => {
  test.prop([sizeArb, partArb, fc.integer({ min: 1, max: 64 })])(
    "none for a file of one part; otherwise one part more than those in flight",
    (size, partSize, partsInFlight) => {
      const ring = followRingBytes(size, partSize, partsInFlight)
      if (size <= partSize) return void expect(ring).toBeUndefined()
      expect(ring).toBe((partsInFlight + 1) * partSizeFor(size, partSize))
    },
  )
})
