import { fc } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { failureStreak, historyDeletions, overdueAfter, overdueGraceMs, policyRuns } from "../../src/domain/policy-runs.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { hour, type Pod, podOf, podsArb, t0 } from "./policy-pods.ts"

const limits = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }))

describe("policyRuns", () => {
  it("orders runs newest first and reads each pod's outcome, report and attempt", () => {
    fc.assert(
      fc.property(podsArb("nightly"), (pods) => {
        const runs = policyRuns(pods, t0)
        expect(runs.map((r) => r.pod)).toEqual([...pods].reverse().map((p) => p.name))
        for (const r of runs) {
          const pod = pods.find((p) => p.name === r.pod)!
          expect(r.outcome._tag).toBe(pod.phase === "Running" ? "Running" : pod.phase === "Succeeded" ? "Complete" : "Failed")
          if (r.outcome._tag === "Complete") expect(r.report?._tag).toBe(pod.initContainers[1]?.terminated?.message === undefined ? "NoReport" : "Report")
          expect(r.endedAt).toBeGreaterThanOrEqual(r.startedAt)
        }
      }),
    )
  })
})

describe("historyDeletions", () => {
  it("deletes, oldest first, exactly the finished pods beyond each limit, never a running or deleting one", () => {
    fc.assert(
      fc.property(podsArb("nightly"), limits, fc.array(fc.boolean(), { maxLength: 8 }), (pods, [ok, failed], deleting) => {
        const marked = pods.map((p, i) => ({ ...p, deleting: deleting[i] ?? false }))
        const runs = policyRuns(marked, t0)
        const deleted = historyDeletions(runs, ok, failed)
        const byName = new Map(runs.map((r) => [r.pod, r]))
        for (const name of deleted) {
          expect(byName.get(name)!.outcome._tag).not.toBe("Running")
          expect(byName.get(name)!.deleting).toBe(false)
        }
        const starts = deleted.map((n) => byName.get(n)!.startedAt)
        expect(starts).toEqual([...starts].sort((a, b) => a - b))
        for (const [tag, keep] of [
          ["Complete", ok],
          ["Failed", failed],
        ] as const) {
          const ofKind = runs.filter((r) => r.outcome._tag === tag)
          const expected = ofKind
            .slice(keep)
            .filter((r) => !r.deleting)
            .map((r) => r.pod)
          expect(deleted.filter((n) => byName.get(n)!.outcome._tag === tag).sort()).toEqual([...expected].sort())
        }
      }),
    )
  })
})

describe("failureStreak", () => {
  it("is 0 when the newest finished pod succeeded, else the newest failed pod's attempt or the failures kept since the last success", () => {
    fc.assert(
      fc.property(podsArb("nightly"), (pods) => {
        const runs = policyRuns(pods, t0)
        const finished = runs.filter((r) => r.outcome._tag !== "Running")
        const streak = failureStreak(runs, {})
        if (finished[0] === undefined || finished[0].outcome._tag === "Complete") expect(streak.count).toBe(0)
        else {
          const since = finished.findIndex((r) => r.outcome._tag === "Complete")
          expect(streak.count).toBe(finished[0].attempt ?? (since === -1 ? finished.length : since))
          expect(streak.lastFailureTime).toBe(finished[0].endedAt)
        }
      }),
    )
  })

  it("with the pods gone, the status tells: a failure after the last success is one; a success after the last failure is none", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 0, max: 48 }), (failedH, succeededH) => {
        const status = {
          lastFailure: { time: formatRfc3339Utc(t0 - failedH * hour), reason: "BackupUploadFailed" },
          lastSuccessfulBackup: { id: "x", time: formatRfc3339Utc(t0 - succeededH * hour) },
        }
        expect(failureStreak([], status).count).toBe(failedH < succeededH ? 1 : 0)
      }),
    )
  })

  it("a success recorded after the newest kept failed pod (its own pod deleted) ends the streak", () => {
    const failed = policyRuns([podOf("nightly", 1, t0 - 3 * hour, "upload-failed", 4)], t0)
    expect(failureStreak(failed, {}).count).toBe(4)
    expect(failureStreak(failed, { lastSuccessfulBackup: { id: "later", time: formatRfc3339Utc(t0 - hour) } }).count).toBe(0)
  })
})

describe("a run Kubernetes will not end", () => {
  const deadline = 3600
  const pending = (over: Partial<Pod> = {}): Pod => ({
    ...podOf("nightly", 1, t0, "running"),
    phase: "Pending",
    initContainers: [],
    deadlineSeconds: deadline,
    waiting: "Unschedulable: 0/3 nodes are available: 3 node(s) were unschedulable",
    ...over,
  })

  it("a pod never started is running until a deadline after its creation, then failed (NeverStarted) quoting why it waits, and deleted whatever the limits", () => {
    const before = policyRuns([pending()], t0 + hour - 1)[0]!
    expect(before.outcome._tag).toBe("Running")
    expect(before.overdueAt).toBe(t0 + hour)
    expect(historyDeletions([before], 3, 3)).toEqual([])
    const after = policyRuns([pending()], t0 + hour)[0]!
    expect(after.outcome).toMatchObject({ _tag: "Failed", at: t0 + hour })
    expect((after.outcome as { reason: string }).reason).toMatch(/did not start within its deadline \(1h\).*0\/3 nodes are available/)
    expect(after).toMatchObject({ podReason: "NeverStarted", overdue: true, endedAt: t0 + hour, overdueAt: undefined })
    expect(historyDeletions([after], 3, 3)).toEqual([after.pod])
    expect(historyDeletions([{ ...after, deleting: true }], 0, 0)).toEqual([])
  })

  it("a started pod gets its deadline plus a grace from its start before it counts as lost (Overdue)", () => {
    const started = pending({ phase: "Running", startedAt: t0 + 5 * 60_000 })
    const due = t0 + 5 * 60_000 + hour + overdueGraceMs
    expect(policyRuns([started], due - 1)[0]!.outcome._tag).toBe("Running")
    expect(policyRuns([started], due)[0]).toMatchObject({ podReason: "Overdue", overdue: true, outcome: { _tag: "Failed", at: due } })
  })

  it("is decided only from the pod: without a deadline or a creation time it stays running; an ended pod is never overdue", () => {
    fc.assert(
      fc.property(
        podsArb("nightly"),
        fc.integer({ min: 0, max: 48 * hour }),
        fc.option(fc.integer({ min: 0, max: hour }), { nil: undefined }),
        (pods, later, startDelay) => {
          const now = t0 + later
          const withDeadline = pods.map((p) => ({
            ...p,
            deadlineSeconds: deadline,
            startedAt: startDelay === undefined ? undefined : (p.createdAt ?? 0) + startDelay,
          }))
          for (const r of policyRuns(withDeadline, now)) {
            const pod = withDeadline.find((p) => p.name === r.pod)!
            const limit = overdueAfter(pod)!
            if (pod.phase === "Running") {
              expect(r.overdue).toBe(now >= limit)
              expect(r.outcome._tag).toBe(now >= limit ? "Failed" : "Running")
            } else expect(r.overdue).toBe(false)
          }
          for (const r of policyRuns(pods, now)) expect(r.overdue).toBe(false)
        },
      ),
    )
  })
})
