import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formatBytes, formatProgress } from "../../src/domain/byte-format.ts"

describe("snapshot progress", () => {
  it("formats bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B")
    expect(formatBytes(1536)).toBe("1.5 KiB")
    expect(formatBytes(1024 ** 3)).toBe("1.0 GiB")
  })

  it("shows bytes, percent of the reported size and rate, and 100% only when done", () => {
    expect(formatProgress("snap", { bytes: 512 * 1024 ** 2, expectedBytes: 1024 ** 3, elapsedMs: 4000, done: false })).toBe(
      "snap: 512.0 MiB of ~1.0 GiB (50%), 128.0 MiB/s",
    )
    expect(formatProgress("snap", { bytes: 1024 ** 3, expectedBytes: 1024 ** 3, elapsedMs: 8000, done: true })).toBe("snap: 1.0 GiB, 128.0 MiB/s")
  })

  it("never claims 100% while running, even past the reported size", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (bytes, expected, elapsed) => {
        const line = formatProgress("s", { bytes, expectedBytes: expected, elapsedMs: elapsed, done: false })
        const percent = Number(/\((\d+)%\)/.exec(line)?.[1])
        expect(percent).toBeLessThanOrEqual(99)
        expect(percent).toBeGreaterThanOrEqual(0)
      }),
    )
  })
})
