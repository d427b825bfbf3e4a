import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { endAfterHold, paceAfterBytes, paceAfterMs, projectedEnd } from "../../src/domain/copy-pace.ts"

const MiB = 1024 * 1024
const pace = fc
  .record({
    startedAt: fc.integer({ min: 0, max: 2 ** 40 }),
    elapsed: fc.integer({ min: paceAfterMs, max: 10 * 3_600_000 }),
    doneBytes: fc.integer({ min: paceAfterBytes, max: 64 * 1024 * MiB }),
    moreBytes: fc.integer({ min: 0, max: 64 * 1024 * MiB }),
  })
  .map(({ startedAt, elapsed, doneBytes, moreBytes }) => ({ startedAt, now: startedAt + elapsed, doneBytes, totalBytes: doneBytes + moreBytes }))

describe("projectedEnd", () => {
  it("goes by the pace so far: 1 GiB of 4 in 60 s ends 180 s later", () => {
    expect(projectedEnd({ startedAt: 0, now: 60_000, doneBytes: 1024 * MiB, totalBytes: 4096 * MiB })).toBe(240_000)
  })

  it("has no pace before the copy ran long enough and moved enough", () => {
    expect(projectedEnd({ startedAt: 0, now: paceAfterMs - 1, doneBytes: 1024 * MiB, totalBytes: 4096 * MiB })).toBeUndefined()
    expect(projectedEnd({ startedAt: 0, now: 600_000, doneBytes: paceAfterBytes - 1, totalBytes: 4096 * MiB })).toBeUndefined()
  })

  test.prop([pace])("is never before now, and is now once everything is copied", (p) => {
    expect(projectedEnd(p)!).toBeGreaterThanOrEqual(p.now)
    expect(projectedEnd({ ...p, totalBytes: p.doneBytes })).toBe(p.now)
  })

  test.prop([pace, fc.integer({ min: 1, max: 1024 * MiB })])("is later with more left to copy, and earlier at a faster pace", (p, more) => {
    expect(projectedEnd({ ...p, totalBytes: p.totalBytes + more })!).toBeGreaterThanOrEqual(projectedEnd(p)!)
    expect(projectedEnd({ ...p, doneBytes: p.doneBytes + more, totalBytes: p.totalBytes + more })!).toBeLessThanOrEqual(projectedEnd(p)!)
  })
})

describe("endAfterHold", () => {
  test.prop([pace, fc.integer({ min: -10 * 3_600_000, max: 10 * 3_600_000 })])("is the projected end exactly when that comes after the hold's", (p, offset) => {
    const end = projectedEnd(p)!
    const holdEndsAt = end + offset
    expect(endAfterHold(p, holdEndsAt)).toBe(end > holdEndsAt ? end : undefined)
  })
})
