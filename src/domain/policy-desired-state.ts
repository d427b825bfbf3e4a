/**
 * What the operator wants for each BackupPolicy, from what one sync read, and the writes that get it there.
 * `policyDesiredState` decides per policy: whether to start a backup pod (one at a time, when `decideSchedule`
 * says so), which finished pods the history limits let go, the status, the Events and when to look again;
 * `policyDiff` yields only what differs from what was read, so a second sync with nothing changed writes nothing.
 *
 * What must outlive an operator restart is read back from the cluster, not kept in memory: the last scheduled
 * time from the status and the pods' scheduled-time annotations, the failures in a row from the newest failed
 * pod's attempt annotation (or, with no pod kept, from lastFailure against lastSuccessfulBackup), each finished
 * pod's announcement from the status naming it, the revisions' settle clock from `observedRevisions` (memory's only
 * until that is written). Memory holds besides only the Warnings already announced for a policy whose status could
 * not say so.
 */
import { Result, Schema, type Cron } from "effect"
import { BackupPolicyStatus, decodeBackupPolicy, type BackupPolicy } from "./backup-policy.ts"
import { decideSchedule, parseSchedule, scheduleInterval, type Backoff, type ScheduleDecision } from "./backup-schedule.ts"
import { canonicalJson } from "./canonical-json.ts"
import { parseDuration } from "./durations.ts"
import { operandNames, type OperandTable } from "./operands.ts"
import { podQuotaRoom } from "./etcd-quota-room.ts"
import { backupPodSpecHash, type BackupPod } from "./pod-spec.ts"
import type { BackupPodOptions } from "./backup-pod-options.ts"
import { specHashAnnotation } from "./backup-pod-names.ts"
import { proxySecretKeys } from "./pod-proxy-env.ts"
import { conditionSays, policyConditions, type Blocked, type ConditionState, type PolicyFacts } from "./policy-conditions.ts"
import { policyMetricValues, type PolicyMetricValues } from "./policy-metric-values.ts"
import { proxySecretProblem, type ProxySecretProblem, type ProxySecretRead } from "./proxy-secret-check.ts"
import {
  backupRequestAnnotation,
  policyBandwidthLimit,
  policyLabelValue,
  requestIn,
  type PolicyUploadSettings,
  policyUploadSettings,
  renderPolicyBackupPod,
} from "./policy-pod.ts"
import { attemptAnnotation, failureStreak, historyDefaults, historyDeletions, policyRuns, type PolicyPodView, type PolicyRun } from "./policy-runs.ts"
import { earliestTime } from "./earliest-time.ts"
import { formatRevisionSet, revisionSetsEqual, type LatestRevisionError, type RevisionSet } from "./revisions.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "./rfc3339.ts"
import { firstKeyedProblem } from "./schema-errors.ts"

/** A BackupPolicy as read: the loose API object (spec and status undecoded, so one bad policy spoils only itself). */
export interface PolicyObjectView {
  readonly metadata: {
    readonly name: string
    readonly uid?: string | undefined
    readonly generation?: number | undefined
    readonly annotations?: Readonly<Record<string, string>> | undefined
    readonly creationTimestamp?: string | null | undefined
    readonly resourceVersion?: string | undefined
    /** Set while the policy is being deleted (foreground deletion, another finalizer): it starts no more backups. */
    readonly deletionTimestamp?: string | null | undefined
  }
  readonly spec: unknown
  readonly status?: unknown
}

export interface PolicySettings {
  readonly namespace: string
  readonly podOptions: Partial<BackupPodOptions>
  /** The operator's upload settings and cluster ID for the policies' pods. */
  readonly upload?: PolicyUploadSettings | undefined
  /** How long the operands' revisions must stay put before a revision change starts a backup. */
  readonly settleMs: number
  readonly table: OperandTable
  readonly backoff: Backoff
}

export interface PolicyMemory {
  /** The revisions last observed, and since when they have not changed. */
  readonly observed: RevisionSet | undefined
  readonly stableSince: number | undefined
  /** The Warning announced per policy (by name) while it holds. */
  readonly warned: Readonly<Record<string, string>>
  /**
   * The refusal of a policy's pod (the API's words) announced by the program that made the request, kept while the
   * policy still wants a pod, so a create refused on every retry is announced once per distinct refusal.
   */
  readonly refused: Readonly<Record<string, string>>
  /** The status fields the API server was seen to drop (a CRD older than this operator), once announced. */
  readonly droppedStatusFields?: string | undefined
}
export const emptyPolicyMemory: PolicyMemory = { observed: undefined, stableSince: undefined, warned: {}, refused: {} }

export interface PolicyObserved {
  readonly now: number
  readonly revisions: Result.Result<RevisionSet, ReadonlyArray<LatestRevisionError>>
  readonly policies: ReadonlyArray<PolicyObjectView>
  /**
   * The pods the policies created, each with its `policyNameLabel` value (`policyLabelValue` of the policy's name) and
   * the uid of the policy that owns it (its controller ownerReference), when it names one.
   */
  readonly pods: ReadonlyArray<PolicyPodView & { readonly policy: string; readonly owner?: string | undefined }>
  /** Secret `cluster-backup-proxy`'s keys as read, when the pods take a proxy credential from it (else not read). */
  readonly proxySecret?: ProxySecretRead | undefined
  /** etcd's backend quota (etcd-quota-room.ts); undefined when the etcd CR could not tell. */
  readonly etcdQuotaBytes?: number | undefined
  readonly memory: PolicyMemory
}

export interface PolicyEvent {
  readonly type: "Normal" | "Warning"
  readonly reason:
    | "BackupStarted"
    | "BackupCompleted"
    | "BackupFailed"
    | "BackupPodRefused"
    | "ProxySecretUnchecked"
    | "BackupVolumeBelowQuota"
    | Blocked["reason"]
  readonly message: string
}

export interface PolicyDesired {
  readonly name: string
  readonly uid: string | undefined
  /** The backup pod to create now, with the Event that announces it. */
  readonly create: { readonly pod: BackupPod; readonly event: PolicyEvent } | undefined
  /** Finished pods beyond the history limits, oldest first. */
  readonly deletions: ReadonlyArray<string>
  readonly status: BackupPolicyStatus
  /** Completions and failures not yet announced (the status read does not name their pod yet). */
  readonly events: ReadonlyArray<PolicyEvent>
  /** The Warning that holds now (announced once). */
  readonly warning: PolicyEvent | undefined
  readonly wakeAt: number | undefined
  readonly metrics: PolicyMetricValues
}

export interface PolicyDesiredState {
  readonly policies: ReadonlyArray<PolicyDesired>
  /** The earliest instant a policy wants a look again although nothing changes. */
  readonly wakeAt: number | undefined
  /**
   * Look again on the controller's failure backoff: the proxy Secret the pods need is missing, and the operator does not
   * watch Secrets (it may only get that one), so only a look tells when it is there.
   */
  readonly recheck: boolean
  readonly memory: PolicyMemory
}

const decodeStatus = Schema.decodeUnknownResult(BackupPolicyStatus)
const at = (text: string | undefined) => (text === undefined ? undefined : parseRfc3339Utc(text))
const maxOf = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : Math.max(...defined)
}

interface ReadyPolicy {
  readonly policy: BackupPolicy
  readonly cron: Cron.Cron | undefined
  readonly minIntervalMs: number
}

/** The policy decoded, its schedule and minInterval parsed; a message naming the first bad field otherwise. */
const readPolicy = (object: PolicyObjectView): Result.Result<ReadyPolicy, string> => {
  const { status: _status, ...rest } = object
  const decoded = decodeBackupPolicy({ ...rest, apiVersion: "backup.openshift.io/v1alpha1", kind: "BackupPolicy" })
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return Result.fail(`${key === "" ? "the policy" : key} ${message}; fix the BackupPolicy`)
  }
  const spec = decoded.success.spec
  const cron = spec.schedule === undefined ? undefined : parseSchedule(spec.schedule, spec.timeZone)
  if (cron !== undefined && Result.isFailure(cron)) return Result.fail(cron.failure.message)
  const minInterval = parseDuration(spec.minInterval ?? "1h")
  if (Result.isFailure(minInterval)) return Result.fail(`spec.minInterval: ${minInterval.failure.message}`)
  return Result.succeed({ policy: decoded.success, cron: cron?.success, minIntervalMs: minInterval.success })
}

const sameRevisions = (set: RevisionSet, recorded: Readonly<Record<string, number>> | RevisionSet): boolean =>
  operandNames.every((name) => (recorded as Readonly<Record<string, number>>)[name] === set[name])

/**
 * The revisions the newest backup attempt was for: the newest pod's annotation, unless the status records a success
 * after that pod started (its own pod deleted by the history limit), whose revisions then count.
 */
const backedUpRevisions = (runs: ReadonlyArray<PolicyRun>, status: BackupPolicyStatus) => {
  const run = runs.find((r) => r.revisions !== undefined)
  const success = status.lastSuccessfulBackup
  const newerSuccess = success?.revisions !== undefined && (run === undefined || (success.pod !== run.pod && (at(success.time) ?? 0) > run.startedAt))
  return newerSuccess ? success.revisions : run?.revisions
}

type Success = NonNullable<BackupPolicyStatus["lastSuccessfulBackup"]>
type Failure = NonNullable<BackupPolicyStatus["lastFailure"]>

const successOf = (run: PolicyRun): Success => {
  if (run.report?._tag === "Report") {
    const r = run.report.report
    const { id, location, time, revisions, etcdRevision, snapshotBytes, resourcesBytes, totalBytes, verdict, verified } = r
    return { id, location, time, pod: run.pod, revisions, etcdRevision, snapshotBytes, resourcesBytes, totalBytes, verdict, verified }
  }
  // backup-upload exited 0, so the backup is in the store; only what it was is unknown.
  return { id: "unknown", time: formatRfc3339Utc(run.endedAt), pod: run.pod }
}

const pascal = (name: string) => name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase())

const failureOf = (run: PolicyRun): Failure => ({
  time: formatRfc3339Utc(run.endedAt),
  pod: run.pod,
  reason: run.failedContainer === undefined ? (run.podReason ?? "PodFailed") : `${pascal(run.failedContainer)}Failed`,
  message: (run.outcome as { reason: string }).reason,
})

/** The newest of the recorded entry and the newest kept pod's (pods deleted by hand must not roll the status back). */
const newer = <A extends { readonly time: string; readonly pod?: string }>(recorded: A | undefined, fromPod: A | undefined): A | undefined => {
  if (fromPod === undefined) return recorded
  if (recorded === undefined || recorded.pod === fromPod.pod) return fromPod
  return (at(recorded.time) ?? 0) > (at(fromPod.time) ?? 0) ? recorded : fromPod
}

const podNameOf = (pod: BackupPod): string => (pod.metadata as { readonly name?: string }).name ?? ""

/** `pod` with one more annotation, its spec-hash recomputed so that it still describes the pod. */
const withAnnotation = (pod: BackupPod, key: string, value: string): BackupPod => {
  const annotated = { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [key]: value } } }
  return {
    ...annotated,
    metadata: { ...annotated.metadata, annotations: { ...annotated.metadata.annotations, [specHashAnnotation]: backupPodSpecHash(annotated) } },
  }
}

const startedEvent = (
  pod: string,
  decision: Extract<ScheduleDecision, { _tag: "Start" }>,
  revisions: RevisionSet,
  request: string | undefined,
): PolicyEvent => {
  const which =
    decision.scheduledTime !== undefined
      ? ` due at ${formatRfc3339Utc(decision.scheduledTime)}`
      : decision.trigger === "Requested" && request !== undefined
        ? ` (request ${request})`
        : ""
  return { type: "Normal", reason: "BackupStarted", message: `pod ${pod} started a ${decision.trigger} backup${which} of ${formatRevisionSet(revisions)}` }
}

const completedEvent = (s: Success): PolicyEvent => ({
  type: "Normal",
  reason: "BackupCompleted",
  message:
    s.id === "unknown"
      ? `pod ${s.pod} completed its backup, but backup-upload left no readable report: see the pod's backup-upload log for its id`
      : `pod ${s.pod} stored backup ${s.id} at ${s.location ?? "the policy's store"}${s.verified === true ? " (verified)" : ""}`,
})

const failedEvent = (f: Failure): PolicyEvent => ({ type: "Warning", reason: "BackupFailed", message: f.message ?? `pod ${f.pod} failed: ${f.reason}` })

interface PolicyRead {
  readonly object: PolicyObjectView
  readonly status: BackupPolicyStatus
  readonly runs: ReadonlyArray<PolicyRun>
}

/**
 * The run the status records in flight (`active`) whose pod is gone before a sync saw it end (deleted by a person, an
 * eviction): a failure at `now`, retried as any failed run.
 */
const vanishedRun = ({ status, runs }: PolicyRead, now: number): Failure | undefined => {
  // A run the status already records as ended (its pod then removed by the history limit) did not vanish.
  const ended = [status.lastSuccessfulBackup?.pod, status.lastFailure?.pod]
  const gone = (status.active ?? []).find((a) => !runs.some((r) => r.pod === a.name) && !ended.includes(a.name))
  return gone === undefined
    ? undefined
    : {
        time: formatRfc3339Utc(now),
        pod: gone.name,
        reason: "PodDeleted",
        message: `pod ${gone.name} was deleted before it ended (by a person or an eviction): its backup did not complete; it is retried as a failed run`,
      }
}

/** The newest success and failure, the status's or the kept pods' (or a vanished run's), with the Events for those not yet announced. */
const finishedRuns = ({ status, runs }: PolicyRead, vanished: Failure | undefined = undefined) => {
  const newestComplete = runs.find((r) => r.outcome._tag === "Complete")
  const newestFailed = runs.find((r) => r.outcome._tag === "Failed")
  const lastSuccessfulBackup = newer(status.lastSuccessfulBackup, newestComplete && successOf(newestComplete))
  const lastFailure = vanished ?? newer(status.lastFailure, newestFailed && failureOf(newestFailed))
  const events = [
    ...(lastSuccessfulBackup !== undefined && lastSuccessfulBackup.pod !== status.lastSuccessfulBackup?.pod ? [completedEvent(lastSuccessfulBackup)] : []),
    ...(lastFailure !== undefined && lastFailure.pod !== status.lastFailure?.pod ? [failedEvent(lastFailure)] : []),
  ]
  return { lastSuccessfulBackup, lastFailure, events }
}

const invalidPolicy = (read: PolicyRead, message: string, now: number): PolicyDesired => {
  const { object, status, runs } = read
  const invalid: Blocked = { reason: "InvalidSpec", message }
  // A pod started before the spec broke still ends, and its backup still counts.
  const { lastSuccessfulBackup, lastFailure, events } = finishedRuns(read)
  const running = runs.find((r) => r.outcome._tag === "Running")?.pod
  const facts: PolicyFacts = {
    invalid,
    blocked: undefined,
    suspended: false,
    running,
    lastSuccess: lastSuccessfulBackup,
    failures: 0,
    lastFailureMessage: undefined,
    nextScheduleTime: undefined,
  }
  const { nextScheduleTime: _next, active: _active, ...kept } = status
  const desired: BackupPolicyStatus = {
    ...kept,
    ...(running === undefined ? {} : { active: [{ kind: "Pod", name: running }] }),
    ...generationOf(object),
    conditions: policyConditions(facts, status.conditions, object.metadata.generation, now),
    ...(lastSuccessfulBackup === undefined ? {} : { lastSuccessfulBackup }),
    ...(lastFailure === undefined ? {} : { lastFailure }),
    ...lastRequestOf(read, undefined, now, undefined),
  }
  return {
    name: object.metadata.name,
    uid: object.metadata.uid,
    create: undefined,
    deletions: [],
    status: desired,
    events,
    warning: warningFor(read, invalid),
    wakeAt: undefined,
    metrics: policyMetricValues({
      name: object.metadata.name,
      policy: undefined,
      created: at(object.metadata.creationTimestamp ?? ""),
      status: desired,
      runs,
      scheduleIntervalMs: undefined,
    }),
  }
}

const generationOf = (object: PolicyObjectView) => (object.metadata.generation === undefined ? {} : { observedGeneration: object.metadata.generation })

/** The Warning for `blocked`, unless the status read already says it (then it was announced before). */
const warningFor = (read: PolicyRead, blocked: Blocked | undefined): PolicyEvent | undefined => {
  if (blocked === undefined) return undefined
  const state: ConditionState = { status: "True", reason: blocked.reason, message: blocked.message }
  return conditionSays(read.status.conditions, "Degraded", state) ? undefined : { type: "Warning", reason: blocked.reason, message: blocked.message }
}

/** What a policy's pods' /backup volume lacks at etcd's quota, and the Warning when it cannot hold a backup there. */
const quotaRoom = (quotaBytes: number | undefined, settings: PolicySettings, policy: BackupPolicy) => {
  const { s3, pvc } = policy.spec.store
  const { partSize, partsInFlight } = policyUploadSettings(settings.upload, settings.podOptions.store)
  const room = podQuotaRoom(quotaBytes, settings.podOptions.backupVolumeSizeLimit, {
    claimName: pvc?.claimName,
    recipientsSecret: (s3 ?? pvc)?.recipientsSecret?.name,
    partSize,
    partsInFlight,
  })
  const warning: PolicyEvent | undefined =
    room?.warning === undefined
      ? undefined
      : { type: "Warning", reason: "BackupVolumeBelowQuota", message: `BackupPolicy ${policy.metadata.name}: ${room.warning}` }
  return { shortfallBytes: room?.shortfallBytes, warning }
}

/** Where a policy's backups go, one string per place: two policies with the same one share every backup there. */
const storeLocation = (store: BackupPolicy["spec"]["store"]): string => {
  const path = (text: string | undefined) =>
    (text ?? "")
      .split("/")
      .filter((s) => s !== "" && s !== ".")
      .join("/")
  return store.s3 === undefined
    ? `the PersistentVolumeClaim ${store.pvc?.claimName ?? ""}${path(store.pvc?.subPath) === "" ? "" : ` (subPath ${path(store.pvc?.subPath)})`}`
    : `s3://${store.s3.bucket}/${path(store.s3.prefix)}${store.s3.endpoint === undefined ? "" : ` at ${store.s3.endpoint}`}`
}

/**
 * The policies whose store another, older policy uses already (by creation time, then name), with why they cannot run:
 * each policy's retention prunes its whole store, the other's backups included, and runs of both in the same second
 * would write the same backup id. The oldest keeps the store.
 */
const sharedStores = (policies: ReadonlyArray<PolicyObjectView>): ReadonlyMap<string, string> => {
  const age = (o: PolicyObjectView) => at(o.metadata.creationTimestamp ?? "") ?? Number.POSITIVE_INFINITY
  const holders = new Map<string, string>()
  const shared = new Map<string, string>()
  for (const object of [...policies].sort((a, b) => age(a) - age(b) || a.metadata.name.localeCompare(b.metadata.name))) {
    const parsed = readPolicy(object)
    if (Result.isFailure(parsed)) continue
    const location = storeLocation(parsed.success.policy.spec.store)
    const holder = holders.get(location)
    if (holder === undefined) holders.set(location, object.metadata.name)
    else {
      shared.set(
        object.metadata.name,
        `spec.store: BackupPolicy ${holder} already stores into ${location}: each policy prunes its whole store by its own retention (the other's backups too), and runs of both in the same second would write the same backup id; give this policy its own prefix (s3) or subPath (pvc); fix the BackupPolicy`,
      )
    }
  }
  return shared
}

const decidePolicy = (
  read: PolicyRead,
  observed: PolicyObserved,
  settings: PolicySettings,
  /** Since when memory has seen the current revisions unchanged (undefined: not that long, or not seen). */
  memorySince: number | undefined,
  sharedStore: string | undefined,
  proxy: ProxySecretProblem | undefined,
): PolicyDesired => {
  const { object, status, runs } = read
  const { now } = observed
  const parsed = readPolicy(object)
  if (Result.isFailure(parsed)) return invalidPolicy(read, parsed.failure, now)
  if (sharedStore !== undefined) return invalidPolicy(read, sharedStore, now)
  const limit = policyBandwidthLimit(parsed.success.policy, policyUploadSettings(settings.upload, settings.podOptions.store))
  if (Result.isFailure(limit)) return invalidPolicy(read, `${limit.failure.key} ${limit.failure.problem}; fix the BackupPolicy`, now)
  const { policy, cron, minIntervalMs } = parsed.success
  const spec = policy.spec
  const name = object.metadata.name
  const created = at(object.metadata.creationTimestamp ?? "")
  const running = runs.find((r) => r.outcome._tag === "Running")
  const streak = failureStreak(runs, status)
  const recordedSchedule = maxOf([at(status.lastScheduleTime), ...runs.map((r) => r.scheduledTime)])
  const revisions = Result.isSuccess(observed.revisions) ? observed.revisions.success : undefined
  const backedUp = backedUpRevisions(runs, status)
  const changed = spec.onRevisionChange === true && revisions !== undefined && (backedUp === undefined || !sameRevisions(revisions, backedUp))
  // The status's record, shared by every replica and kept across restarts, says since when the revisions have not
  // changed; other revisions there mean they changed since (this replica's memory may have missed that). Memory
  // counts only while the status records nothing (its write has yet to land).
  const recorded = status.observedRevisions
  const recordedSince =
    revisions === undefined || recorded === undefined ? undefined : sameRevisions(revisions, recorded.revisions) ? (at(recorded.since) ?? now) : now
  const stableSince = Math.min(recordedSince ?? memorySince ?? now, now)
  const settledAt = stableSince + settings.settleMs
  const request = requestIn(object.metadata.annotations)
  // A run started for it whose status write did not land (the operator stopped in between) has its pod to say so.
  const requestRun = request === undefined ? undefined : runs.find((r) => r.request === request)
  const decision = decideSchedule(cron, {
    now,
    suspend: spec.suspend ?? false,
    // An overdue pod is deleted before the next one is created: it could still start. One on a node and being deleted
    // cannot (its kubelet starts nothing of a pod being deleted): past its deadline that node is lost, and the API keeps
    // the pod Terminating until the Node object is deleted.
    active: running !== undefined || runs.some((r) => r.overdue && !(r.deleting && r.onNode)),
    lastScheduleTime: recordedSchedule ?? created ?? now,
    lastRunStart: runs[0]?.startedAt ?? maxOf([at(status.lastSuccessfulBackup?.time), at(status.lastFailure?.time)]),
    revisionChangePending: changed && now >= settledAt,
    requestPending: request !== undefined && status.lastRequest?.id !== request && requestRun === undefined,
    minIntervalMillis: minIntervalMs,
    consecutiveFailures: streak.count,
    lastFailureTime: streak.lastFailureTime,
    backoff: settings.backoff,
  })

  let create: PolicyDesired["create"]
  let blocked: Blocked | undefined
  const deleting = typeof object.metadata.deletionTimestamp === "string"
  // A run whose pod vanished is recorded as failed first; the next sync (woken by that status write) retries it with
  // the failure counted, as for any failed run.
  const vanished = vanishedRun(read, now)
  // A pod that cannot start (its proxy Secret missing) is not created: the policy says why until the Secret is there.
  if (proxy?._tag === "ProxySecretMissing") blocked = { reason: "ProxySecretMissing", message: `no backup starts until it is fixed: ${proxy.message}` }
  else if (decision._tag === "Start" && !deleting && vanished === undefined) {
    if (revisions === undefined) {
      const why = Result.isFailure(observed.revisions) ? observed.revisions.failure.map((e) => e.message).join("; ") : ""
      blocked = { reason: "RevisionsUnavailable", message: `a ${decision.trigger} backup is due but the operands' revisions cannot be read: ${why}` }
    } else {
      const rendered = renderPolicyBackupPod({
        policy,
        revisions,
        podOptions: { namespace: settings.namespace, ...settings.podOptions },
        upload: settings.upload,
        table: settings.table,
        trigger: decision.trigger,
        startedAt: now,
        scheduledTime: decision.scheduledTime,
      })
      if (Result.isFailure(rendered)) blocked = { reason: "InvalidSpec", message: `the backup pod cannot be rendered: ${rendered.failure.message}` }
      else {
        const attempt = withAnnotation(rendered.success, attemptAnnotation, String(streak.count + 1))
        const pod = decision.trigger === "Requested" && request !== undefined ? withAnnotation(attempt, backupRequestAnnotation, request) : attempt
        create = { pod, event: startedEvent(podNameOf(pod), decision, revisions, request) }
      }
    }
  }
  const createdName = create === undefined ? undefined : podNameOf(create.pod)

  const { lastSuccessfulBackup, lastFailure, events } = finishedRuns(read, vanished)
  const volume = quotaRoom(observed.etcdQuotaBytes, settings, policy)
  const activePod = createdName ?? running?.pod
  const scheduled = create !== undefined && decision._tag === "Start" && decision.scheduledTime !== undefined ? decision.scheduledTime : recordedSchedule
  const nextScheduleTime = decision._tag === "Suspended" ? undefined : decision.nextScheduleTime
  const facts: PolicyFacts = {
    invalid: blocked?.reason === "InvalidSpec" ? blocked : undefined,
    blocked,
    suspended: spec.suspend ?? false,
    running: createdName ?? running?.pod,
    runningStuck: createdName === undefined ? running?.stuck : undefined,
    runningPulling: createdName === undefined ? running?.pulling : undefined,
    lastSuccess: lastSuccessfulBackup,
    failures: vanished === undefined ? streak.count : streak.count + 1,
    lastFailureMessage: lastFailure?.message ?? lastFailure?.reason,
    nextScheduleTime: nextScheduleTime === undefined ? undefined : formatRfc3339Utc(nextScheduleTime),
  }
  const desired: BackupPolicyStatus = {
    ...generationOf(object),
    ...(activePod === undefined ? {} : { active: [{ kind: "Pod", name: activePod }] }),
    conditions: policyConditions(facts, status.conditions, object.metadata.generation, now),
    ...(scheduled === undefined ? {} : { lastScheduleTime: formatRfc3339Utc(scheduled) }),
    ...(nextScheduleTime === undefined ? {} : { nextScheduleTime: formatRfc3339Utc(nextScheduleTime) }),
    ...(lastSuccessfulBackup === undefined ? {} : { lastSuccessfulBackup }),
    ...(lastFailure === undefined ? {} : { lastFailure }),
    ...observedRevisionsOf(spec, revisions, status, stableSince),
    ...lastRequestOf(read, create !== undefined && decision._tag === "Start" && decision.trigger === "Requested" ? createdName : undefined, now, vanished),
  }
  // While a pod runs, its end (a pod watch event) is the next thing to look at: decideSchedule's "now + 1" for a
  // run due behind it would wake the controller every millisecond until then.
  const wait = decision._tag === "Wait" && running === undefined ? decision.wakeAt : undefined
  const settle = changed && now < settledAt ? settledAt : undefined
  const next = nextScheduleTime
  return {
    name,
    uid: object.metadata.uid,
    create,
    deletions: historyDeletions(
      runs,
      spec.successfulPodsHistoryLimit ?? historyDefaults.successful,
      spec.failedPodsHistoryLimit ?? historyDefaults.failed,
    ).filter(
      // While the status does not record the request (a CRD that prunes lastRequest), its pod is what says it was taken.
      (pod) => pod !== requestRun?.pod || status.lastRequest?.id === request || requestRun.overdue,
    ),
    status: desired,
    events,
    warning:
      warningFor(read, blocked) ??
      (proxy?._tag === "ProxySecretUnchecked" ? { type: "Warning", reason: proxy._tag, message: proxy.message } : undefined) ??
      volume.warning,
    wakeAt: earliestTime([wait, settle, running?.overdueAt, running?.notStartingAt]),
    metrics: policyMetricValues({
      name,
      policy,
      created,
      status: desired,
      runs,
      scheduleIntervalMs: cron === undefined || next === undefined ? undefined : scheduleInterval(cron, next),
      // A backup of changed revisions is wanted once they settled, and not before the policy existed.
      revisionChangePendingSince: changed ? Math.max(settledAt, created ?? settledAt) : undefined,
      minIntervalMs: spec.onRevisionChange === true ? minIntervalMs : undefined,
      volumeShortfallBytes: volume.shortfallBytes,
    }),
  }
}

/** The newest request a run was started for: the one started now, else one whose pod the status does not name yet. */
const lastRequestOf = (
  read: PolicyRead,
  startedNow: string | undefined,
  now: number,
  vanished: Failure | undefined,
): Pick<BackupPolicyStatus, "lastRequest"> => {
  const { status } = read
  const request = requestIn(read.object.metadata.annotations)
  const requestRun = request === undefined ? undefined : read.runs.find((r) => r.request === request)
  if (request !== undefined && startedNow !== undefined) return { lastRequest: { id: request, pod: startedNow, time: formatRfc3339Utc(now) } }
  if (request !== undefined && requestRun !== undefined && status.lastRequest?.id !== request)
    return { lastRequest: requestOutcome({ id: request, pod: requestRun.pod, time: formatRfc3339Utc(requestRun.startedAt) }, read, vanished) }
  return status.lastRequest === undefined ? {} : { lastRequest: requestOutcome(status.lastRequest, read, vanished) }
}

type HandledRequest = NonNullable<BackupPolicyStatus["lastRequest"]>

/**
 * The request with what its pod came to once it ended, recorded once: `backup-now` reads it there, since a later
 * backup replaces `lastSuccessfulBackup` and `lastFailure` (the next one can end before it looks again).
 */
const requestOutcome = (request: HandledRequest, { status, runs }: PolicyRead, vanished: Failure | undefined): HandledRequest => {
  if (request.backup !== undefined || request.failure !== undefined) return request
  const run = runs.find((r) => r.pod === request.pod)
  if (run?.outcome._tag === "Complete") return { ...request, backup: successOf(run) }
  if (run?.outcome._tag === "Failed") return { ...request, failure: failureOf(run) }
  if (vanished?.pod === request.pod) return { ...request, failure: vanished }
  // Its pod gone, an operator from before this record wrote its end only there.
  if (status.lastSuccessfulBackup?.pod === request.pod) return { ...request, backup: status.lastSuccessfulBackup }
  if (status.lastFailure?.pod === request.pod) return { ...request, failure: status.lastFailure }
  return request
}

/** What the status records of the revisions' settle clock: only for a policy that backs up on revision changes. */
const observedRevisionsOf = (
  spec: BackupPolicy["spec"],
  revisions: RevisionSet | undefined,
  status: BackupPolicyStatus,
  stableSince: number,
): Pick<BackupPolicyStatus, "observedRevisions"> => {
  if (spec.onRevisionChange !== true) return {}
  // Revisions that cannot be read now leave the record as it was.
  if (revisions === undefined) return status.observedRevisions === undefined ? {} : { observedRevisions: status.observedRevisions }
  return { observedRevisions: { revisions: { ...revisions }, since: formatRfc3339Utc(stableSince) } }
}

const readOf = (object: PolicyObjectView, observed: PolicyObserved): PolicyRead => {
  const decoded = object.status === undefined ? undefined : decodeStatus(object.status)
  const label = policyLabelValue(object.metadata.name)
  // A pod owned by another uid is a deleted policy's of the same name, which the garbage collector has yet to remove:
  // its backup is in that policy's store, not this one's.
  const uid = object.metadata.uid
  const pods = observed.pods.filter((p) => p.policy === label && (uid === undefined || p.owner === undefined || p.owner === uid))
  return {
    object,
    status: decoded !== undefined && Result.isSuccess(decoded) ? decoded.success : {},
    runs: policyRuns(pods, observed.now),
  }
}

/** What each policy wants, from what one sync read. */
export const policyDesiredState = (observed: PolicyObserved, settings: PolicySettings): PolicyDesiredState => {
  const { memory, now } = observed
  const revisions = Result.isSuccess(observed.revisions) ? observed.revisions.success : undefined
  const same = revisions !== undefined && memory.observed !== undefined && memory.stableSince !== undefined && revisionSetsEqual(memory.observed, revisions)
  const memorySince = same ? memory.stableSince : undefined
  const shared = sharedStores(observed.policies)
  const proxy = proxySecretProblem(proxySecretKeys(settings.podOptions.proxyEnv), observed.proxySecret, settings.namespace)
  const policies = observed.policies.map((object) =>
    decidePolicy(readOf(object, observed), observed, settings, memorySince, shared.get(object.metadata.name), proxy),
  )
  const warned: Record<string, string> = {}
  for (const p of policies) if (p.warning !== undefined) warned[p.name] = p.warning.message
  const stillWanted = new Set(policies.filter((p) => p.create !== undefined).map((p) => p.name))
  const refused = Object.fromEntries(Object.entries(memory.refused).filter(([name]) => stillWanted.has(name)))
  return {
    policies,
    wakeAt: earliestTime(policies.map((p) => p.wakeAt)),
    recheck: proxy?._tag === "ProxySecretMissing" && policies.length > 0,
    memory: {
      observed: revisions ?? memory.observed,
      stableSince: revisions === undefined ? memory.stableSince : (memorySince ?? now),
      warned,
      refused,
      ...(memory.droppedStatusFields === undefined ? {} : { droppedStatusFields: memory.droppedStatusFields }),
    },
  }
}

export type PolicyWrite =
  | { readonly _tag: "CreatePod"; readonly policy: string; readonly pod: BackupPod; readonly event: PolicyEvent }
  /** Replace the status read (`resourceVersion` as read: a stale one is a Conflict, and the sync looks again). */
  | { readonly _tag: "UpdateStatus"; readonly policy: string; readonly status: BackupPolicyStatus }
  | { readonly _tag: "DeletePod"; readonly policy: string; readonly pod: string }
  | { readonly _tag: "RecordEvent"; readonly policy: string; readonly event: PolicyEvent }

/**
 * The writes that take the cluster from `observed` to `desired`, per policy in the order to apply them: the pod
 * first (a status never names a run that did not start), then the status, then the deletions and Events (only
 * after the status that records the pods' outcomes landed: the program skips a policy's rest when a write fails).
 * A Warning already announced (memory) is not announced again.
 */
export const policyDiff = (observed: PolicyObserved, desired: PolicyDesiredState): ReadonlyArray<PolicyWrite> =>
  desired.policies.flatMap((p): ReadonlyArray<PolicyWrite> => {
    const object = observed.policies.find((o) => o.metadata.name === p.name)
    const statusChanged = canonicalJson(object?.status ?? {}) !== canonicalJson(p.status)
    const warning = p.warning !== undefined && observed.memory.warned[p.name] !== p.warning.message ? [p.warning] : []
    return [
      ...(p.create === undefined ? [] : [{ _tag: "CreatePod", policy: p.name, pod: p.create.pod, event: p.create.event } as const]),
      ...(statusChanged ? [{ _tag: "UpdateStatus", policy: p.name, status: p.status } as const] : []),
      ...p.deletions.map((pod) => ({ _tag: "DeletePod", policy: p.name, pod }) as const),
      ...[...warning, ...p.events].map((event) => ({ _tag: "RecordEvent", policy: p.name, event }) as const),
    ]
  })
