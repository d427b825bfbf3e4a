import { fc } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { conditionSays, policyConditions, type PolicyFacts } from "../../src/domain/policy-conditions.ts"

const blocked = fc.option(
  fc.record({
    reason: fc.constantFrom("InvalidSpec" as const, "RevisionsUnavailable" as const, "ProxySecretMissing" as const),
    message: fc.string({ maxLength: 20 }),
  }),
  { nil: undefined },
)
const facts: fc.Arbitrary<PolicyFacts> = fc.record({
  invalid: blocked.map((b) => (b === undefined ? undefined : { ...b, reason: "InvalidSpec" as const })),
  blocked,
  suspended: fc.boolean(),
  running: fc.option(fc.constantFrom("backup-a", "backup-b"), { nil: undefined }),
  runningStuck: fc.option(fc.constant("container backup-upload: ImagePullBackOff"), { nil: undefined }),
  runningPulling: fc.option(fc.constant('Pulling: Pulling image "x"'), { nil: undefined }),
  lastSuccess: fc.option(fc.record({ id: fc.constantFrom("b1", "b2"), time: fc.constant("2026-12-01T00:00:00Z") }), { nil: undefined }),
  failures: fc.integer({ min: 0, max: 5 }),
  lastFailureMessage: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  nextScheduleTime: fc.option(fc.constant("2026-12-01T01:00:00Z"), { nil: undefined }),
})
const t1 = Date.UTC(2026, 11, 1)
const t2 = t1 + 3_600_000

describe("policyConditions", () => {
  it("says Ready, Progressing and Degraded as the facts do", () => {
    fc.assert(
      fc.property(facts, (f) => {
        const [ready, progressing, degraded] = policyConditions(f, undefined, 3, t1)
        const proxyMissing = f.blocked?.reason === "ProxySecretMissing"
        expect(ready!.status).toBe(f.invalid === undefined && !proxyMissing && f.failures === 0 && f.lastSuccess !== undefined ? "True" : "False")
        if (f.invalid === undefined && proxyMissing) expect(ready!.reason).toBe("ProxySecretMissing")
        expect(progressing!.status).toBe(f.running === undefined ? "False" : "True")
        // A pod whose container cannot start says so, in the kubelet's words.
        expect(progressing!.reason === "BackupPodNotStarting").toBe(f.running !== undefined && f.runningStuck !== undefined)
        if (progressing!.reason === "BackupPodNotStarting") expect(progressing!.message).toContain(f.runningStuck)
        // A pod whose image is being pulled runs, and its message says so.
        if (progressing!.reason === "BackupRunning") expect(progressing!.message.includes("its image still being pulled")).toBe(f.runningPulling !== undefined)
        // No pod starts while the proxy Secret is missing: Progressing does not promise the next backup.
        if (f.running === undefined && f.invalid === undefined && !f.suspended && proxyMissing) expect(progressing!.reason).toBe("ProxySecretMissing")
        if (progressing!.reason === "Idle") expect(proxyMissing).toBe(false)
        expect(degraded!.status).toBe(f.invalid !== undefined || f.blocked !== undefined || f.failures > 0 ? "True" : "False")
        for (const c of [ready!, progressing!, degraded!]) {
          expect(c.observedGeneration).toBe(3)
          expect(c.reason).toMatch(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
        }
      }),
    )
  })

  it("while the proxy Secret is missing, Progressing says no backup starts instead of naming the next one", () => {
    fc.assert(
      fc.property(facts, (f) => {
        const idle = { ...f, invalid: undefined, suspended: false, running: undefined, runningStuck: undefined }
        const [, missing] = policyConditions({ ...idle, blocked: { reason: "ProxySecretMissing", message: "m" } }, undefined, 1, t1)
        expect(missing).toMatchObject({ status: "False", reason: "ProxySecretMissing" })
        expect(missing!.message).toContain("no backup starts")
        const [, fine] = policyConditions({ ...idle, blocked: undefined }, undefined, 1, t1)
        expect(fine!.reason).toBe("Idle")
      }),
    )
  })

  it("keeps a condition's transition time while its status stays, and moves it when the status changes", () => {
    fc.assert(
      fc.property(facts, facts, (before, after) => {
        const first = policyConditions(before, undefined, 1, t1)
        const second = policyConditions(after, first, 2, t2)
        for (const [i, c] of second.entries()) {
          expect(c.lastTransitionTime).toBe(c.status === first[i]!.status ? first[i]!.lastTransitionTime : "2026-12-01T01:00:00Z")
        }
        // The same facts again: nothing changes (a second sync writes nothing).
        expect(policyConditions(after, second, 2, t2 + 1000)).toEqual(second)
        for (const c of second) expect(conditionSays(second, c.type, { status: c.status as "True" | "False", reason: c.reason, message: c.message })).toBe(true)
      }),
    )
  })
})
