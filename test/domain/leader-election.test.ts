import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  defaultElectionTimings,
  electionStep,
  electionTimingsProblem,
  formatMicroTime,
  mayAct,
  observeLease,
  parseKubeTime,
  releasedLease,
  type ElectionConfig,
  type LeaseObservation,
  type LeaseRecord,
} from "../../src/domain/leader-election.ts"

const config = (identity: string): ElectionConfig => ({ identity, ...defaultElectionTimings })
const ids = fc.constantFrom("a", "b", "c")
const lease: fc.Arbitrary<LeaseRecord> = fc.record({
  holderIdentity: fc.constantFrom("", "a", "b", "c"),
  leaseDurationSeconds: fc.integer({ min: 1, max: 60 }),
  acquireTime: fc.integer({ min: 0, max: 1e12 }),
  renewTime: fc.integer({ min: 0, max: 1e12 }),
  leaseTransitions: fc.integer({ min: 0, max: 1000 }),
})

const observedAt = (record: LeaseRecord, at: number): LeaseObservation => ({ record, at })

describe("electionStep", () => {
  it("creates a Lease when none exists", () => {
    expect(electionStep(config("a"), undefined, 5)._tag).toBe("Create")
  })

  test.prop([ids, lease, fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: 2e12 })])("the holder always renews", (id, l, at, now) => {
    const step = electionStep(config(id), observedAt({ ...l, holderIdentity: id }, at), now)
    expect(step._tag).toBe("Renew")
    if (step._tag === "Renew") expect(step.lease.renewTime).toBe(now)
  })

  test.prop([ids, lease, fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: 2e12 })])(
    "another candidate takes over only a lease released, or unchanged for its duration by the candidate's own clock",
    (id, l, at, now) => {
      fc.pre(l.holderIdentity !== id)
      const step = electionStep(config(id), observedAt(l, at), now)
      const free = l.holderIdentity === "" || now >= at + l.leaseDurationSeconds * 1000
      expect(step._tag).toBe(free ? "Acquire" : "Follow")
      if (step._tag === "Acquire") {
        expect(step.lease.holderIdentity).toBe(id)
        expect(step.lease.leaseTransitions).toBe(l.leaseTransitions + 1)
      }
    },
  )

  test.prop([ids, lease, fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: 2e12 })])(
    "the wall time only goes into the Lease written: expiry is judged on the monotonic time alone, so a wall-clock step changes no decision",
    (id, l, at, now, wallNow) => {
      const step = electionStep(config(id), observedAt(l, at), now, wallNow)
      expect(step._tag).toBe(electionStep(config(id), observedAt(l, at), now, now)._tag)
      if (step._tag !== "Follow") expect(step.lease.renewTime).toBe(wallNow)
    },
  )

  test.prop([
    lease,
    fc.integer({ min: 0, max: 1e12 }),
    fc.integer({ min: 0, max: 1e9 }),
    fc.integer({ min: -1e9, max: 1e9 }),
    fc.integer({ min: 0, max: 1e9 }),
  ])("a leader still allowed to act holds a lease nobody else may take, whatever the skew between their clocks", (l, renewedAt, seenAfter, skew, later) => {
    const c = config("a")
    // The leader renewed at `renewedAt` (real time = its clock); the follower, whose clock reads real time + skew,
    // read the renewed Lease `seenAfter` later and asks again `later` after that.
    const held = { ...l, holderIdentity: "a", renewTime: renewedAt, leaseDurationSeconds: Math.ceil(c.leaseDurationMs / 1000) }
    const observed = observeLease(observedAt(l, 0), held, renewedAt + seenAfter + skew)
    const realNow = renewedAt + seenAfter + later
    if (mayAct(c, held.renewTime, realNow)) expect(electionStep(config("b"), observed, realNow + skew)._tag).toBe("Follow")
  })

  it("a follower whose clock runs a day ahead follows a leader renewing now (the holder's renewTime looks a day old)", () => {
    const c = config("b")
    const day = 86_400_000
    const held: LeaseRecord = { holderIdentity: "a", leaseDurationSeconds: 137, acquireTime: 0, renewTime: 1_000_000, leaseTransitions: 0 }
    const observed = observeLease(undefined, held, 1_000_000 + day)
    expect(electionStep(c, observed, 1_000_000 + day + 1000)._tag).toBe("Follow")
    // Unchanged for its duration by the follower's own clock: it expired.
    expect(electionStep(c, observeLease(observed, held, 1_000_000 + day + 137_000), 1_000_000 + day + 137_000)._tag).toBe("Acquire")
  })

  it("a released lease is free at once", () => {
    const held: LeaseRecord = { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: 0, renewTime: 1000, leaseTransitions: 2 }
    expect(electionStep(config("b"), observeLease(undefined, releasedLease(held, 1500), 1600), 1600)._tag).toBe("Acquire")
  })
})

describe("observeLease", () => {
  test.prop([lease, fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e12 })])("keeps the time it first saw an unchanged Lease", (l, at, now) => {
    expect(observeLease(observedAt(l, at), { ...l }, now)).toEqual({ record: l, at })
  })
  test.prop([lease, fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e12 })])("takes the time now for a Lease that changed", (l, at, now) => {
    const renewed = { ...l, renewTime: l.renewTime + 1 }
    expect(observeLease(observedAt(l, at), renewed, now)).toEqual({ record: renewed, at: now })
    expect(observeLease(observedAt(l, at), undefined, now)).toBeUndefined()
  })
})

describe("Kubernetes time formats", () => {
  test.prop([fc.integer({ min: 0, max: 253402300799000 })])("MicroTime round-trips to the millisecond", (ms) => {
    const text = formatMicroTime(ms)
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(parseKubeTime(text)).toBe(ms)
  })
  it("an unparsable time is undefined", () => {
    expect(parseKubeTime("yesterday")).toBeUndefined()
  })
})

describe("election timings", () => {
  it("default to OpenShift's operator timings: 137 s lease, 107 s renew deadline, 26 s retry period (~2 Lease writes a minute)", () => {
    expect(defaultElectionTimings).toEqual({ leaseDurationMs: 137_000, renewDeadlineMs: 107_000, retryPeriodMs: 26_000 })
    expect(electionTimingsProblem(defaultElectionTimings)).toBeUndefined()
    expect(60_000 / defaultElectionTimings.retryPeriodMs).toBeLessThan(3)
  })

  const ms = fc.integer({ min: 1, max: 1_000_000 })
  test.prop([ms, ms, ms])("are usable exactly when retry period < renew deadline < lease duration", (leaseDurationMs, renewDeadlineMs, retryPeriodMs) => {
    const problem = electionTimingsProblem({ leaseDurationMs, renewDeadlineMs, retryPeriodMs })
    expect(problem === undefined).toBe(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)
    if (renewDeadlineMs >= leaseDurationMs) expect(problem?.setting).toBe("renewDeadline")
    else if (retryPeriodMs >= renewDeadlineMs) expect(problem?.setting).toBe("retryPeriod")
  })
})
