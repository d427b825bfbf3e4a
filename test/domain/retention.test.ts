import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { formatBackupTimestamp } from "../../src/domain/archive-names.ts"
import { decideRetention, hasRule, type BackupUnit, type RetentionPolicy } from "../../src/domain/retention.ts"

const start = Date.parse("2026-01-01T00:00:00Z")
const unit = (i: number, at: number, bytes: number, complete: boolean): BackupUnit => ({
  id: `b${i}`,
  timestamp: formatBackupTimestamp(new Date(at)),
  at,
  bytes,
  complete,
})
const units = fc
  .array(fc.record({ offset: fc.integer({ min: 0, max: 400 * 86_400 }), bytes: fc.integer({ min: 1, max: 1000 }), complete: fc.boolean() }), { maxLength: 40 })
  .map((xs) => xs.map((x, i) => unit(i, start + x.offset * 1000, x.bytes, x.complete || i % 5 !== 0)))
const opt = (arb: fc.Arbitrary<number>) => fc.option(arb, { nil: undefined })
const policy: fc.Arbitrary<RetentionPolicy> = fc.record({
  keepLast: opt(fc.integer({ min: 0, max: 10 })),
  keepDaily: opt(fc.integer({ min: 0, max: 10 })),
  keepWeekly: opt(fc.integer({ min: 0, max: 6 })),
  keepMonthly: opt(fc.integer({ min: 0, max: 12 })),
  maxAgeMs: opt(fc.integer({ min: 0, max: 500 * 86_400_000 })),
  maxTotalBytes: opt(fc.integer({ min: 0, max: 20_000 })),
})
const now = start + 401 * 86_400_000
const ids = (xs: ReadonlyArray<{ unit: BackupUnit }>) => xs.map((x) => x.unit.id).sort()

describe("decideRetention", () => {
  test.prop([units, policy])("keeps or removes every backup exactly once, with a reason", (us, p) => {
    const d = decideRetention(us, p, now)
    expect([...ids(d.keep), ...ids(d.remove)].sort()).toEqual(us.map((u) => u.id).sort())
    expect(new Set(ids(d.keep)).size + new Set(ids(d.remove)).size).toBe(us.length)
    for (const x of [...d.keep, ...d.remove]) expect(x.reason).not.toBe("")
  })

  test.prop([units, policy])("never removes the newest complete backup", (us, p) => {
    const newest = us.filter((u) => u.complete).sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))[0]
    if (newest !== undefined) expect(ids(decideRetention(us, p, now).keep)).toContain(newest.id)
  })

  test.prop([units, policy])("is idempotent: the kept backups are kept again", (us, p) => {
    const kept = decideRetention(us, p, now).keep.map((k) => k.unit)
    expect(decideRetention(kept, p, now).remove).toEqual([])
  })

  test.prop([units, policy])("stays under the size limit unless only backups it must keep are left", (us, p) => {
    fc.pre(p.maxTotalBytes !== undefined)
    const d = decideRetention(us, p, now)
    const total = d.keep.reduce((a, k) => a + k.unit.bytes, 0)
    if (total > p.maxTotalBytes!) {
      for (const k of d.keep) expect(k.reason).toMatch(/always kept|in progress/)
    }
  })

  test.prop([units, fc.integer({ min: 1, max: 10 })])("keepLast N keeps the N newest complete backups", (us, n) => {
    const d = decideRetention(us, { keepLast: n }, now)
    const newest = us.filter((u) => u.complete).sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(0, n)
    for (const u of newest) expect(ids(d.keep)).toContain(u.id)
    expect(d.keep.filter((k) => k.unit.complete)).toHaveLength(newest.length)
  })

  it("keeps the newest of each of the last days and removes superseded incomplete runs", () => {
    const us = [
      unit(1, Date.parse("2026-03-01T01:00:00Z"), 10, true),
      unit(2, Date.parse("2026-03-01T13:00:00Z"), 10, true),
      unit(3, Date.parse("2026-03-02T01:00:00Z"), 10, false),
      unit(4, Date.parse("2026-03-02T02:00:00Z"), 10, true),
      unit(5, Date.parse("2026-03-03T02:00:00Z"), 10, false),
    ]
    const d = decideRetention(us, { keepDaily: 2 }, now)
    expect(ids(d.keep)).toEqual(["b2", "b4", "b5"])
    expect(d.remove.find((r) => r.unit.id === "b3")?.reason).toMatch(/superseded/)
    expect(d.keep.find((k) => k.unit.id === "b5")?.reason).toMatch(/in progress/)
  })

  it("an empty policy is recognised (prune refuses it)", () => {
    expect(hasRule({})).toBe(false)
    expect(hasRule({ keepLast: 3 })).toBe(true)
  })
})
