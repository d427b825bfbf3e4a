import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { formatBackupTimestamp } from "../../src/domain/archive-names.ts"
import { decideRetention, decideRetentionBefore, futureSkewMs, hasRule, type BackupUnit, type RetentionPolicy } from "../../src/domain/retention.ts"

const start = Date.parse("2026-01-01T00:00:00Z")
const unit = (i: number, at: number, bytes: number, verified: boolean): BackupUnit => ({
  id: `b${i}`,
  timestamp: formatBackupTimestamp(new Date(at)),
  at,
  bytes,
  verified,
})
const units = fc
  .array(fc.record({ offset: fc.integer({ min: 0, max: 400 * 86_400 }), bytes: fc.integer({ min: 1, max: 1000 }), verified: fc.boolean() }), { maxLength: 40 })
  .map((xs) => xs.map((x, i) => unit(i, start + x.offset * 1000, x.bytes, x.verified)))
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
const newestFirst = (a: BackupUnit, b: BackupUnit) => b.at - a.at || (a.id < b.id ? 1 : -1)

describe("decideRetention", () => {
  test.prop([units, policy])("keeps or removes every backup exactly once, with a reason", (us, p) => {
    const d = decideRetention(us, p, now)
    expect([...ids(d.keep), ...ids(d.remove)].sort()).toEqual(us.map((u) => u.id).sort())
    expect(new Set(ids(d.keep)).size + new Set(ids(d.remove)).size).toBe(us.length)
    for (const x of [...d.keep, ...d.remove]) expect(x.reason).not.toBe("")
  })

  test.prop([units, policy])(
    "decides the same whatever its words, and its reasons name the unverified with the word given (a store's untrusted backups)",
    (us, p) => {
      const words = { verified: "trusted", unverified: "untrusted" }
      const plain = decideRetention(us, p, now)
      const worded = decideRetention(us, p, now, words)
      expect(ids(worded.keep)).toEqual(ids(plain.keep))
      expect(ids(worded.remove)).toEqual(ids(plain.remove))
      for (const x of [...worded.keep, ...worded.remove]) {
        expect(x.reason).not.toMatch(/\bverified\b|unverified/)
        if (!x.unit.verified && x.reason !== "no count rule applies" && !x.reason.includes("always kept") && x.reason !== "older than the maximum age")
          expect(x.reason).toContain("untrusted")
      }
    },
  )

  test.prop([units, policy])("never removes the newest verified backup, nor the newest backup when none is verified", (us, p) => {
    const sorted = [...us].sort(newestFirst)
    const guarded = sorted.find((u) => u.verified) ?? sorted[0]
    if (guarded !== undefined) expect(ids(decideRetention(us, p, now).keep)).toContain(guarded.id)
  })

  test.prop([units, policy], { numRuns: 300 })(
    "never removes a verified backup in favour of an unverified one: whenever a verified backup is removed while an unverified one is kept, deciding without that unverified backup still removes the verified one",
    (us, p) => {
      const d = decideRetention(us, p, now)
      const removedVerified = d.remove.filter((r) => r.unit.verified)
      for (const kept of d.keep.filter((k) => !k.unit.verified)) {
        const without = ids(
          decideRetention(
            us.filter((u) => u.id !== kept.unit.id),
            p,
            now,
          ).remove,
        )
        for (const r of removedVerified) expect(without).toContain(r.unit.id)
      }
    },
  )

  test.prop([units, fc.integer({ min: 0, max: 10 })])(
    "keep-last N keeps the max(1, N) newest verified backups (all when fewer), and an unverified one only in a slot left free: if a verified backup is removed, exactly max(1, N) verified and no unverified backups are kept",
    (us, n) => {
      const d = decideRetention(us, { keepLast: n }, now)
      const verified = us.filter((u) => u.verified).sort(newestFirst)
      const slots = Math.max(1, n)
      for (const u of verified.slice(0, slots)) expect(ids(d.keep)).toContain(u.id)
      const keptVerified = d.keep.filter((k) => k.unit.verified).length
      expect(keptVerified).toBe(Math.min(slots, verified.length))
      if (d.remove.some((r) => r.unit.verified)) expect(d.keep.filter((k) => !k.unit.verified)).toEqual([])
      expect(d.keep.length).toBe(Math.min(slots, us.length))
    },
  )

  test.prop([units, fc.integer({ min: 0, max: 20_000 })])("over the size limit every unverified backup is removed before a verified one", (us, max) => {
    const d = decideRetention(us, { maxTotalBytes: max }, now)
    if (d.remove.some((r) => r.unit.verified)) {
      const sorted = [...us].sort(newestFirst)
      const keptUnverified = d.keep.filter((k) => !k.unit.verified).map((k) => k.unit.id)
      expect(keptUnverified.filter((id) => id !== sorted.find((u) => u.verified)?.id)).toEqual([])
    }
  })

  test.prop([units, policy])("is idempotent: the kept backups are kept again", (us, p) => {
    const kept = decideRetention(us, p, now).keep.map((k) => k.unit)
    expect(decideRetention(kept, p, now).remove).toEqual([])
  })

  test.prop([units, policy])("stays under the size limit unless only the backup it must keep is left", (us, p) => {
    fc.pre(p.maxTotalBytes !== undefined)
    const d = decideRetention(us, p, now)
    const total = d.keep.reduce((a, k) => a + k.unit.bytes, 0)
    if (total > p.maxTotalBytes!) {
      for (const k of d.keep) expect(k.reason).toMatch(/always kept/)
    }
  })

  test.prop([units, policy, fc.integer({ min: 6 * 60, max: 400 * 86_400 }), fc.boolean()])(
    "a backup dated ahead of the clock is kept and changes nothing for the others (keep-last 1 would otherwise delete every later one)",
    (us, p, aheadSeconds, verified) => {
      const future = unit(999, now + aheadSeconds * 1000, 10, verified)
      const without = decideRetention(us, p, now)
      const withIt = decideRetention([...us, future], p, now)
      expect(ids(withIt.remove)).toEqual(ids(without.remove))
      expect(withIt.keep.find((k) => k.unit.id === "b999")?.reason).toMatch(/ahead of this clock/)
    },
  )

  it("keep-last 1 keeps the backup just taken beside one a fast clock dated next year", () => {
    const fast = unit(1, now + 365 * 86_400_000, 10, true)
    const current = unit(2, now - 60_000, 10, true)
    const d = decideRetention([fast, current], { keepLast: 1 }, now)
    expect(ids(d.keep)).toEqual(["b1", "b2"])
    expect(d.remove).toEqual([])
    // Within the skew a backup is an ordinary one: a clock a minute ahead is not wrong.
    expect(ids(decideRetention([unit(3, now + 60_000, 10, true), current], { keepLast: 1 }, now).remove)).toEqual(["b2"])
  })

  it("keeps the older verified backup, not a newer unverified pair, under --keep-last 1 (the issue's case)", () => {
    const older = unit(1, Date.parse("2026-03-01T01:00:00Z"), 10, true)
    const newer = unit(2, Date.parse("2026-03-02T01:00:00Z"), 10, false)
    const d = decideRetention([older, newer], { keepLast: 1 }, now)
    expect(ids(d.keep)).toEqual(["b1"])
    expect(d.keep[0]!.reason).toMatch(/newest verified/)
    expect(d.remove[0]!.reason).toMatch(/unverified/)
  })

  it("gives unverified backups the slots verified ones leave free, day by day", () => {
    const us = [
      unit(1, Date.parse("2026-03-01T01:00:00Z"), 10, true),
      unit(2, Date.parse("2026-03-01T13:00:00Z"), 10, true),
      unit(3, Date.parse("2026-03-02T01:00:00Z"), 10, false),
      unit(4, Date.parse("2026-03-03T02:00:00Z"), 10, false),
      unit(5, Date.parse("2026-03-03T03:00:00Z"), 10, false),
    ]
    const d = decideRetention(us, { keepDaily: 2 }, now)
    // One verified day (March 1st, its newest), then the newest unverified day (March 3rd).
    expect(ids(d.keep)).toEqual(["b2", "b5"])
    expect(d.keep.find((k) => k.unit.id === "b5")?.reason).toMatch(/unverified/)
  })

  it("an empty policy is recognised (prune refuses it)", () => {
    expect(hasRule({})).toBe(false)
    expect(hasRule({ keepLast: 3 })).toBe(true)
  })
})

describe("decideRetention with backups verify passed (checked)", () => {
  const checkedUnits = fc
    .array(fc.record({ offset: fc.integer({ min: 0, max: 400 * 86_400 }), bytes: fc.integer({ min: 1, max: 1000 }), checked: fc.boolean() }), { maxLength: 40 })
    .map((xs) => xs.map((x, i) => ({ ...unit(i, start + x.offset * 1000, x.bytes, true), checked: x.checked })))

  test.prop([checkedUnits, policy], { numRuns: 300 })(
    "never removes the newest backup verify passed, nor the newest complete one, whatever the rules",
    (us, p) => {
      const sorted = [...us].sort(newestFirst)
      const kept = ids(decideRetention(us, p, now).keep)
      const newestChecked = sorted.find((u) => u.checked)
      if (newestChecked !== undefined) expect(kept).toContain(newestChecked.id)
      if (sorted[0] !== undefined) expect(kept).toContain(sorted[0].id)
    },
  )

  test.prop([checkedUnits, policy])("keeps or removes every backup exactly once", (us, p) => {
    const d = decideRetention(us, p, now)
    expect([...ids(d.keep), ...ids(d.remove)].sort()).toEqual(us.map((u) => u.id).sort())
  })

  it("keeps an old checked backup under keep-last 1 and a max age it is past, beside the newest", () => {
    const old = { ...unit(1, start, 10, true), checked: true }
    const newer = { ...unit(2, start + 86_400_000, 10, true), checked: false }
    const d = decideRetention([old, newer], { keepLast: 1, maxAgeMs: 3_600_000, maxTotalBytes: 10 }, now)
    expect(ids(d.keep)).toEqual(["b1", "b2"])
    expect(d.keep.find((k) => k.unit.id === "b1")?.reason).toBe("the newest backup verify passed (always kept)")
  })
})

describe("decideRetentionBefore (making room for a backup before its upload)", () => {
  const incomingArb = fc
    .record({ offset: fc.integer({ min: 0, max: 402 * 86_400 }), bytes: fc.integer({ min: 1, max: 1000 }), checked: fc.boolean(), replaces: fc.boolean() })
    .map((x) => ({ ...unit(999, start + x.offset * 1000, x.bytes, true), checked: x.checked, replaces: x.replaces }))
  const checkedUnits = fc
    .tuple(units, fc.array(fc.boolean(), { maxLength: 40 }))
    .map(([us, checks]) => us.map((u, i) => ({ ...u, checked: u.verified && checks[i] === true })))
  const setUp = (us: ReadonlyArray<BackupUnit>, x: BackupUnit & { replaces: boolean }) => {
    const { replaces, ...incoming } = x
    // Sometimes a re-upload: the store holds a backup of the incoming one's id.
    return { incoming: replaces && us.length > 0 ? { ...incoming, id: us[0]!.id } : incoming }
  }

  test.prop([checkedUnits, incomingArb, policy])("decides on every stored backup exactly once, never on the incoming one", (us, x, p) => {
    const { incoming } = setUp(us, x)
    const d = decideRetentionBefore(us, incoming, p, now)
    expect([...ids(d.keep), ...ids(d.remove)].sort()).toEqual(
      us
        .filter((u) => u.id !== incoming.id)
        .map((u) => u.id)
        .sort(),
    )
  })

  test.prop([checkedUnits, incomingArb, policy])("removes only what the policy removes once the incoming backup is stored", (us, x, p) => {
    const { incoming } = setUp(us, x)
    const after = ids(decideRetention([...us.filter((u) => u.id !== incoming.id), incoming], p, now).remove)
    for (const id of ids(decideRetentionBefore(us, incoming, p, now).remove)) expect(after).toContain(id)
  })

  test.prop([checkedUnits, incomingArb, policy])(
    "never removes what the store's own decision always keeps (its newest backup, the newest verify passed)",
    (us, x, p) => {
      const { incoming } = setUp(us, x)
      const stored = us.filter((u) => u.id !== incoming.id && u.at <= now + futureSkewMs).sort(newestFirst)
      const guarded = [stored.find((u) => u.verified) ?? stored[0], stored.find((u) => u.verified && u.checked)].filter((u) => u !== undefined)
      const removed = ids(decideRetentionBefore(us, incoming, p, now).remove)
      for (const u of guarded) expect(removed).not.toContain(u.id)
    },
  )

  it("with --keep-last 2 and two stored, removes the older one for the third; with --keep-last 1 too: the newest stays until the new one is stored", () => {
    const a = unit(1, start, 10, true)
    const b = unit(2, start + 86_400_000, 10, true)
    const c = unit(3, start + 2 * 86_400_000, 10, true)
    expect(ids(decideRetentionBefore([a, b], c, { keepLast: 2 }, now).remove)).toEqual(["b1"])
    const one = decideRetentionBefore([a, b], c, { keepLast: 1 }, now)
    expect(ids(one.remove)).toEqual(["b1"])
    expect(one.keep.map((k) => k.reason)).toEqual(["the newest verified backup while backup b3 is not stored yet (kept until then)"])
  })
})
