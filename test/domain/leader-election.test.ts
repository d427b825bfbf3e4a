import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  defaultElectionTimings,
  electionStep,
  electionTimingsProblem,
  formatMicroTime,
  leaseExpiry,
  mayAct,
  parseKubeTime,
  releasedLease,
  type ElectionConfig,
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

describe("electionStep", () => {
  it("creates a Lease when none exists", () => {
    expect(electionStep(config("a"), undefined, 5)._tag).toBe("Create")
  })

  test.prop([ids, lease, fc.integer({ min: 0, max: 2e12 })])("the holder always renews", (id, l, now) => {
    const step = electionStep(config(id), { ...l, holderIdentity: id }, now)
    expect(step._tag).toBe("Renew")
    if (step._tag === "Renew") expect(step.lease.renewTime).toBe(now)
  })

  test.prop([ids, lease, fc.integer({ min: 0, max: 2e12 })])("another candidate takes over only an expired or released lease", (id, l, now) => {
    fc.pre(l.holderIdentity !== id)
    const step = electionStep(config(id), l, now)
    const free = l.holderIdentity === "" || now >= leaseExpiry(l)
    expect(step._tag).toBe(free ? "Acquire" : "Follow")
    if (step._tag === "Acquire") {
      expect(step.lease.holderIdentity).toBe(id)
      expect(step.lease.leaseTransitions).toBe(l.leaseTransitions + 1)
    }
  })

  test.prop([lease, fc.integer({ min: 0, max: 2e12 })])("a leader still allowed to act holds a lease nobody else may take", (l, now) => {
    const c = config("a")
    // The leader renewed at l.renewTime; if it may act now, no other candidate may acquire now.
    const held = { ...l, holderIdentity: "a", leaseDurationSeconds: Math.ceil(c.leaseDurationMs / 1000) }
    if (mayAct(c, held.renewTime, now) && now >= held.renewTime) {
      expect(electionStep(config("b"), held, now)._tag).toBe("Follow")
    }
  })

  it("a released lease is free at once", () => {
    const held: LeaseRecord = { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: 0, renewTime: 1000, leaseTransitions: 2 }
    expect(electionStep(config("b"), releasedLease(held, 1500), 1600)._tag).toBe("Acquire")
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
