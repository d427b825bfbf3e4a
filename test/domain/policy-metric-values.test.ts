import { fc } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { policyMetricValues } from "../../src/domain/policy-metric-values.ts"
import { policyRuns } from "../../src/domain/policy-runs.ts"
import { podsArb, t0 } from "./policy-pods.ts"

describe("policyMetricValues", () => {
  it("reads the newest complete pod's finish, its upload, the newest run's duration and whether the store was reached", () => {
    fc.assert(
      fc.property(podsArb("nightly"), (pods) => {
        const runs = policyRuns(pods, t0)
        const v = policyMetricValues({ name: "nightly", policy: undefined, created: t0, status: {}, runs, scheduleIntervalMs: undefined })
        const complete = runs.find((r) => r.outcome._tag === "Complete")
        expect(v.lastSuccess).toBe(complete?.endedAt)
        expect(v.completed?.pod).toBe(complete?.report?._tag === "Report" ? complete.pod : undefined)
        const finished = runs.find((r) => r.outcome._tag !== "Running")
        expect(v.lastDurationMs).toBe(finished === undefined ? undefined : finished.endedAt - finished.startedAt)
        const reached = runs.find((r) => r.outcome._tag === "Complete" || r.failedContainer === "backup-upload")
        expect(v.storeReachable).toBe(reached === undefined ? undefined : reached.outcome._tag === "Complete")
        // Nothing the status does not record.
        expect(v.lastFailure).toBeUndefined()
        expect(v.newestVerified).toBeUndefined()
      }),
    )
  })

  it("says a pod cannot start exactly while the running pod cannot", () => {
    const stuck = "container backup-init: ImagePullBackOff: Back-off pulling image"
    fc.assert(
      fc.property(podsArb("nightly"), fc.boolean(), (pods, cannotStart) => {
        const runs = policyRuns(
          pods.map((p) => (cannotStart && p.phase === "Running" ? { ...p, stuck } : p)),
          t0,
        )
        const v = policyMetricValues({ name: "nightly", policy: undefined, created: t0, status: {}, runs, scheduleIntervalMs: undefined })
        const running = runs.find((r) => r.outcome._tag === "Running")
        expect(v.podNotStarting).toBe(cannotStart && running !== undefined)
        if (running !== undefined) expect(running.stuck).toBe(cannotStart ? stuck : undefined)
      }),
    )
  })
})
