import { fc } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../src/domain/backup-policy.ts"
import { defaultBackoff } from "../../src/domain/backup-schedule.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { revisionsOfBackupPod } from "../../src/domain/pod-spec.ts"
import {
  emptyPolicyMemory,
  policyDesiredState,
  policyDiff,
  type PolicyDesiredState,
  type PolicyObjectView,
  type PolicyObserved,
  type PolicySettings,
  type PolicyWrite,
} from "../../src/domain/policy-desired-state.ts"
import { backupRequestAnnotation, scheduledTimeAnnotation } from "../../src/domain/policy-pod.ts"
import { attemptAnnotation } from "../../src/domain/policy-runs.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { hour, podOf, podsArb, revisions, t0, type Pod } from "./policy-pods.ts"

const settings: PolicySettings = {
  namespace: "openshift-etcd",
  podOptions: { image: "quay.io/example/cluster-backup:1" },
  settleMs: 0,
  table: defaultOperands,
  backoff: defaultBackoff,
}

const policyObject = (name: string, spec: Record<string, unknown>, status?: unknown, generation = 1): PolicyObjectView => ({
  metadata: { name, uid: `uid-${name}`, generation, creationTimestamp: formatRfc3339Utc(t0 - 48 * hour), resourceVersion: "1" },
  spec: { store: { pvc: { claimName: "backups" } }, ...spec },
  ...(status === undefined ? {} : { status }),
})

const observedOf = (policies: ReadonlyArray<PolicyObjectView>, pods: ReadonlyArray<Pod>, now = t0, memory = emptyPolicyMemory): PolicyObserved => ({
  now,
  revisions: Result.succeed(revisions),
  policies,
  pods,
  memory,
})

/** The cluster after the writes land, as the next sync reads it. */
const apply = (observed: PolicyObserved, writes: ReadonlyArray<PolicyWrite>, desired: PolicyDesiredState, now = observed.now): PolicyObserved => {
  let { policies, pods } = observed
  for (const w of writes) {
    if (w._tag === "CreatePod") {
      const metadata = w.pod.metadata as { name: string; annotations: Record<string, string>; labels: Record<string, string> }
      pods = [
        ...pods,
        {
          name: metadata.name,
          createdAt: now,
          revisions: revisionsOfBackupPod(w.pod),
          phase: "Pending",
          reason: undefined,
          message: undefined,
          initContainers: [],
          annotations: metadata.annotations,
          deleting: false,
          policy: metadata.labels["backup.openshift.io/policy"] ?? "",
        },
      ]
    }
    if (w._tag === "DeletePod") pods = pods.filter((p) => p.name !== w.pod)
    if (w._tag === "UpdateStatus") {
      policies = policies.map((p) => (p.metadata.name === w.policy ? { ...p, status: JSON.parse(JSON.stringify(w.status)) } : p))
    }
  }
  return { ...observed, now, policies, pods, memory: desired.memory }
}

const sync = (observed: PolicyObserved) => {
  const desired = policyDesiredState(observed, settings)
  const writes = policyDiff(observed, desired)
  return { desired, writes, next: apply(observed, writes, desired) }
}

const specArb = fc.record({
  schedule: fc.constantFrom("0 * * * *", "*/15 * * * *", "30 2 * * *"),
  suspend: fc.boolean(),
  onRevisionChange: fc.boolean(),
  successfulPodsHistoryLimit: fc.integer({ min: 0, max: 4 }),
  failedPodsHistoryLimit: fc.integer({ min: 0, max: 3 }),
})
const worldArb = fc
  .tuple(specArb, podsArb("nightly"), fc.integer({ min: 0, max: 6 * hour }))
  .map(([spec, pods, later]) => ({ policy: policyObject("nightly", spec), pods, now: t0 + later }))

const creates = (writes: ReadonlyArray<PolicyWrite>) => writes.filter((w) => w._tag === "CreatePod")
const deletes = (writes: ReadonlyArray<PolicyWrite>) => writes.filter((w) => w._tag === "DeletePod").map((w) => (w as { pod: string }).pod)
const statusOf = (observed: PolicyObserved, name = "nightly") => observed.policies.find((p) => p.metadata.name === name)?.status as BackupPolicyStatus
const condition = (observed: PolicyObserved, type: string, name = observed.policies[0]!.metadata.name) =>
  statusOf(observed, name).conditions!.find((c) => c.type === type)!

describe("policyDesiredState", () => {
  it("starts at most one backup per policy, and none while one of its pods still runs", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const { writes } = sync(observedOf([policy], pods, now))
        const running = pods.some((p) => p.phase === "Running")
        expect(creates(writes).length).toBeLessThanOrEqual(running ? 0 : 1)
      }),
      { numRuns: 100 },
    )
  })

  it("takes no pod owned by another uid for its own (a deleted policy's of the same name, not yet collected): it decides as without them", () => {
    fc.assert(
      fc.property(worldArb, podsArb("nightly"), ({ policy, pods, now }, foreign) => {
        const owned = pods.map((p) => ({ ...p, owner: policy.metadata.uid }))
        const stale = foreign.map((p) => ({ ...p, name: `old-${p.name}`, owner: "uid-of-a-deleted-nightly" }))
        const { desired } = sync(observedOf([policy], owned, now))
        expect(sync(observedOf([policy], [...owned, ...stale], now)).desired).toEqual(desired)
      }),
      { numRuns: 100 },
    )
  })

  it("records the running pod as the run in flight; one recorded so whose pod is gone is a failure with its Event, and no pod starts in that sync", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const running = pods.find((p) => p.phase === "Running")
        const { desired } = sync(observedOf([policy], pods, now))
        const status = desired.policies[0]!.status
        if (running !== undefined) expect(status.active).toEqual([{ kind: "Pod", name: running.name }])
        const gone = "backup-nightly-gone"
        const withGone = { ...policy, status: { ...(policy.status as object), active: [{ kind: "Pod", name: gone }] } }
        const after = sync(observedOf([withGone], pods, now))
        expect(creates(after.writes)).toEqual([])
        expect(statusOf(after.next).lastFailure).toMatchObject({ pod: gone, reason: "PodDeleted", time: formatRfc3339Utc(now) })
        expect(after.desired.policies[0]!.events.filter((e) => e.reason === "BackupFailed")).toHaveLength(1)
        expect(statusOf(after.next).active).toEqual(running === undefined ? undefined : [{ kind: "Pod", name: running.name }])
      }),
      { numRuns: 100 },
    )
  })

  it("never deletes a running pod, and keeps exactly the newest finished pods the history limits allow", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const { writes, next } = sync(observedOf([policy], pods, now))
        const deleted = deletes(writes)
        for (const name of deleted) expect(pods.find((p) => p.name === name)?.phase).not.toBe("Running")
        const spec = policy.spec as { successfulPodsHistoryLimit: number; failedPodsHistoryLimit: number }
        const kept = next.pods.filter((p) => pods.some((q) => q.name === p.name))
        const complete = kept.filter((p) => p.phase === "Succeeded")
        const failed = kept.filter((p) => p.phase === "Failed")
        expect(complete.length).toBe(Math.min(spec.successfulPodsHistoryLimit, pods.filter((p) => p.phase === "Succeeded").length))
        expect(failed.length).toBe(Math.min(spec.failedPodsHistoryLimit, pods.filter((p) => p.phase === "Failed").length))
        // Oldest first, and the ones kept are newer than any deleted of their kind.
        const deletedAt = deleted.map((n) => pods.find((p) => p.name === n)!.createdAt!)
        expect(deletedAt).toEqual([...deletedAt].sort((a, b) => a - b))
        for (const k of [...complete, ...failed]) {
          for (const d of deleted.map((n) => pods.find((p) => p.name === n)!)) if (d.phase === k.phase) expect(k.createdAt!).toBeGreaterThan(d.createdAt!)
        }
      }),
      { numRuns: 100 },
    )
  })

  it("is idempotent: once its writes landed, a second sync at the same instant writes nothing", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const first = sync(observedOf([policy], pods, now))
        const second = sync(first.next)
        expect(second.writes).toEqual([])
      }),
      { numRuns: 100 },
    )
  })

  it("is idempotent after a restart too: a fresh memory over the cluster the first sync left writes nothing", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const first = sync(observedOf([policy], pods, now))
        const restarted = sync({ ...first.next, memory: emptyPolicyMemory })
        expect(restarted.writes).toEqual([])
      }),
      { numRuns: 100 },
    )
  })

  it("writes a status that agrees with the pods: running, newest success, failures in a row", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const { next, writes } = sync(observedOf([policy], pods, now))
        const status = statusOf(next)
        const running = pods.find((p) => p.phase === "Running")?.name ?? creates(writes).map((w) => (w.pod.metadata as { name: string }).name)[0]
        expect(condition(next, "Progressing").status).toBe(running === undefined ? "False" : "True")
        if (running !== undefined) expect(condition(next, "Progressing").message).toContain(running)
        const finished = pods.filter((p) => p.phase !== "Running")
        const newestFinished = finished.at(-1)
        const newestComplete = [...pods].reverse().find((p) => p.phase === "Succeeded")
        expect(status.lastSuccessfulBackup?.pod).toBe(newestComplete?.name)
        if (newestComplete?.initContainers[1]?.terminated?.message !== undefined) {
          expect(status.lastSuccessfulBackup?.id).toBe(`id-${newestComplete.name.split("-").at(-1)}`)
        }
        const failing = newestFinished !== undefined && newestFinished.phase === "Failed"
        expect(condition(next, "Degraded").status).toBe(failing ? "True" : "False")
        expect(condition(next, "Ready").status).toBe(!failing && newestComplete !== undefined ? "True" : "False")
        expect(status.observedGeneration).toBe(1)
      }),
      { numRuns: 100 },
    )
  })

  it("announces each pod's start, completion and failure once, however often it syncs", () => {
    fc.assert(
      fc.property(worldArb, fc.boolean(), ({ policy, pods, now }, restart) => {
        const first = sync(observedOf([policy], pods, now))
        const second = sync(restart ? { ...first.next, memory: emptyPolicyMemory } : first.next)
        const events = (w: ReadonlyArray<PolicyWrite>) => w.filter((x) => x._tag === "RecordEvent" || x._tag === "CreatePod")
        expect(events(second.writes)).toEqual([])
        const reasons = first.writes.flatMap((w) => (w._tag === "RecordEvent" || w._tag === "CreatePod" ? [w.event.reason] : []))
        for (const r of ["BackupStarted", "BackupCompleted", "BackupFailed"]) expect(reasons.filter((x) => x === r).length).toBeLessThanOrEqual(1)
      }),
      { numRuns: 100 },
    )
  })
})

/** The newest pod of policy onchange, started 10 min before t0, as if it had backed up etcd revision 2 (which the operands no longer have). */
const podWithEtcdMoved = () => ({
  ...podOf("onchange", 1, t0 - 10 * 60_000, "complete"),
  revisions: { ...revisions, etcd: 2 },
  annotations: { "backup.openshift.io/revisions": "etcd=2,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6" },
})

describe("policyDesiredState on a schedule", () => {
  const hourly = policyObject("hourly", { schedule: "0 * * * *" })

  it("starts the due run with its scheduled time and attempt, and records it as lastScheduleTime", () => {
    const now = Date.UTC(2026, 11, 2, 11, 0, 5)
    const { writes, next } = sync(observedOf([hourly], [], now))
    const [create] = creates(writes)
    const annotations = (create!.pod.metadata as { annotations: Record<string, string> }).annotations
    expect(annotations[scheduledTimeAnnotation]).toBe("2026-12-02T11:00:00Z")
    expect(annotations[attemptAnnotation]).toBe("1")
    expect(create!.event.reason).toBe("BackupStarted")
    expect(statusOf(next, "hourly").lastScheduleTime).toBe("2026-12-02T11:00:00Z")
    expect(statusOf(next, "hourly").nextScheduleTime).toBe("2026-12-02T12:00:00Z")
  })

  it("starts no backup for a policy being deleted (foreground deletion, another finalizer): its pod would be collected with it", () => {
    const now = Date.UTC(2026, 11, 2, 11, 0, 5)
    const going = { ...hourly, metadata: { ...hourly.metadata, deletionTimestamp: "2026-12-02T11:00:01Z" } }
    expect(creates(sync(observedOf([going], [], now)).writes)).toEqual([])
    expect(creates(sync(observedOf([hourly], [], now)).writes)).toHaveLength(1)
  })

  it("backs off after failures by the attempt the newest failed pod carries, yet never past the next scheduled run", () => {
    // Three failures in a row (the pod says attempt 3, though only one failed pod is kept): the retry waits 4 minutes.
    const failedAt = Date.UTC(2026, 11, 2, 11, 10)
    const failed = { ...podOf("hourly", 1, failedAt - 60_000, "upload-failed", 3) }
    const waiting = policyDesiredState(
      observedOf([policyObject("hourly", { schedule: "0 * * * *" }, { lastScheduleTime: "2026-12-02T11:00:00Z" })], [failed], failedAt + 60_000),
      settings,
    )
    expect(waiting.wakeAt).toBe(failedAt + 4 * 60_000)
    // Twenty failures: backoff is capped at an hour, but the run due at 12:00 starts at 12:00.
    const many = podOf("hourly", 1, failedAt - 60_000, "upload-failed", 20)
    const capped = policyDesiredState(
      observedOf([policyObject("hourly", { schedule: "0 * * * *" }, { lastScheduleTime: "2026-12-02T11:00:00Z" })], [many], failedAt + 60_000),
      settings,
    )
    expect(capped.wakeAt).toBe(Date.UTC(2026, 11, 2, 12))
    const due = sync(
      observedOf([policyObject("hourly", { schedule: "0 * * * *" }, { lastScheduleTime: "2026-12-02T11:00:00Z" })], [many], Date.UTC(2026, 11, 2, 12)),
    )
    const [create] = creates(due.writes)
    expect((create!.pod.metadata as { annotations: Record<string, string> }).annotations[attemptAnnotation]).toBe("21")
    expect(create!.event.message).toContain("Schedule")
  })

  it("counts a failure from the status when no failed pod is kept (failedPodsHistoryLimit 0)", () => {
    const status = { lastScheduleTime: "2026-12-02T11:00:00Z", lastFailure: { time: "2026-12-02T11:05:00Z", pod: "gone", reason: "BackupUploadFailed" } }
    const desired = policyDesiredState(
      observedOf([policyObject("hourly", { schedule: "0 * * * *", failedPodsHistoryLimit: 0 }, status)], [], Date.UTC(2026, 11, 2, 11, 5, 30)),
      settings,
    )
    expect(desired.wakeAt).toBe(Date.UTC(2026, 11, 2, 11, 6))
    expect(desired.policies[0]!.status.conditions?.find((c) => c.type === "Degraded")?.status).toBe("True")
  })

  it("a pod's scheduled-time annotation stands for a status write that never landed: the same slot does not run twice", () => {
    const now = Date.UTC(2026, 11, 2, 11, 20)
    const done = { ...podOf("hourly", 1, Date.UTC(2026, 11, 2, 11), "complete"), annotations: { [scheduledTimeAnnotation]: "2026-12-02T11:00:00Z" } }
    const { writes } = sync(observedOf([policyObject("hourly", { schedule: "0 * * * *" }, { lastScheduleTime: "2026-12-02T10:00:00Z" })], [done], now))
    expect(creates(writes)).toEqual([])
  })

  it("the schedule interval the alerts double spans the gap around the newest due time: a weekday schedule does not alert over the weekend", () => {
    // Mondays to Fridays at 02:00; Friday's backup succeeded. The gap from Friday's run to Monday's is 72 h.
    const fridayRun = "2026-12-04T02:00:00Z"
    const success = { time: "2026-12-04T02:05:00Z", pod: "backup-weekdays-1", id: "20261204-020500" }
    const weekdays = policyObject("weekdays", { schedule: "0 2 * * 1-5" }, { lastScheduleTime: fridayRun, lastSuccessfulBackup: success })
    const intervalAt = (now: number) => policyDesiredState(observedOf([weekdays], [], now), settings).policies[0]!.metrics.scheduleIntervalMs!
    // ClusterBackupNoRecentBackup: time() - last success > 2 * interval. Sunday 03:00 is 49 h after Friday's success.
    const sunday = Date.UTC(2026, 11, 6, 3)
    expect(2 * intervalAt(sunday)).toBeGreaterThan(sunday - Date.parse(success.time))
    expect(intervalAt(sunday)).toBe(72 * hour)
    // Monday 02:03, Monday's backup still running: still no alert. From Tuesday's run on, the interval is a day again.
    const monday = Date.UTC(2026, 11, 7, 2, 3)
    expect(2 * intervalAt(monday)).toBeGreaterThan(monday - Date.parse(success.time))
    expect(intervalAt(Date.UTC(2026, 11, 8, 2, 3))).toBe(24 * hour)
    // A regular schedule's interval is its period.
    expect(policyDesiredState(observedOf([hourly], [], Date.UTC(2026, 11, 6, 3, 20)), settings).policies[0]!.metrics.scheduleIntervalMs).toBe(hour)
  })

  it("a suspended policy creates nothing and says so", () => {
    const { writes, next } = sync(observedOf([policyObject("hourly", { schedule: "0 * * * *", suspend: true })], [], Date.UTC(2026, 11, 2, 15)))
    expect(creates(writes)).toEqual([])
    expect(condition(next, "Progressing").reason).toBe("Suspended")
    expect(statusOf(next, "hourly").nextScheduleTime).toBeUndefined()
  })

  it("a revision change starts a backup once the revisions settled and minInterval passed", () => {
    const onChange = policyObject("onchange", { onRevisionChange: true, minInterval: "30m" })
    const moved = podWithEtcdMoved()
    const settling = policyDesiredState(observedOf([onChange], [moved], t0), { ...settings, settleMs: 60_000 })
    expect(settling.policies[0]!.create).toBeUndefined()
    expect(settling.wakeAt).toBe(t0 + 60_000)
    // Settled, but the last run started 10 minutes ago: wait for minInterval.
    const settled = policyDesiredState({ ...observedOf([onChange], [moved], t0 + 60_000), memory: settling.memory }, { ...settings, settleMs: 60_000 })
    expect(settled.policies[0]!.create).toBeUndefined()
    expect(settled.wakeAt).toBe(t0 + 20 * 60_000)
    const due = policyDesiredState({ ...observedOf([onChange], [moved], t0 + 20 * 60_000), memory: settling.memory }, { ...settings, settleMs: 60_000 })
    expect(due.policies[0]!.create?.event.message).toContain("RevisionChange")
  })
})

describe("policyDesiredState on a person's request (the policy's backup-requested annotation)", () => {
  const requested = (spec: Record<string, unknown>, request: string, status?: unknown): PolicyObjectView => {
    const object = policyObject("nightly", spec, status)
    return { ...object, metadata: { ...object.metadata, annotations: { [backupRequestAnnotation]: request } } }
  }
  const annotationsOf = (write: PolicyWrite) => (write as { pod: { metadata: { annotations: Record<string, string> } } }).pod.metadata.annotations
  /** The cluster once every pod still going has completed its backup. */
  const finishAll = (observed: PolicyObserved): PolicyObserved => ({
    ...observed,
    pods: observed.pods.map((p) =>
      p.phase === "Pending" || p.phase === "Running"
        ? { ...podOf("nightly", 0, p.createdAt ?? observed.now, "complete"), name: p.name, annotations: p.annotations }
        : p,
    ),
  })

  it("starts one backup for it, suspended or not and whatever minInterval says, records it as lastRequest, and no second one", () => {
    const now = t0 + 5 * 60_000
    const policy = requested({ suspend: true, onRevisionChange: true, minInterval: "1d" }, "2026-12-02T10:35:00Z")
    const first = sync(observedOf([policy], [podOf("nightly", 0, t0, "complete")], now))
    const [create] = creates(first.writes)
    expect(annotationsOf(create!)[backupRequestAnnotation]).toBe("2026-12-02T10:35:00Z")
    expect(create!.event.message).toMatch(/^pod backup-nightly-\S+ started a Requested backup \(request 2026-12-02T10:35:00Z\) of /)
    const pod = (create as { pod: { metadata: { name: string } } }).pod.metadata.name
    expect(statusOf(first.next).lastRequest).toEqual({ id: "2026-12-02T10:35:00Z", pod, time: formatRfc3339Utc(now) })
    const later = finishAll({ ...first.next, now: now + hour })
    expect(creates(sync(later).writes)).toEqual([])
    // Its pod gone (the history limit), the status still says the request was taken.
    expect(creates(sync({ ...later, pods: [] }).writes)).toEqual([])
    // A new value is a new request.
    const again = { ...later, policies: [requested({ suspend: true }, "second", statusOf(later))] }
    expect(annotationsOf(creates(sync(again).writes)[0]!)[backupRequestAnnotation]).toBe("second")
  })

  it("waits for the backup running, then starts its own", () => {
    const policy = requested({ schedule: "0 * * * *" }, "r1", { lastScheduleTime: formatRfc3339Utc(t0) })
    const running = podOf("nightly", 1, t0, "running")
    expect(creates(sync(observedOf([policy], [running], t0 + 60_000)).writes)).toEqual([])
    const done = sync(observedOf([policy], [podOf("nightly", 1, t0, "complete")], t0 + 2 * 60_000))
    expect(creates(done.writes).map((w) => annotationsOf(w)[backupRequestAnnotation])).toEqual(["r1"])
  })

  it("a pod started for it stands for a status write that never landed (the operator stopped in between): no second one, and the status learns it", () => {
    const pod = { ...podOf("nightly", 1, t0, "running"), annotations: { [backupRequestAnnotation]: "r1" } }
    const { writes, next } = sync(observedOf([requested({}, "r1")], [pod], t0 + 60_000))
    expect(creates(writes)).toEqual([])
    expect(statusOf(next).lastRequest).toEqual({ id: "r1", pod: pod.name, time: formatRfc3339Utc(t0) })
  })

  const createdName = (writes: ReadonlyArray<PolicyWrite>) => (creates(writes)[0] as { pod: { metadata: { name: string } } }).pod.metadata.name

  it("records the backup its pod stored in lastRequest, kept once later runs replaced lastSuccessfulBackup and lastFailure and its pod is gone", () => {
    const first = sync(observedOf([requested({ schedule: "0 * * * *" }, "r1", { lastScheduleTime: formatRfc3339Utc(t0) })], [], t0 + 60_000))
    const pod = createdName(first.writes)
    const done = sync(finishAll({ ...first.next, now: t0 + 5 * 60_000 }))
    const recorded = statusOf(done.next).lastRequest
    expect(recorded?.backup?.pod).toBe(pod)
    expect(recorded?.backup).toEqual(statusOf(done.next).lastSuccessfulBackup)
    // A scheduled backup stored since, the next one failed, and the request's pod deleted (by the history limit, say).
    const pods = [podOf("nightly", 7, t0 + hour, "complete"), podOf("nightly", 8, t0 + 2 * hour, "upload-failed")]
    const after = sync({ ...done.next, now: t0 + 3 * hour, pods })
    expect(statusOf(after.next).lastSuccessfulBackup?.pod).toBe("backup-nightly-7")
    expect(statusOf(after.next).lastFailure?.pod).toBe("backup-nightly-8")
    expect(statusOf(after.next).lastRequest).toEqual(recorded)
  })

  it("records its pod's failure in lastRequest, and a pod deleted before it ended as one", () => {
    const first = sync(observedOf([requested({}, "r1")], [], t0))
    const pod = createdName(first.writes)
    const failedPod = { ...podOf("nightly", 0, t0, "upload-failed"), name: pod, annotations: first.next.pods[0]!.annotations }
    const failed = sync({ ...first.next, now: t0 + 5 * 60_000, pods: [failedPod] })
    expect(statusOf(failed.next).lastRequest?.failure).toMatchObject({
      pod,
      reason: "BackupUploadFailed",
      message: expect.stringContaining("store unreachable"),
    })
    const vanished = sync({ ...first.next, now: t0 + 5 * 60_000, pods: [] })
    expect(statusOf(vanished.next).lastRequest?.failure).toMatchObject({ pod, reason: "PodDeleted" })
  })

  it("under a CRD that prunes lastRequest (older than the operator), its pod is the record: the history limit keeps it, and no second backup starts", () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 2, max: 8 }), ({ policy, pods, now }, syncs) => {
        const withoutLastRequest = (observed: PolicyObserved): PolicyObserved => ({
          ...observed,
          policies: observed.policies.map((p) => {
            const { lastRequest: _pruned, ...status } = (p.status ?? {}) as BackupPolicyStatus
            return { ...p, status }
          }),
        })
        let observed = observedOf([{ ...policy, metadata: { ...policy.metadata, annotations: { [backupRequestAnnotation]: "r" } } }], pods, now)
        let started = 0
        for (let i = 0; i < syncs; i++) {
          const { writes, next } = sync(observed)
          started += creates(writes).filter((w) => annotationsOf(w)[backupRequestAnnotation] === "r").length
          // Another backup ends between syncs, so the history limits keep deleting.
          const more = podOf("nightly", 100 + i, next.now, "complete")
          observed = withoutLastRequest(finishAll({ ...next, now: next.now + 60_000, pods: [...next.pods, more] }))
        }
        expect(started).toBe(1)
      }),
    )
  })

  it("an empty value asks for nothing", () => {
    expect(creates(sync(observedOf([requested({}, " ")], [], t0)).writes)).toEqual([])
  })

  it("whatever the policy and its pods, a request starts exactly one backup however often the operator syncs", () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 2, max: 6 }), ({ policy, pods, now }, syncs) => {
        let observed = observedOf([{ ...policy, metadata: { ...policy.metadata, annotations: { [backupRequestAnnotation]: "r" } } }], pods, now)
        let started = 0
        for (let i = 0; i < syncs; i++) {
          const { writes, next } = sync(observed)
          started += creates(writes).filter((w) => annotationsOf(w)[backupRequestAnnotation] === "r").length
          observed = finishAll({ ...next, now: next.now + 60_000 })
        }
        expect(started).toBe(1)
        // Its pod ended, the status says what that pod stored.
        const { lastRequest } = statusOf(sync(observed).next)
        expect(lastRequest?.backup?.pod).toBe(lastRequest?.pod)
      }),
    )
  })
})

describe("the metrics ClusterBackupNoRecentBackup reads for a policy that backs up on revision changes", () => {
  it("nothing waits while the newest backup holds the current revisions, however old it is; settled changed revisions wait from when they settled", () => {
    const onChange = policyObject("onchange", { onRevisionChange: true, minInterval: "30m" })
    // A quiet cluster: the newest backup, ten days old, holds the revisions the operands have.
    const quiet = policyDesiredState(observedOf([onChange], [podOf("onchange", 1, t0 - 240 * hour, "complete")], t0), settings).policies[0]!.metrics
    expect(quiet).toMatchObject({ scheduleIntervalMs: undefined, revisionChangePendingSince: undefined, minIntervalMs: 30 * 60_000 })
    const moved = podWithEtcdMoved()
    const settling = policyDesiredState(observedOf([onChange], [moved], t0), { ...settings, settleMs: 60_000 })
    expect(settling.policies[0]!.metrics.revisionChangePendingSince).toBe(t0 + 60_000)
    const later = policyDesiredState({ ...observedOf([onChange], [moved], t0 + 5 * hour), memory: settling.memory }, { ...settings, settleMs: 60_000 })
    expect(later.policies[0]!.metrics.revisionChangePendingSince).toBe(t0 + 60_000)
    // A policy without onRevisionChange exports neither.
    const hourly = policyDesiredState(observedOf([policyObject("hourly", { schedule: "0 * * * *" })], [moved], t0), settings).policies[0]!.metrics
    expect(hourly).toMatchObject({ revisionChangePendingSince: undefined, minIntervalMs: undefined })
  })
})

describe("policyDesiredState on a policy it cannot run", () => {
  const broken = policyObject("broken", { schedule: "every tuesday" })

  it("is Degraded with reason InvalidSpec, with one Warning, and creates nothing", () => {
    const first = sync(observedOf([broken], [], t0))
    expect(creates(first.writes)).toEqual([])
    expect(condition(first.next, "Degraded")).toMatchObject({ status: "True", reason: "InvalidSpec" })
    expect(condition(first.next, "Degraded").message).toContain("every tuesday")
    const warnings = first.writes.filter((w) => w._tag === "RecordEvent" && w.event.type === "Warning")
    expect(warnings.map((w) => (w as { event: { reason: string } }).event.reason)).toEqual(["InvalidSpec"])
    expect(sync(first.next).writes).toEqual([])
    expect(sync({ ...first.next, memory: emptyPolicyMemory }).writes).toEqual([])
  })

  it("is InvalidSpec at once, before a backup is due, for a bandwidth limit too slow for the operator's parts in flight to S3", () => {
    const s3Store = { s3: { bucket: "etcd-backups", prefix: "p", credentialsSecret: { name: "s" } } }
    // Suspended: no backup is due, so no pod is rendered that could fail.
    const slow = policyObject("slow", { schedule: "0 3 * * *", suspend: true, store: { ...s3Store, bandwidthLimit: "64Ki" } })
    const first = sync(observedOf([slow], [], t0))
    expect(creates(first.writes)).toEqual([])
    expect(condition(first.next, "Degraded")).toMatchObject({ status: "True", reason: "InvalidSpec" })
    expect(condition(first.next, "Degraded").message).toContain("spec.store.bandwidthLimit is too slow for an S3 store: at 64.0 KiB/s, 4 parts of 16.0 MiB")
    // The same limit into a volume, and a faster one to S3, are fine.
    for (const store of [
      { pvc: { claimName: "backups" }, bandwidthLimit: "64Ki" },
      { ...s3Store, bandwidthLimit: "20Mi" },
    ]) {
      const fine = sync(observedOf([policyObject("fine", { schedule: "0 3 * * *", suspend: true, store })], [], t0))
      expect(condition(fine.next, "Degraded")).toMatchObject({ status: "False" })
    }
  })

  it("shares no store with an older policy: the newer is InvalidSpec naming the older, the older and a policy with its own subPath run", () => {
    const createdAt = (object: PolicyObjectView, ms: number): PolicyObjectView => ({
      ...object,
      metadata: { ...object.metadata, creationTimestamp: formatRfc3339Utc(ms) },
    })
    const hourly = createdAt(policyObject("hourly", { schedule: "0 * * * *", retention: { keepLast: 24 } }), t0 - 48 * hour)
    // The same claim, its subPath written another way: the same place, whose backups hourly's keepLast 24 would prune.
    const monthly = createdAt(
      policyObject("monthly", { schedule: "0 * * * *", store: { pvc: { claimName: "backups", subPath: "./" } }, retention: { keepMonthly: 12 } }),
      t0 - 24 * hour,
    )
    const own = createdAt(policyObject("own", { schedule: "0 * * * *", store: { pvc: { claimName: "backups", subPath: "own" } } }), t0 - 12 * hour)
    const first = sync(observedOf([monthly, own, hourly], [], t0))
    expect(
      creates(first.writes)
        .map((w) => w.policy)
        .sort(),
    ).toEqual(["hourly", "own"])
    expect(condition(first.next, "Degraded", "monthly")).toMatchObject({ status: "True", reason: "InvalidSpec" })
    expect(condition(first.next, "Degraded", "monthly").message).toContain("BackupPolicy hourly already stores into the PersistentVolumeClaim backups")
    expect(condition(first.next, "Degraded", "hourly")).toMatchObject({ status: "False" })
    const warnings = first.writes.filter((w) => w._tag === "RecordEvent" && w.event.type === "Warning")
    expect(warnings.map((w) => w.policy)).toEqual(["monthly"])
  })

  it("still records a pod that ends after its spec broke (edited mid-run): the success, its Event, once", () => {
    const pods = [podOf("broken", 0, t0 - hour, "complete"), podOf("broken", 1, t0 - 2 * hour, "upload-failed")]
    const first = sync(observedOf([broken], pods, t0))
    expect(statusOf(first.next, "broken").lastSuccessfulBackup).toMatchObject({ id: "id-0", pod: "backup-broken-0" })
    expect(statusOf(first.next, "broken").lastFailure).toMatchObject({ pod: "backup-broken-1", reason: "BackupUploadFailed" })
    expect(condition(first.next, "Degraded")).toMatchObject({ status: "True", reason: "InvalidSpec" })
    const reasons = first.writes.filter((w) => w._tag === "RecordEvent").map((w) => (w as { event: { reason: string } }).event.reason)
    expect(reasons.sort()).toEqual(["BackupCompleted", "BackupFailed", "InvalidSpec"])
    expect(sync(first.next).writes).toEqual([])
  })

  it("announces once even when its status cannot be written (memory holds the Warning)", () => {
    const first = sync(observedOf([broken], [], t0))
    // The status update was refused: the cluster is as before, only the memory moved on.
    const again = sync({ ...observedOf([broken], [], t0), memory: first.desired.memory })
    expect(again.writes.filter((w) => w._tag === "RecordEvent")).toEqual([])
  })

  it("a malformed policy does not stop the others", () => {
    const bad = policyObject("bad", { store: { s3: { bucket: "NOT A BUCKET" } }, schedule: "0 * * * *" })
    const { writes } = sync(observedOf([bad, policyObject("hourly", { schedule: "0 * * * *" })], [], Date.UTC(2026, 11, 2, 11)))
    expect(creates(writes).map((w) => w.policy)).toEqual(["hourly"])
  })

  it("a schedule that never comes (31 February) is InvalidSpec, and does not stop the others", () => {
    const never = policyObject("never", { schedule: "0 0 31 2 *" })
    const { writes, next } = sync(observedOf([never, policyObject("hourly", { schedule: "0 * * * *" })], [], Date.UTC(2026, 11, 2, 11)))
    expect(creates(writes).map((w) => w.policy)).toEqual(["hourly"])
    expect(condition(next, "Degraded", "never")).toMatchObject({ status: "True", reason: "InvalidSpec" })
    expect(condition(next, "Degraded", "never").message).toContain("0 0 31 2 *")
  })

  it("reports unreadable revisions as Degraded when a run is due, and starts nothing", () => {
    const observed = { ...observedOf([policyObject("hourly", { schedule: "0 * * * *" })], [], Date.UTC(2026, 11, 2, 11)), revisions: Result.fail([]) }
    const { writes, next } = sync(observed)
    expect(creates(writes)).toEqual([])
    expect(condition(next, "Degraded").reason).toBe("RevisionsUnavailable")
  })
})

describe("policyDesiredState on revision changes, with pods the history limit deleted", () => {
  it("a success recorded in the status after the newest kept pod stands for the revisions backed up (no second backup of them)", () => {
    // etcd 3 failed (pod kept), then etcd 4 succeeded (pod deleted: successfulPodsHistoryLimit 0).
    const failedOld = podOf("onchange", 1, t0 - 2 * hour, "upload-failed")
    const status = {
      lastSuccessfulBackup: { id: "b4", time: formatRfc3339Utc(t0 - hour), pod: "backup-onchange-gone", revisions: { ...revisions, etcd: 4 } },
      lastFailure: { time: formatRfc3339Utc(t0 - 2 * hour + 60_000), pod: failedOld.name, reason: "BackupUploadFailed" },
    }
    const policy = policyObject("onchange", { onRevisionChange: true, successfulPodsHistoryLimit: 0 }, status)
    const desired = policyDesiredState({ ...observedOf([policy], [failedOld], t0 + 2 * hour), revisions: Result.succeed({ ...revisions, etcd: 4 }) }, settings)
    expect(desired.policies[0]!.create).toBeUndefined()
  })
})

describe("policyDesiredState's wake-up", () => {
  it("asks for none while a pod runs, even with a run due behind it (its end is a pod event)", () => {
    const running = podOf("hourly", 1, Date.UTC(2026, 11, 2, 11), "running")
    const policy = policyObject("hourly", { schedule: "*/15 * * * *" }, { lastScheduleTime: "2026-12-02T11:00:00Z" })
    const desired = policyDesiredState(observedOf([policy], [running], Date.UTC(2026, 11, 2, 11, 20)), settings)
    expect(desired.policies[0]!.create).toBeUndefined()
    expect(desired.wakeAt).toBeUndefined()
  })
})

describe("policyDesiredState with a pod that never starts", () => {
  const hourly = policyObject("hourly", { schedule: "0 * * * *" })
  const createdAt = Date.UTC(2026, 11, 2, 11, 0, 5)
  const stuck: Pod = {
    ...podOf("hourly", 1, createdAt, "running"),
    phase: "Pending",
    initContainers: [],
    deadlineSeconds: 3600,
    waiting: "Unschedulable: 0/3 nodes are available",
  }
  const scheduled = { lastScheduleTime: "2026-12-02T11:00:00Z" }

  it("wakes at its deadline, then records the failure, deletes it before starting the next, and starts the next once it is gone", () => {
    const waiting = policyDesiredState(observedOf([policyObject("hourly", { schedule: "0 * * * *" }, scheduled)], [stuck], createdAt + 60_000), settings)
    expect(waiting.policies[0]!.create).toBeUndefined()
    expect(waiting.wakeAt).toBe(createdAt + hour)

    const first = sync(observedOf([{ ...hourly, status: scheduled }], [stuck], createdAt + hour))
    expect(creates(first.writes)).toEqual([])
    expect(deletes(first.writes)).toEqual([stuck.name])
    const failure = statusOf(first.next, "hourly").lastFailure
    expect(failure).toMatchObject({ pod: stuck.name, reason: "NeverStarted", time: formatRfc3339Utc(createdAt + hour) })
    expect(failure?.message).toMatch(/did not start within its deadline \(1h\).*0\/3 nodes are available/)
    expect(first.writes.some((w) => w._tag === "RecordEvent" && w.event.reason === "BackupFailed")).toBe(true)

    // The pod is gone: the run due at 12:00 starts (the one due at 11:00 was this pod's).
    const second = sync(first.next)
    expect(creates(second.writes)).toHaveLength(1)
    expect(second.writes.some((w) => w._tag === "RecordEvent" && w.event.reason === "BackupFailed")).toBe(false)
  })

  it("one being deleted still holds the policy until it is gone", () => {
    const { writes } = sync(observedOf([{ ...hourly, status: scheduled }], [{ ...stuck, deleting: true }], createdAt + 2 * hour))
    expect(creates(writes)).toEqual([])
    expect(deletes(writes)).toEqual([])
  })

  it("one bound to a node that was lost before its kubelet started it, being deleted (Terminating for as long as that Node exists), does not", () => {
    const { writes } = sync(observedOf([{ ...hourly, status: scheduled }], [{ ...stuck, node: "master-2", deleting: true }], createdAt + 2 * hour))
    expect(creates(writes)).toHaveLength(1)
    expect(deletes(writes)).toEqual([])
  })
})

describe("policyDesiredState with a pod whose node is lost", () => {
  const hourly = policyObject("hourly", { schedule: "0 * * * *" }, { lastScheduleTime: "2026-12-02T11:00:00Z" })
  const createdAt = Date.UTC(2026, 11, 2, 11, 0, 5)
  // Started, then its node went away: Running for ever as far as the API knows.
  const lost: Pod = { ...podOf("hourly", 1, createdAt, "running"), startedAt: createdAt + 10_000, deadlineSeconds: 3600 }
  const overdueAt = createdAt + 10_000 + hour + 10 * 60_000

  it("holds the policy until it is overdue, whether or not it is being deleted", () => {
    for (const deleting of [false, true]) {
      const { writes } = sync(observedOf([hourly], [{ ...lost, deleting }], overdueAt - 1))
      expect(creates(writes)).toEqual([])
    }
  })

  it("once overdue and being deleted (the API keeps it Terminating until its Node is deleted), no longer holds the policy", () => {
    const first = sync(observedOf([hourly], [lost], overdueAt))
    expect(creates(first.writes)).toEqual([])
    expect(deletes(first.writes)).toEqual([lost.name])
    const { writes } = sync(observedOf([hourly], [{ ...lost, deleting: true }], overdueAt + 60_000))
    expect(creates(writes)).toHaveLength(1)
    expect(deletes(writes)).toEqual([])
  })
})

describe("policyDesiredState's memory of refused pods", () => {
  it("keeps a refusal only while its policy still wants a pod", () => {
    fc.assert(
      fc.property(podsArb("nightly"), fc.integer({ min: 0, max: 48 * hour }), (pods, later) => {
        const memory = { ...emptyPolicyMemory, refused: { nightly: "quota", gone: "quota" } }
        const desired = policyDesiredState(observedOf([policyObject("nightly", { schedule: "0 * * * *" })], pods, t0 + later, memory), settings)
        expect(desired.memory.refused).toEqual(desired.policies[0]!.create === undefined ? {} : { nightly: "quota" })
      }),
    )
  })
})

describe("policyDesiredState behind a proxy whose credentials come from Secret cluster-backup-proxy", () => {
  const proxied: PolicySettings = { ...settings, podOptions: { ...settings.podOptions, proxyEnv: { HTTPS_PROXY: "http://u:p@proxy:3128" } } }
  const decide = (observed: PolicyObserved) => {
    const desired = policyDesiredState(observed, proxied)
    return { desired, writes: policyDiff(observed, desired) }
  }

  it("with the Secret missing creates no pod whatever the policy and its pods, says so in Ready and Degraded, and asks to look again", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const { desired, writes } = decide({ ...observedOf([policy], pods, now), proxySecret: { _tag: "NotFound" } })
        expect(creates(writes)).toEqual([])
        expect(desired.recheck).toBe(true)
        const conditions = desired.policies[0]!.status.conditions!
        for (const type of ["Ready", "Degraded"]) expect(conditions.find((c) => c.type === type)?.reason).toBe("ProxySecretMissing")
      }),
      { numRuns: 100 },
    )
  })

  it("with every key there decides as without a proxy; with a Forbidden get too, adding only its Warning", () => {
    fc.assert(
      fc.property(worldArb, ({ policy, pods, now }) => {
        const plain = sync(observedOf([policy], pods, now))
        const found = decide({ ...observedOf([policy], pods, now), proxySecret: { _tag: "Found", keys: ["HTTPS_PROXY", "NO_PROXY"] } })
        const forbidden = decide({ ...observedOf([policy], pods, now), proxySecret: { _tag: "Forbidden", message: "forbidden" } })
        for (const d of [found, forbidden]) {
          expect(creates(d.writes).length).toBe(creates(plain.writes).length)
          expect(d.desired.policies[0]!.status).toEqual(plain.desired.policies[0]!.status)
          expect(d.desired.recheck).toBe(false)
        }
        // A Warning that holds already (an invalid spec) is announced first; the unchecked Secret then.
        expect(forbidden.desired.policies[0]!.warning).toEqual(
          plain.desired.policies[0]!.warning ?? expect.objectContaining({ reason: "ProxySecretUnchecked" }),
        )
      }),
      { numRuns: 100 },
    )
  })
})

describe("policyDesiredState against etcd's quota", () => {
  const GiB = 2 ** 30
  const encrypted = policyObject("sealed", { schedule: "0 * * * *", store: { pvc: { claimName: "sealed-backups", recipientsSecret: { name: "recipients" } } } })
  const plain = policyObject("plain", { schedule: "0 * * * *" })
  const ringed = policyObject("ringed", {
    schedule: "0 * * * *",
    store: { s3: { bucket: "backups", prefix: "cluster-a", credentialsSecret: { name: "s3-credentials" }, recipientsSecret: { name: "recipients" } } },
  })

  it("warns once of a policy whose pods' /backup cannot hold a backup at the quota, and still takes its backups", () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 16 }), fc.constantFrom("10Gi", "20Gi", "40Gi"), (quotaGiB, volume) => {
        const limited = { ...settings, podOptions: { ...settings.podOptions, backupVolumeSizeLimit: volume } }
        const observed = { ...observedOf([encrypted, plain, ringed], []), etcdQuotaBytes: quotaGiB * GiB }
        const desired = policyDesiredState(observed, limited)
        const without = policyDesiredState(observedOf([encrypted, plain, ringed], []), limited)
        const warningOf = (name: string) => desired.policies.find((p) => p.name === name)!.warning
        expect(without.policies.map((p) => p.create !== undefined)).toEqual([true, true, true])
        const limitBytes = Number(volume.slice(0, -2)) * GiB
        // The snapshot, its ciphertext beside it (age's payload: 16 bytes of nonce and a 16-byte tag per 64 KiB) and the resources.
        const sealedNeeds = 2 * quotaGiB * GiB + 16 + (quotaGiB * GiB * 16) / (64 * 1024) + 64 * 2 ** 20
        expect(warningOf("sealed")?.reason === "BackupVolumeBelowQuota").toBe(limitBytes < sealedNeeds)
        expect(warningOf("plain")?.reason === "BackupVolumeBelowQuota").toBe(limitBytes < quotaGiB * GiB + 64 * 2 ** 20)
        if (warningOf("sealed") !== undefined) expect(warningOf("sealed")!.message).toMatch(/^BackupPolicy sealed: the backup pod's \/backup volume/)
        const shortfallOf = (d: typeof desired, name: string) => d.policies.find((p) => p.name === name)!.metrics.volumeShortfallBytes
        expect(shortfallOf(desired, "sealed")).toBe(Math.max(0, sealedNeeds - limitBytes))
        expect(shortfallOf(desired, "plain")).toBe(Math.max(0, quotaGiB * GiB + 64 * 2 ** 20 - limitBytes))
        // An encrypted upload to S3 reads the ciphertext in a ring of parts: one more than the 4 in flight, of 16 MiB (the defaults).
        expect(shortfallOf(desired, "ringed")).toBe(Math.max(0, quotaGiB * GiB + 5 * 16 * 2 ** 20 + 64 * 2 ** 20 - limitBytes))
        expect(shortfallOf(without, "sealed")).toBeUndefined()
        // Only the Warning and the shortfall's metric differ: the pods and statuses are those decided without the quota.
        const rest = (d: typeof desired) => d.policies.map((p) => ({ ...p, warning: undefined, metrics: { ...p.metrics, volumeShortfallBytes: undefined } }))
        expect(rest(desired)).toEqual(rest(without))
        const writes = policyDiff(observed, desired)
        const next = apply(observed, writes, desired)
        expect(
          policyDiff(next, policyDesiredState(next, limited)).filter((w) => w._tag === "RecordEvent" && w.event.reason === "BackupVolumeBelowQuota"),
        ).toEqual([])
      }),
      { numRuns: 50 },
    )
  })
})

describe("policyDesiredState's revision settle clock across an operator restart", () => {
  const onChange = policyObject("onchange", { onRevisionChange: true, minInterval: "30m", suspend: true })
  const settleMs = 60_000
  const revisionsOf = (etcd: number) => ({ ...revisions, etcd })

  it("a restarted operator (empty memory) keeps the time the status records for the same revisions; other revisions start it again", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 24 * hour }), fc.integer({ min: 1, max: 1000 }), (downFor, bump) => {
        const first = sync({ ...observedOf([onChange], [podWithEtcdMoved()], t0), memory: emptyPolicyMemory })
        const pendingSince = first.desired.policies[0]!.metrics.revisionChangePendingSince
        expect(pendingSince).toBe(t0)
        expect(statusOf(first.next, "onchange").observedRevisions).toEqual({ revisions, since: formatRfc3339Utc(t0) })
        // The restart: memory is gone, only the cluster (the status written) is read.
        const restarted = { ...first.next, now: t0 + downFor, memory: emptyPolicyMemory }
        const after = policyDesiredState(restarted, { ...settings, settleMs })
        expect(after.policies[0]!.metrics.revisionChangePendingSince).toBe(t0 + settleMs)
        expect(policyDiff(restarted, after).filter((w) => w._tag === "UpdateStatus")).toEqual([])
        // The revisions moved while it was down: their settle clock starts when it sees them.
        const moved = { ...restarted, revisions: Result.succeed(revisionsOf(revisions.etcd + bump)) }
        const changed = policyDesiredState(moved, { ...settings, settleMs })
        expect(changed.policies[0]!.metrics.revisionChangePendingSince).toBe(t0 + downFor + settleMs)
        expect(changed.policies[0]!.status.observedRevisions).toEqual({ revisions: revisionsOf(revisions.etcd + bump), since: formatRfc3339Utc(t0 + downFor) })
      }),
      { numRuns: 100 },
    )
  })

  it("revisions still changing from sync to sync never settle, record or not", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }), fc.boolean(), (bumps, restarts) => {
        let observed: PolicyObserved = observedOf([onChange], [podWithEtcdMoved()], t0)
        let etcd = revisions.etcd
        for (const bump of bumps) {
          etcd += bump
          observed = {
            ...observed,
            now: observed.now + settleMs - 1,
            revisions: Result.succeed(revisionsOf(etcd)),
            ...(restarts ? { memory: emptyPolicyMemory } : {}),
          }
          const desired = policyDesiredState(observed, { ...settings, settleMs })
          expect(desired.policies[0]!.metrics.revisionChangePendingSince).toBe(observed.now + settleMs)
          observed = apply(observed, policyDiff(observed, desired), desired)
        }
      }),
      { numRuns: 100 },
    )
  })

  it("the status's record wins over a standby's memory: revisions that went away and back while it stood by settle from the record, and a second replica writes nothing", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 * hour }), fc.integer({ min: 1, max: 24 * hour }), (away, back) => {
        // Replica 1 saw the revisions at t0 and then stood by.
        const standby = sync(observedOf([onChange], [podWithEtcdMoved()], t0)).desired.memory
        // Replica 0 leads: the revisions move, then come back; its status records when they came back.
        let leader = sync({ ...observedOf([onChange], [podWithEtcdMoved()], t0 + away), revisions: Result.succeed(revisionsOf(9)) }).next
        leader = sync({ ...leader, now: t0 + away + back, revisions: Result.succeed(revisions) }).next
        const takeover = { ...leader, memory: standby }
        const desired = policyDesiredState(takeover, settings)
        expect(desired.policies[0]!.metrics.revisionChangePendingSince).toBe(t0 + away + back)
        expect(policyDiff(takeover, desired).filter((w) => w._tag === "UpdateStatus")).toEqual([])
      }),
      { numRuns: 100 },
    )
  })

  it("a policy not on revision changes records nothing", () => {
    const hourly = policyObject("hourly", { schedule: "0 * * * *" })
    expect(policyDesiredState(observedOf([hourly], [], t0), settings).policies[0]!.status.observedRevisions).toBeUndefined()
  })
})
