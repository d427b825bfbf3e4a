import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { latestOutcome, newestPodFirst, newestRunningManualPod, podOutcome, type BackupPodView } from "../../src/domain/backup-pod-outcome.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { backupCreateReportOf, encodeBackupCreateReport } from "../../src/domain/backup-create-report.ts"

const revs: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }
const initNames = ["backup-init", "backup-etcd-resources", "backup-kas-resources", "backup-kcm-resources", "backup-ks-resources", "backup-create"]
const pod = (over: Partial<BackupPodView> = {}): BackupPodView => ({
  name: "cluster-backup-abcde",
  createdAt: 10_000,
  revisions: revs,
  phase: "Running",
  reason: undefined,
  message: undefined,
  initContainers: initNames.map((name) => ({ name })),
  ...over,
})
const done = (exitCode: number, message?: string) => ({ exitCode, message, finishedAt: "2026-01-01T00:00:05Z" })

describe("podOutcome", () => {
  it("is Complete when backup-create exited 0, while the hold container still runs", () => {
    const p = pod({ initContainers: initNames.map((name) => ({ name, terminated: done(0) })) })
    expect(podOutcome(p, 0)).toEqual({ _tag: "Complete", pod: p.name, at: Date.parse("2026-01-01T00:00:05Z") })
  })

  it("carries the reasons of a backup backup-create reported possibly dirty; a consistent one, an older image's or a foreign message carry none", () => {
    const withReport = (message: string) =>
      podOutcome(pod({ initContainers: initNames.map((name) => ({ name, terminated: done(0, name === "backup-create" ? message : undefined) })) }), 0)
    const why = "kube-apiserver: the snapshot's operator CR says revision 8, the resources are of revision 7"
    expect(withReport(encodeBackupCreateReport(backupCreateReportOf("2026-01-01_000005", "dirty", [why])))).toMatchObject({ _tag: "Complete", dirty: [why] })
    for (const message of [encodeBackupCreateReport(backupCreateReportOf("2026-01-01_000005", "consistent", [])), "", "backup complete"])
      expect(withReport(message)).toEqual({ _tag: "Complete", pod: "cluster-backup-abcde", at: Date.parse("2026-01-01T00:00:05Z") })
  })

  it("is Failed naming the container, its exit code and the first line of its message", () => {
    const p = pod({
      phase: "Failed",
      initContainers: [{ name: "backup-init", terminated: done(1, "\nEtcdUnreachable: no etcd at https://etcd:2379\nstack...") }],
    })
    const o = podOutcome(p, 0)
    expect(o._tag).toBe("Failed")
    if (o._tag === "Failed")
      expect(o.reason).toBe(`init container backup-init of pod ${p.name} exited with code 1: EtcdUnreachable: no etcd at https://etcd:2379`)
  })

  it("is Failed when the pod failed before backup-create finished (deadline)", () => {
    const o = podOutcome(pod({ phase: "Failed", reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline" }), 77)
    // Nothing finished: it ended, as far as the pod tells, when it was created (never the sync's clock).
    expect(o).toMatchObject({ _tag: "Failed", at: 10_000 })
    if (o._tag === "Failed") expect(o.reason).toContain("DeadlineExceeded")
  })

  it("is Running otherwise", () => {
    expect(podOutcome(pod(), 0)._tag).toBe("Running")
  })

  test.prop([fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 })])(
    "any non-zero init exit is a failure, whatever else succeeded",
    (codes) => {
      const p = pod({ initContainers: initNames.map((name, i) => ({ name, terminated: done(codes[i]!) })) })
      expect(podOutcome(p, 0)._tag).toBe(codes.some((c) => c !== 0) ? "Failed" : "Complete")
    },
  )
})

describe("podOutcome of a pod with backup-upload", () => {
  const uploadNames = [...initNames, "backup-upload"]
  const at = (i: number) => `2026-01-01T00:00:${String(10 + i).padStart(2, "0")}Z`

  it("is Failed when backup-upload fails, with a reason naming it, though backup-create succeeded", () => {
    const p = pod({
      initContainers: uploadNames.map((name) => ({
        name,
        terminated: done(name === "backup-upload" ? 1 : 0, "StoreAccessDenied: s3://backups refused the upload"),
      })),
    })
    const o = podOutcome(p, 0)
    expect(o).toMatchObject({ _tag: "Failed", pod: p.name })
    if (o._tag === "Failed")
      expect(o.reason).toBe(`init container backup-upload of pod ${p.name} exited with code 1: StoreAccessDenied: s3://backups refused the upload`)
  })

  it("is Running, not Complete, while backup-upload still uploads after backup-create finished", () => {
    const p = pod({ initContainers: uploadNames.map((name) => (name === "backup-upload" ? { name } : { name, terminated: done(0) })) })
    expect(podOutcome(p, 0)._tag).toBe("Running")
  })

  it("is Complete when backup-upload exited 0, at its finish time", () => {
    const p = pod({ initContainers: uploadNames.map((name, i) => ({ name, terminated: { exitCode: 0, finishedAt: at(i) } })) })
    expect(podOutcome(p, 0)).toEqual({ _tag: "Complete", pod: p.name, at: Date.parse(at(6)) })
  })

  it("is Failed when the pod's deadline ends it during the upload, naming backup-upload", () => {
    const p = pod({
      phase: "Failed",
      reason: "DeadlineExceeded",
      initContainers: uploadNames.map((name) => (name === "backup-upload" ? { name } : { name, terminated: done(0) })),
    })
    const o = podOutcome(p, 5)
    // When its last container finished (backup-create), the pod's own time, never the sync's.
    expect(o).toMatchObject({ _tag: "Failed", at: Date.parse("2026-01-01T00:00:05Z") })
    if (o._tag === "Failed") expect(o.reason).toBe(`pod ${p.name} failed before backup-upload finished: DeadlineExceeded`)
  })

  test.prop([fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 7 })])(
    "is Complete exactly when every init container, the upload included, exited 0; Failed when any exited non-zero; else Running",
    (codes) => {
      // Init containers run in order: those that ran are a prefix of the list.
      const p = pod({ initContainers: uploadNames.map((name, i) => (i < codes.length ? { name, terminated: done(codes[i]!) } : { name })) })
      const expected = codes.some((c) => c !== 0) ? "Failed" : codes.length === uploadNames.length ? "Complete" : "Running"
      expect(podOutcome(p, 0)._tag).toBe(expected)
    },
  )

  test.prop([
    fc.array(fc.record({ code: fc.integer({ min: 0, max: 2 }), timed: fc.boolean() }), { minLength: 0, maxLength: 7 }),
    fc.constantFrom("Running", "Failed", "Succeeded"),
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.integer({ min: 0, max: 2 ** 40 }),
  ])("the time of a finished backup is the pod's, the same at every sync (a container without a finish time too)", (ran, phase, now1, now2) => {
    // Untimed: how the kubelet reports a container it lost track of (ContainerStatusUnknown, exit 137, no finishedAt).
    const terminated = ({ code, timed }: { code: number; timed: boolean }) => (timed ? done(code) : { exitCode: code, reason: "ContainerStatusUnknown" })
    const p = pod({ phase, initContainers: uploadNames.map((name, i) => (i < ran.length ? { name, terminated: terminated(ran[i]!) } : { name })) })
    const [a, b] = [podOutcome(p, now1), podOutcome(p, now2)]
    expect(a).toEqual(b)
  })
})

describe("latestOutcome", () => {
  it("takes the newest pod of the rendered revisions created since the render", () => {
    const old = pod({ name: "a", createdAt: 1_000, phase: "Failed" })
    const other = pod({ name: "b", createdAt: 50_000, revisions: { ...revs, etcd: 4 } })
    const newest = pod({ name: "c", createdAt: 20_000, initContainers: initNames.map((name) => ({ name, terminated: done(0) })) })
    expect(latestOutcome([old, other, newest], revs, 5_000, 0)?._tag).toBe("Complete")
    expect(latestOutcome([old], revs, 5_000, 0)).toBeUndefined()
    expect(latestOutcome([other], revs, undefined, 0)).toBeUndefined()
  })
})

describe("newestRunningManualPod", () => {
  const podsArb = fc.uniqueArray(
    fc.record({
      name: fc.constantFrom("cluster-backup-a", "cluster-backup-b", "cluster-backup-c", "backup-nightly-1"),
      createdAt: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      phase: fc.constantFrom("Pending", "Running", "Failed"),
      deleting: fc.boolean(),
    }),
    { selector: (p) => p.name, maxLength: 4 },
  )
  test.prop([podsArb])("is the newest pod still running, of no policy and not being deleted", (drawn) => {
    const pods = drawn.map((d) => pod({ ...d, ...(d.name.startsWith("backup-nightly") ? { policy: "nightly" } : {}) }))
    const eligible = pods.filter((p) => p.policy === undefined && !p.deleting && podOutcome(p, 0)._tag === "Running")
    const found = newestRunningManualPod(pods, 0)
    expect(found === undefined).toBe(eligible.length === 0)
    if (found !== undefined) for (const other of eligible) expect(newestPodFirst(found, other)).toBeLessThanOrEqual(0)
  })
})

describe("podOutcome of a pod with backup-verify", () => {
  const verifyNames = [...initNames, "backup-verify"]
  const withUpload = [...verifyNames, "backup-upload"]

  it("is Running, not Complete, while backup-verify still checks a backup that has no upload step", () => {
    const p = pod({ initContainers: verifyNames.map((name) => (name === "backup-verify" ? { name } : { name, terminated: done(0) })) })
    expect(podOutcome(p, 0)._tag).toBe("Running")
  })

  it("is Failed naming backup-verify when its check failed, and when the deadline ended it", () => {
    const failed = pod({
      initContainers: verifyNames.map((name) => ({ name, terminated: done(name === "backup-verify" ? 1 : 0, "VerifyFailed: snapshot-hash") })),
    })
    expect(podOutcome(failed, 0)).toMatchObject({
      _tag: "Failed",
      reason: `init container backup-verify of pod ${failed.name} exited with code 1: VerifyFailed: snapshot-hash`,
    })
    const deadline = pod({
      phase: "Failed",
      reason: "DeadlineExceeded",
      initContainers: verifyNames.map((name) => (name === "backup-verify" ? { name } : { name, terminated: done(0) })),
    })
    expect(podOutcome(deadline, 5)).toMatchObject({ _tag: "Failed", reason: `pod ${deadline.name} failed before backup-verify finished: DeadlineExceeded` })
  })

  test.prop([fc.boolean(), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 8 })])(
    "is Complete exactly when create, verify and (where present) upload all exited 0; Failed when any init exited non-zero; else Running",
    (upload, codes) => {
      const names = upload ? withUpload : verifyNames
      const ran = codes.slice(0, names.length)
      const p = pod({ initContainers: names.map((name, i) => (i < ran.length ? { name, terminated: done(ran[i]!) } : { name })) })
      const expected = ran.some((c) => c !== 0) ? "Failed" : ran.length === names.length ? "Complete" : "Running"
      expect(podOutcome(p, 0)._tag).toBe(expected)
    },
  )
})
