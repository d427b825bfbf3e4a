import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { startTimeoutFor } from "../../../src/programs/verify/verify-test-restore.ts"

describe("startTimeoutFor", () => {
  it("gives a restored member 20 s, and 20 s more per GiB of snapshot (an 8 GiB database rebuilds its index for longer than 20 s)", () => {
    expect(startTimeoutFor(0)).toBe(20_000)
    expect(startTimeoutFor(1024 ** 3)).toBe(40_000)
    expect(startTimeoutFor(8 * 1024 ** 3)).toBe(180_000)
  })

  test.prop([fc.nat(), fc.nat()])("grows with the snapshot's size", (a, b) => {
    expect(startTimeoutFor(Math.max(a, b))).toBeGreaterThanOrEqual(startTimeoutFor(Math.min(a, b)))
  })
})
