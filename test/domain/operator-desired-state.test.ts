import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import type { BackupPodView } from "../../src/domain/backup-pod-outcome.ts"
import { notStartingFrom, notStartingOf } from "../../src/domain/backup-pod-start.ts"
import { backupStatusKeys, decodeBackupStatus, encodeBackupStatus, lastCompleteTimeOf } from "../../src/domain/backup-status.ts"
import { decide } from "../../src/domain/controller-decision.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import {
  backupPodConfigMapName,
  backupPodYamlKey,
  desiredState,
  diff,
  emptyMemory,
  renderedAtAnnotation,
  type ObservedConfigMap,
  type OperatorObserved,
  type OperatorSettings,
  type OperatorWrite,
} from "../../src/domain/operator-desired-state.ts"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { backupCreateContainerName, revisionsAnnotation } from "../../src/domain/backup-pod-names.ts"
import { decodeObservedRevisions, formatRevisionSet, type RevisionSet } from "../../src/domain/revisions.ts"
import { formatRfc3339Utc } from "../../src/domain/rfc3339.ts"
import { revisionSetArb } from "./arbitraries.ts"

const t0 = Date.UTC(2026, 10, 24, 10)
const table = defaultOperands
const set = (etcd: number): RevisionSet => ({ etcd, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
const settings = (overrides: Partial<OperatorSettings> = {}): OperatorSettings => ({
  namespace: "openshift-etcd",
  podOptions: {},
  minIntervalMs: 0,
  settleMs: 0,
  table,
  ...overrides,
})
const observedOf = (overrides: Partial<OperatorObserved> = {}): OperatorObserved => ({
  now: t0,
  revisions: Result.succeed(set(3)),
  status: undefined,
  podSpec: undefined,
  pods: [],
  memory: emptyMemory,
  ...overrides,
})

/** The cluster and memory after the writes land (what the next sync reads). */
const apply = (observed: OperatorObserved, writes: ReadonlyArray<OperatorWrite>, memory: OperatorObserved["memory"]): OperatorObserved => {
  let next = { ...observed, memory }
  for (const w of writes) {
    if (w._tag === "RecordEvent") continue
    if (w._tag === "DeletePod") {
      next = { ...next, pods: next.pods.filter((p) => p.name !== w.pod) }
      continue
    }
    const cm: ObservedConfigMap = { data: w.content.data, annotations: Object.keys(w.content.annotations).length === 0 ? undefined : w.content.annotations }
    next = w.name === backupPodConfigMapName ? { ...next, podSpec: cm } : { ...next, status: cm }
  }
  return next
}
const configMapWrites = (writes: ReadonlyArray<OperatorWrite>) =>
  writes.filter((w): w is Extract<OperatorWrite, { content: unknown }> => w._tag === "CreateConfigMap" || w._tag === "UpdateConfigMap")

const time = fc.integer({ min: t0 - 10 * 3_600_000, max: t0 })
const statusData = fc.oneof(
  fc.constant({ status: "Complete", revisions: "- etcd: not-a-number" }),
  fc.constant({ revisions: "{{{ not yaml" }),
  fc
    .record({
      status: fc.constantFrom("Pending" as const, "Complete" as const, "Failed" as const),
      revisions: revisionSetArb,
      lastRenderTime: fc.option(time, { nil: undefined }),
      lastBackupTime: fc.option(time, { nil: undefined }),
    })
    .map(({ lastRenderTime, lastBackupTime, ...s }) =>
      encodeBackupStatus(
        { ...s, ...(lastRenderTime === undefined ? {} : { lastRenderTime }), ...(lastBackupTime === undefined ? {} : { lastBackupTime }) },
        table,
      ),
    ),
)
const foreignKeys = fc.dictionary(fc.constantFrom("owner", "note", "ticket"), fc.string({ maxLength: 8 }), { maxKeys: 2 })
const statusCm = fc.option(fc.record({ data: fc.tuple(statusData, foreignKeys).map(([d, f]) => ({ ...f, ...d })), annotations: fc.constant(undefined) }), {
  nil: undefined,
})
const podSpecCm = fc.option(
  fc.record({
    data: fc.oneof(
      fc.constant({ [backupPodYamlKey]: "garbage: [" }),
      revisionSetArb.map((r) => ({ [backupPodYamlKey]: renderBackupPodYaml(r) })),
    ),
    annotations: fc.option(
      fc.record({
        [revisionsAnnotation]: fc.oneof(revisionSetArb.map(formatRevisionSet), fc.constant("etcd=x")),
        [renderedAtAnnotation]: time.map(formatRfc3339Utc),
      }),
      { nil: undefined },
    ),
  }),
  { nil: undefined },
)
/** Backup pods created before the sync (a pod cannot be created in the instant of the render it runs). */
const pod = fc
  .record({
    name: fc.constantFrom("cluster-backup-a", "cluster-backup-b", "cluster-backup-c", "cluster-backup-d", "cluster-backup-e", "backup-nightly-1"),
    createdAt: time.map((t) => t - 1),
    revisions: fc.option(revisionSetArb, { nil: undefined }),
    exitCode: fc.option(fc.constantFrom(0, 1), { nil: undefined }),
    // Its hold over (Succeeded), or still holding the backup.
    holdEnded: fc.boolean(),
    stuck: fc.option(fc.constant("container backup-init: ImagePullBackOff"), { nil: undefined }),
    // On its node with no container started: for more than the limit already, or not yet.
    mountWaitSince: fc.option(fc.constantFrom(t0 - 700_000, t0 - 200_000, t0 - 30_000), { nil: undefined }),
    // Its Events, read: its image being pulled (a longer limit), or a volume it cannot mount.
    startEvent: fc.option(
      fc.constantFrom({ kind: "pull" as const, words: 'Pulling: Pulling image "x"' }, { kind: "mount" as const, words: "FailedMount: secret not found" }),
      { nil: undefined },
    ),
  })
  .map(
    ({ exitCode, holdEnded, stuck, mountWaitSince, startEvent, ...p }): BackupPodView => ({
      ...p,
      ...(stuck === undefined || exitCode !== undefined ? {} : { stuck }),
      ...(stuck !== undefined || exitCode !== undefined || mountWaitSince === undefined ? {} : { mountWaitSince, startEvent }),
      ...(p.name.startsWith("backup-nightly") ? { policy: "nightly" } : {}),
      phase: exitCode === undefined ? "Running" : exitCode === 0 ? (holdEnded ? "Succeeded" : "Running") : "Failed",
      reason: undefined,
      message: undefined,
      initContainers: [
        { name: backupCreateContainerName, terminated: exitCode === undefined ? undefined : { exitCode, finishedAt: formatRfc3339Utc(t0 - 500) } },
      ],
    }),
  )
const revisions = fc.oneof(
  { weight: 5, arbitrary: revisionSetArb.map((r) => Result.succeed(r) as OperatorObserved["revisions"]) },
  { weight: 1, arbitrary: fc.constant(decodeObservedRevisions({ etcd: undefined, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })) },
)
const memory = fc.oneof(fc.constant(emptyMemory), fc.record({ observed: revisionSetArb, stableSince: time, warned: fc.constant({}) }))
const observedArb = fc.record({
  now: fc.constant(t0),
  revisions,
  status: statusCm,
  podSpec: podSpecCm,
  pods: fc.uniqueArray(pod, { maxLength: 6, selector: (p) => p.name }),
  memory,
})
const settingsArb = fc
  .record({
    settleMs: fc.constantFrom(0, 30_000),
    minIntervalMs: fc.constantFrom(0, 3_600_000),
    podHistory: fc.record({ successful: fc.integer({ min: 1, max: 3 }), failed: fc.integer({ min: 1, max: 2 }) }),
  })
  .map((s) => settings(s))

describe("desiredState and diff: properties", () => {
  test.prop([observedArb, settingsArb], { numRuns: 150 })("a second sync after the writes land writes nothing and wants the same", (observed, s) => {
    const desired = desiredState(observed, s)
    const after = apply(observed, diff(observed, desired, table), desired.memory)
    const again = desiredState(after, s)
    expect(diff(after, again, table)).toEqual([])
    expect(again.status).toEqual(desired.status)
    expect(again.podSpec).toEqual(desired.podSpec)
  })

  test.prop([observedArb, settingsArb], { numRuns: 100 })(
    "renders exactly when decide says so, the pod spec before the status that names it",
    (observed, s) => {
      const desired = desiredState(observed, s)
      const writes = configMapWrites(diff(observed, desired, table))
      if (desired.decision?._tag !== "Render") {
        expect(desired.events.map((e) => e.reason)).not.toContain("BackupPodRendered")
        return
      }
      expect(desired.podSpec!.annotations[revisionsAnnotation]).toBe(formatRevisionSet(desired.decision.revisions))
      expect(desired.podSpec!.data[backupPodYamlKey]).toBe(renderBackupPodYaml(desired.decision.revisions, { namespace: s.namespace }))
      expect(desired.status).toMatchObject({ status: "Pending", revisions: desired.decision.revisions, lastRenderTime: observed.now })
      expect(writes.map((w) => w.name)).toEqual([backupPodConfigMapName, "backup-status"])
    },
  )

  test.prop([observedArb, settingsArb], { numRuns: 100 })(
    "asks for a sync only ahead of now, and one at the time the newest running manual pod will count as not starting",
    (observed, s) => {
      const desired = desiredState(observed, s)
      if (desired.requeueAt !== undefined) expect(desired.requeueAt).toBeGreaterThan(observed.now)
      const newest = observed.pods
        .filter((p) => p.policy === undefined && p.phase === "Running" && p.initContainers[0]?.terminated === undefined)
        .sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0) || b.name.localeCompare(a.name))[0]
      const at = newest === undefined ? undefined : notStartingFrom(newest, observed.now)
      if (at !== undefined) expect(desired.requeueAt).toBeLessThanOrEqual(at)
      const warned = desired.warnings.BackupPodNotStarting !== undefined
      expect(warned).toBe(newest !== undefined && notStartingOf(newest, observed.now) !== undefined)
    },
  )

  test.prop([observedArb, settingsArb], { numRuns: 100 })("keeps every backup-status key another tool wrote", (observed, s) => {
    const writes = diff(observed, desiredState(observed, s), table)
    const foreign = Object.entries(observed.status?.data ?? {}).filter(([k]) => !(backupStatusKeys as ReadonlyArray<string>).includes(k))
    for (const w of writes) {
      if (w._tag === "UpdateConfigMap" && w.name === "backup-status") for (const [k, v] of foreign) expect(w.content.data[k]).toBe(v)
    }
  })

  test.prop([observedArb, settingsArb], { numRuns: 100 })(
    "announces a Warning only when its message differs from the one announced for that reason",
    (observed, s) => {
      const desired = desiredState(observed, s)
      const warned = diff(observed, desired, table).filter((w) => w._tag === "RecordEvent" && w.event.type === "Warning" && w.event.reason !== "BackupFailed")
      expect(warned).toHaveLength(Object.keys(desired.warnings).length)
      const repeated = { ...observed, memory: { ...observed.memory, warned: desired.warnings } }
      const again = diff(repeated, desiredState(repeated, s), table).filter(
        (w) => w._tag === "RecordEvent" && w.event.type === "Warning" && w.event.reason !== "BackupFailed",
      )
      expect(again).toEqual([])
    },
  )

  test.prop([observedArb, settingsArb], { numRuns: 100 })("while the revisions cannot be told, nothing but the Warning is written", (observed, s) => {
    const blocked = {
      ...observed,
      revisions: decodeObservedRevisions({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": undefined }),
    }
    const desired = desiredState(blocked, s)
    expect(desired.decision).toBeUndefined()
    expect(configMapWrites(diff(blocked, desired, table))).toEqual([])
    // A pod that cannot start is said whatever the revisions.
    expect(Object.keys(desired.warnings).filter((reason) => reason !== "BackupPodNotStarting")).toEqual(["RevisionsUnavailable"])
    expect(desired.memory.stableSince).toBe(observed.memory.stableSince)
  })

  test.prop([observedArb, settingsArb], { numRuns: 100 })(
    "the status it wants always decodes, and names revisions the pod spec is rendered for",
    (observed, s) => {
      const desired = desiredState(observed, s)
      if (desired.status === undefined) return
      expect(decodeBackupStatus(encodeBackupStatus(desired.status, table), table)).toEqual(Result.succeed(desired.status))
      expect(desired.podSpec!.annotations[revisionsAnnotation]).toBe(formatRevisionSet(desired.status.revisions))
    },
  )

  test.prop([observedArb, settingsArb], { numRuns: 100 })(
    "a complete backup the status knows of stays known through renders and failures (the metric a restart reads)",
    (observed, s) => {
      const before = Result.getOrUndefined(decodeBackupStatus(observed.status?.data ?? {}, table))
      const known = before === undefined ? undefined : lastCompleteTimeOf(before)
      const desired = desiredState(observed, s)
      if (known === undefined || desired.status === undefined) return
      expect(lastCompleteTimeOf(desired.status)).toBeGreaterThanOrEqual(known)
    },
  )
})

describe("desiredState against etcd's quota", () => {
  const GiB = 2 ** 30
  const warningsOf = (writes: ReadonlyArray<OperatorWrite>) => writes.filter((w) => w._tag === "RecordEvent" && w.event.reason === "BackupVolumeBelowQuota")

  it("warns once while the rendered pod's /backup cannot hold a backup at the quota, and renders the same pod", () => {
    const limited = settings({ podOptions: { backupVolumeSizeLimit: "10Gi" } })
    const observed = observedOf({ etcdQuotaBytes: 16 * GiB })
    const desired = desiredState(observed, limited)
    expect(desired.warnings.BackupVolumeBelowQuota).toContain("--backup-volume-size 10Gi")
    expect(desired.volumeShortfallBytes).toBe(6 * GiB + 64 * 2 ** 20)
    expect(desiredState(observedOf(), limited).volumeShortfallBytes).toBeUndefined()
    expect(desired.podSpec).toEqual(desiredState(observedOf(), limited).podSpec)
    const writes = diff(observed, desired, table)
    expect(warningsOf(writes)).toHaveLength(1)
    const next = apply(observed, writes, desired.memory)
    expect(warningsOf(diff(next, desiredState(next, limited), table))).toEqual([])
  })

  it("with the default 20Gi: no Warning at any quota the CRD allows, nor without a known quota; an encrypted upload into a claim at 16 GiB is one", () => {
    for (const quota of [8, 12, 16])
      expect(desiredState(observedOf({ etcdQuotaBytes: quota * GiB }), settings()).warnings.BackupVolumeBelowQuota).toBeUndefined()
    const sealed = settings({
      podOptions: { store: { claimName: "backups", recipientsSecret: "recipients", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 } },
    })
    expect(desiredState(observedOf(), sealed).warnings.BackupVolumeBelowQuota).toBeUndefined()
    expect(desiredState(observedOf({ etcdQuotaBytes: 16 * GiB }), sealed).warnings.BackupVolumeBelowQuota).toMatch(/its ciphertext .* at least 33Gi$/)
  })
})

describe("desiredState: examples", () => {
  it("waits out the settle window, and asks to be woken when it ends", () => {
    const desired = desiredState(observedOf({ memory: { observed: set(3), stableSince: t0 - 10_000, warned: {} } }), settings({ settleMs: 30_000 }))
    expect(desired.decision).toEqual(
      decide({ observed: set(3), lastRendered: undefined, lastRenderAt: undefined, stableSince: t0 - 10_000, now: t0, settleMs: 30_000 }),
    )
    expect(desired.requeueAt).toBe(t0 + 20_000)
    expect(desired.podSpec).toBeUndefined()
  })

  it("rebuilds a malformed status from the revisions annotation of the rendered spec, with one Warning", () => {
    const podSpec = {
      data: { [backupPodYamlKey]: "garbage: [" },
      annotations: { [revisionsAnnotation]: formatRevisionSet(set(2)), [renderedAtAnnotation]: formatRfc3339Utc(t0 - 60_000) },
    }
    const observed = observedOf({ revisions: Result.succeed(set(2)), podSpec, status: { data: { status: "Exploded" }, annotations: undefined } })
    const desired = desiredState(observed, settings())
    expect(desired.decision?._tag).toBe("UpToDate")
    expect(desired.status).toEqual({ status: "Pending", revisions: set(2), lastRenderTime: t0 - 60_000 })
    expect(desired.warnings.BackupStatusRepaired).toContain(`the rendered pod spec in ${backupPodConfigMapName}`)
    // The spec is re-rendered from the annotation's revisions: the garbage goes.
    expect(diff(observed, desired, table).map((w) => w._tag)).toEqual(["RecordEvent", "UpdateConfigMap", "UpdateConfigMap"])
  })

  // An older version's backup-status has no lastRenderTime: the next revision change must still wait out the minimum interval.
  describe("a status without lastRenderTime (an older version wrote it)", () => {
    const hour = 3_600_000
    const oldStatus = (createdAt?: number): ObservedConfigMap => ({
      data: encodeBackupStatus({ status: "Complete", revisions: set(2) }),
      annotations: undefined,
      ...(createdAt === undefined ? {} : { createdAt }),
    })
    const changed = (status: ObservedConfigMap, podSpec?: ObservedConfigMap) =>
      observedOf({ revisions: Result.succeed(set(3)), status, podSpec, memory: { observed: set(3), stableSince: t0 - hour, warned: {} } })

    it("takes the rendered spec's time, when the spec is of its revisions", () => {
      const podSpec = {
        data: {},
        annotations: { [revisionsAnnotation]: formatRevisionSet(set(2)), [renderedAtAnnotation]: formatRfc3339Utc(t0 - 20 * 60_000) },
      }
      const desired = desiredState(changed(oldStatus(t0 - 5 * hour), podSpec), settings({ minIntervalMs: hour }))
      expect(desired.decision).toMatchObject({ _tag: "WaitUntil", at: t0 + 40 * 60_000 })
    })

    it("else the ConfigMap's creation", () => {
      const desired = desiredState(changed(oldStatus(t0 - 10 * 60_000)), settings({ minIntervalMs: hour }))
      expect(desired.decision).toMatchObject({ _tag: "WaitUntil", at: t0 + 50 * 60_000 })
    })

    it("else now, written back: the render comes a minimum interval later, not at once", () => {
      const observed = changed(oldStatus())
      const desired = desiredState(observed, settings({ minIntervalMs: hour }))
      expect(desired.decision).toMatchObject({ _tag: "WaitUntil", at: t0 + hour })
      const after = apply(observed, diff(observed, desired, table), desired.memory)
      expect(decodeBackupStatus(after.status?.data ?? {}, table)).toMatchObject({ success: { lastRenderTime: t0 } })
      expect(desiredState({ ...after, now: t0 + 30 * 60_000 }, settings({ minIntervalMs: hour })).decision?._tag).toBe("WaitUntil")
      expect(desiredState({ ...after, now: t0 + hour }, settings({ minIntervalMs: hour })).decision?._tag).toBe("Render")
    })
  })

  it("keys the warning memory by reason: a repaired status does not silence a later RevisionsUnavailable", () => {
    const repaired = { BackupStatusRepaired: "ConfigMap backup-status: status is missing." }
    const blocked = observedOf({
      revisions: decodeObservedRevisions({ etcd: undefined, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }),
      memory: { ...emptyMemory, warned: repaired },
    })
    const writes = diff(blocked, desiredState(blocked, settings()), table)
    expect(writes.map((w) => (w._tag === "RecordEvent" ? w.event.reason : w._tag))).toEqual(["RevisionsUnavailable"])
  })
})
