import fc from "fast-check"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decidePrune, type KeptItem, type KeptKind, keptKinds } from "../../src/domain/kept-on-host.ts"
import { encodePruneHostReport, PruneHostReport, pruneHostReport, type RemovalOutcome } from "../../src/domain/prune-host-report.ts"

const itemArb: fc.Arbitrary<KeptItem> = fc.record({
  path: fc.stringMatching(/^\/[a-z][a-z/.-]{0,30}$/),
  kind: fc.constantFrom(...(Object.keys(keptKinds) as Array<KeptKind>)),
  bytes: fc.nat({ max: 2 ** 40 }),
  keptSinceMs: fc.integer({ min: 0, max: 2 ** 42 }),
  inUse: fc.constant(undefined),
})

const outcomeArb: fc.Arbitrary<RemovalOutcome> = fc.oneof(
  fc.constant({ _tag: "Removed" as const }),
  fc.constant({ _tag: "Held" as const, why: "a live run uses it" }),
  fc.constant({ _tag: "Failed" as const, why: "EPERM" }),
)

describe("pruneHostReport", () => {
  it("property: one entry per decision, with its verdict and outcome; removedBytes adds up what was removed; the JSON decodes back to it", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(itemArb, { selector: (i) => i.path, maxLength: 10 }),
        fc.nat({ max: 2 ** 42 }),
        fc.nat({ max: 30 * 86_400 }).map((s) => s * 1000),
        fc.boolean(),
        fc.option(fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
        fc.infiniteStream(outcomeArb),
        (items, now, olderThanMs, dryRun, refused, outcomeStream) => {
          const decisions = decidePrune(items, now, olderThanMs)
          const outcomes = new Map<string, RemovalOutcome>()
          if (!dryRun && refused === undefined) {
            for (const d of decisions) if (d.verdict._tag === "Remove") outcomes.set(d.item.path, outcomeStream.next().value)
          }
          const report = pruneHostReport({ root: "/host", dryRun, olderThanMs, refused }, decisions, outcomes)
          expect(report.entries.map((e) => e.path)).toEqual(decisions.map((d) => d.item.path))
          expect(report.refused).toEqual(refused)
          expect(report.olderThanSeconds * 1000).toBe(olderThanMs)
          for (const [i, e] of report.entries.entries()) {
            const d = decisions[i]!
            expect(e.verdict).toBe(d.verdict._tag === "Remove" ? "remove" : "keep")
            expect(e.outcome).toBe({ Removed: "removed", Held: "kept", Failed: "failed", none: undefined }[outcomes.get(e.path)?._tag ?? "none"])
            expect(e.error !== undefined).toBe(e.outcome === "kept" || e.outcome === "failed")
          }
          const removed = decisions.filter((d) => outcomes.get(d.item.path)?._tag === "Removed")
          expect(report.removedBytes).toBe(removed.reduce((t, d) => t + d.item.bytes, 0))
          expect(Schema.decodeUnknownSync(PruneHostReport)(JSON.parse(encodePruneHostReport(report)))).toEqual(report)
        },
      ),
    )
  })
})
