import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { decide, defaultMinIntervalMs, defaultSettleMs, renderClockSkewMs, type DecisionInput } from "../../src/domain/controller-decision.ts"
import { revisionSetsEqual, type RevisionSet } from "../../src/domain/revisions.ts"
import { operandArb, revisionSetArb } from "./arbitraries.ts"

const set = (etcd: number, kas = 7): RevisionSet => ({ etcd, "kube-apiserver": kas, "kube-controller-manager": 7, "kube-scheduler": 7 })
const t0 = Date.UTC(2024, 4, 1, 12)
const minute = 60_000

describe("decide: examples", () => {
  it("is UpToDate when the last render named the observed revisions", () => {
    expect(decide({ observed: set(3), lastRendered: set(3), lastRenderAt: t0, stableSince: t0, now: t0 })).toEqual({ _tag: "UpToDate" })
  })

  it("waits for the settle time before the first render, then renders every operand", () => {
    const input = { observed: set(3), lastRendered: undefined, lastRenderAt: undefined, stableSince: t0, now: t0 + 10_000 }
    expect(decide(input)).toMatchObject({ _tag: "WaitUntil", at: t0 + defaultSettleMs })
    const d = decide({ ...input, now: t0 + defaultSettleMs })
    expect(d._tag).toBe("Render")
    if (d._tag === "Render") {
      expect(d.revisions).toEqual(set(3))
      expect(d.changes).toHaveLength(4)
      expect(d.reasons.join()).toContain("no backup pod spec rendered yet")
    }
  })

  it("rate-limits a change that comes soon after the last render", () => {
    const d = decide({ observed: set(4), lastRendered: set(3), lastRenderAt: t0, stableSince: t0 + minute, now: t0 + 2 * minute })
    expect(d).toMatchObject({ _tag: "WaitUntil", at: t0 + defaultMinIntervalMs })
    if (d._tag === "WaitUntil") expect(d.reason).toContain("etcd 3 -> 4")
  })

  it("renders a settled change once the minimum interval has passed, naming what changed", () => {
    const d = decide({ observed: set(4, 8), lastRendered: set(3), lastRenderAt: t0, stableSince: t0, now: t0 + defaultMinIntervalMs })
    expect(d).toEqual({
      _tag: "Render",
      revisions: set(4, 8),
      changes: [
        { operand: "etcd", from: 3, to: 4 },
        { operand: "kube-apiserver", from: 7, to: 8 },
      ],
      reasons: ["revision changed: etcd 3 -> 4", "revision changed: kube-apiserver 7 -> 8"],
    })
  })

  it("without a known render time, only the settle time applies", () => {
    const d = decide({ observed: set(4), lastRendered: set(3), lastRenderAt: undefined, stableSince: t0, now: t0 + defaultSettleMs })
    expect(d._tag).toBe("Render")
  })

  it("honours custom intervals", () => {
    const base = { observed: set(4), lastRendered: set(3), lastRenderAt: t0, stableSince: t0, minIntervalMs: 5 * minute, settleMs: 0 }
    expect(decide({ ...base, now: t0 + 5 * minute - 1 })).toMatchObject({ _tag: "WaitUntil", at: t0 + 5 * minute })
    expect(decide({ ...base, now: t0 + 5 * minute })._tag).toBe("Render")
  })
})

/** Inputs around one instant: times within a few hours, intervals from 0 to 2 hours. */
const inputArb: fc.Arbitrary<DecisionInput> = fc
  .record({
    observed: revisionSetArb,
    lastRendered: fc.option(revisionSetArb, { nil: undefined }),
    sameAsLast: fc.boolean(),
    lastRenderAgo: fc.option(fc.integer({ min: -minute, max: 3 * 3_600_000 }), { nil: undefined }),
    stableAgo: fc.integer({ min: -minute, max: 3_600_000 }),
    now: fc.integer({ min: t0, max: t0 + 86_400_000 }),
    minIntervalMs: fc.option(fc.integer({ min: 0, max: 2 * 3_600_000 }), { nil: undefined }),
    settleMs: fc.option(fc.integer({ min: 0, max: 10 * minute }), { nil: undefined }),
  })
  .map((r) => ({
    observed: r.observed,
    lastRendered: r.sameAsLast && r.lastRendered !== undefined ? r.observed : r.lastRendered,
    lastRenderAt: r.lastRenderAgo === undefined ? undefined : r.now - r.lastRenderAgo,
    stableSince: r.now - r.stableAgo,
    now: r.now,
    ...(r.minIntervalMs === undefined ? {} : { minIntervalMs: r.minIntervalMs }),
    ...(r.settleMs === undefined ? {} : { settleMs: r.settleMs }),
  }))

describe("decide: properties", () => {
  test.prop([inputArb], { numRuns: 1000 })("Render iff changed, settled and past the minimum interval; UpToDate iff unchanged", (input) => {
    const d = decide(input)
    const changed = input.lastRendered === undefined || !revisionSetsEqual(input.observed, input.lastRendered)
    const settled = input.now - input.stableSince >= (input.settleMs ?? defaultSettleMs)
    const allowed = input.lastRenderAt === undefined || input.now - input.lastRenderAt >= (input.minIntervalMs ?? defaultMinIntervalMs)
    expect(d._tag === "UpToDate").toBe(!changed)
    expect(d._tag === "Render").toBe(changed && settled && allowed)
    if (d._tag === "Render") expect(d.revisions).toEqual(input.observed)
  })

  test.prop([inputArb, fc.integer({ min: 1, max: 400 * 86_400_000 })], { numRuns: 300 })(
    "a render time further ahead of the clock than renderClockSkewMs (a clock that ran ahead, set right since) holds nothing back: it counts as unknown",
    (input, ahead) => {
      const future = { ...input, lastRenderAt: input.now + renderClockSkewMs + ahead }
      expect(decide(future)).toEqual(decide({ ...input, lastRenderAt: undefined }))
      // Within the skew (replicas' clocks differ a little) it still rate-limits a change.
      const near = decide({ ...input, lastRenderAt: input.now + renderClockSkewMs })
      expect(near._tag).toBe(decide({ ...input, lastRenderAt: undefined })._tag === "UpToDate" ? "UpToDate" : "WaitUntil")
    },
  )

  test.prop([inputArb], { numRuns: 1000 })("WaitUntil is in the future, and re-deciding then (nothing else changed) renders", (input) => {
    const d = decide(input)
    if (d._tag !== "WaitUntil") return
    expect(d.at).toBeGreaterThan(input.now)
    expect(d.reason.length).toBeGreaterThan(0)
    expect(decide({ ...input, now: d.at })._tag).toBe("Render")
    expect(decide({ ...input, now: d.at - 1 })._tag).toBe("WaitUntil")
  })

  /** A controller's life: revisions bump at random moments, reconciles run at random moments. */
  const lifeArb = fc.record({
    start: revisionSetArb,
    steps: fc.array(fc.record({ dt: fc.integer({ min: 0, max: 20 * minute }), bump: fc.option(operandArb, { nil: undefined, freq: 3 }) }), {
      minLength: 1,
      maxLength: 120,
    }),
    minIntervalMs: fc.integer({ min: 0, max: 3_600_000 }),
    settleMs: fc.integer({ min: 0, max: 5 * minute }),
  })

  test.prop([lifeArb], { numRuns: 300 })(
    "never renders twice within the minimum interval, and always catches up once revisions stop moving",
    ({ start, steps, minIntervalMs, settleMs }) => {
      let now = t0
      let observed = start
      let stableSince = now
      let lastRendered: RevisionSet | undefined
      let lastRenderAt: number | undefined
      const renders: Array<number> = []
      const reconcile = () => {
        const d = decide({ observed, lastRendered, lastRenderAt, stableSince, now, minIntervalMs, settleMs })
        if (d._tag === "Render") {
          renders.push(now)
          lastRendered = d.revisions
          lastRenderAt = now
        }
        return d
      }
      for (const { dt, bump } of steps) {
        now += dt
        if (bump !== undefined) {
          observed = { ...observed, [bump]: observed[bump] + 1 }
          stableSince = now
        }
        reconcile()
      }
      for (let i = 1; i < renders.length; i++) expect(renders[i]! - renders[i - 1]!).toBeGreaterThanOrEqual(minIntervalMs)
      // Quiet from now on: following WaitUntil leads to the observed set being rendered, then UpToDate.
      for (let i = 0; i < 3; i++) {
        const d = reconcile()
        if (d._tag === "WaitUntil") now = d.at
        if (d._tag === "UpToDate") break
      }
      expect(reconcile()._tag).toBe("UpToDate")
      expect(lastRendered).toEqual(observed)
    },
  )
})
