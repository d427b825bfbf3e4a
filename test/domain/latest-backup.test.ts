import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { formatBackupTimestamp } from "../../src/domain/archive-names.ts"
import { rankLatest, type LatestCandidate } from "../../src/domain/latest-backup.ts"
import { futureSkewMs } from "../../src/domain/retention.ts"

const now = Date.parse("2026-12-05T12:00:00Z")
const ts = (offsetSeconds: number) => formatBackupTimestamp(new Date(now + offsetSeconds * 1000))

/** Candidates a store might list: backups around now (some ahead of the clock), complete or not, some moved, some foreign names. */
const candidates: fc.Arbitrary<Array<LatestCandidate>> = fc
  .uniqueArray(
    fc.record({
      id: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: -90 * 86_400, max: 3_600 }).map(ts) },
        { weight: 1, arbitrary: fc.constantFrom("latest", "notes", "9999-99-99_999999") },
      ),
      complete: fc.boolean(),
      manifest: fc.constantFrom("own", "other", "none"),
    }),
    { selector: (c) => c.id, maxLength: 30 },
  )
  .map((cs) =>
    cs.map((c) => ({
      id: c.id,
      complete: c.complete,
      manifestTimestamp: c.manifest === "own" ? c.id : c.manifest === "other" ? ts(-1_000_000) : undefined,
    })),
  )

const fit = (c: LatestCandidate) =>
  /^\d{4}-\d{2}-\d{2}_\d{6}$/.test(c.id) &&
  c.id !== "9999-99-99_999999" &&
  c.complete &&
  c.manifestTimestamp === c.id &&
  Date.parse(`${c.id.slice(0, 10)}T${c.id.slice(11, 13)}:${c.id.slice(13, 15)}:${c.id.slice(15, 17)}Z`) <= now + futureSkewMs

describe("rankLatest", () => {
  test.prop([candidates])("ranks exactly the fit backups, newest first", (cs) => {
    expect(rankLatest(cs, now).fit).toEqual(
      cs
        .filter(fit)
        .map((c) => c.id)
        .sort()
        .reverse(),
    )
  })

  test.prop([candidates])("names, with a reason, each backup newer than the newest fit one, and no other", (cs) => {
    const ranking = rankLatest(cs, now)
    const first = ranking.fit[0] ?? ""
    const newer = cs.filter((c) => /^\d{4}-\d{2}-\d{2}_\d{6}$/.test(c.id) && c.id !== "9999-99-99_999999" && c.id > first).map((c) => c.id)
    expect(ranking.passedOver.map((p) => p.id)).toEqual(newer.sort().reverse())
    for (const p of ranking.passedOver) expect(p.reason).not.toBe("")
  })

  test.prop([candidates])("does not depend on the listing's order", (cs) => {
    expect(rankLatest([...cs].reverse(), now)).toEqual(rankLatest(cs, now))
  })

  it("passes over an incomplete backup, a moved one and one dated ahead of the clock, saying why", () => {
    const all = [
      { id: ts(-7200), complete: true, manifestTimestamp: ts(-7200) },
      { id: ts(-3600), complete: false, manifestTimestamp: undefined },
      { id: ts(-1800), complete: true, manifestTimestamp: ts(-7200) },
      { id: ts(3600), complete: true, manifestTimestamp: ts(3600) },
      { id: ts(60), complete: true, manifestTimestamp: ts(60) },
    ]
    expect(rankLatest(all, now)).toEqual({
      fit: [ts(60), ts(-7200)],
      passedOver: [{ id: ts(3600), reason: expect.stringMatching(/^dated ahead of this clock/) }],
    })
    expect(rankLatest(all.slice(0, 3), now)).toEqual({
      fit: [ts(-7200)],
      passedOver: [
        { id: ts(-1800), reason: expect.stringMatching(/manifest describes backup .*copied or moved/) },
        { id: ts(-3600), reason: "incomplete (see list)" },
      ],
    })
  })
})
