/**
 * What the BackupConfigController wants the cluster to hold, from what one sync read, and the
 * writes that get it there. `desiredState` decides (the pod spec to publish, the status, the
 * Warnings that hold now, when to look again); `diff` compares that with what was read and yields
 * only the difference, so a second sync with nothing changed writes nothing. Both are pure: the
 * program around them reads, then applies the writes in order.
 */
import { Result } from "effect"
import { latestOutcome, newestRunningManualPod, type BackupOutcome, type BackupPodView } from "./backup-pod-outcome.ts"
import { notStartingFrom, notStartingOf } from "./backup-pod-start.ts"
import { earliestTime } from "./earliest-time.ts"
import { backupPodHistoryDefaults, backupPodHistoryDeletions, type BackupPodHistoryLimits } from "./backup-pod-history.ts"
import { backupStatusConfigMapName, backupStatusKeys, decodeBackupStatus, encodeBackupStatus, lastCompleteTimeOf, type BackupStatus } from "./backup-status.ts"
import { countableRenderTime, decide, type ControllerDecision } from "./controller-decision.ts"
import type { OperandTable } from "./operands.ts"
import { podQuotaRoom } from "./etcd-quota-room.ts"
import { renderBackupPodYaml } from "./pod-spec.ts"
import type { BackupPodOptions } from "./backup-pod-options.ts"
import { revisionsAnnotation } from "./backup-pod-names.ts"
import { proxySecretKeys } from "./pod-proxy-env.ts"
import { proxySecretProblem, type ProxySecretRead } from "./proxy-secret-check.ts"
import { formatRevisionSet, parseRevisionsFlag, revisionSetsEqual, type LatestRevisionError, type RevisionSet } from "./revisions.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "./rfc3339.ts"

export const backupPodConfigMapName = "cluster-backup-pod"
export const backupPodYamlKey = "backup-pod.yaml"
/** On `cluster-backup-pod`: when its spec was rendered (RFC 3339), a fact the status can be rebuilt from. */
export const renderedAtAnnotation = "backup.openshift.io/rendered-at"

/** What the operator was configured with. */
export interface OperatorSettings {
  readonly namespace: string
  readonly podOptions: Partial<BackupPodOptions>
  readonly minIntervalMs: number
  readonly settleMs: number
  readonly table: OperandTable
  /** How many ended pods made from `cluster-backup-pod` are kept (`backupPodHistoryDefaults`). */
  readonly podHistory?: BackupPodHistoryLimits | undefined
}

/** The Warnings the controller raises; each is announced once while it holds with the same message. */
export type WarningReason =
  | "RevisionsUnavailable"
  | "BackupStatusRepaired"
  | "ProxySecretMissing"
  | "ProxySecretUnchecked"
  | "BackupVolumeBelowQuota"
  | "BackupPodNotStarting"

/** What the controller remembers between syncs (lost on restart: then it just settles again). */
export interface OperatorMemory {
  /** The revisions last observed, and since when they have not changed. */
  readonly observed: RevisionSet | undefined
  readonly stableSince: number | undefined
  /** The Warnings announced and still holding, by reason. */
  readonly warned: Readonly<Partial<Record<WarningReason, string>>>
}
export const emptyMemory: OperatorMemory = { observed: undefined, stableSince: undefined, warned: {} }

/** A ConfigMap as read: its `data` and `annotations` (the rest is the program's business). */
export interface ObservedConfigMap {
  readonly data: Readonly<Record<string, string>> | undefined
  readonly annotations: Readonly<Record<string, string>> | undefined
  /** Its `metadata.creationTimestamp` (epoch ms), when the API server gave one. */
  readonly createdAt?: number | undefined
}

/** Everything one sync read. */
export interface OperatorObserved {
  readonly now: number
  /** The operator CRs' revisions, or every operand's reason why there are none. */
  readonly revisions: Result.Result<RevisionSet, ReadonlyArray<LatestRevisionError>>
  /** `backup-status`; undefined when it does not exist. */
  readonly status: ObservedConfigMap | undefined
  /** `cluster-backup-pod`; undefined when it does not exist. */
  readonly podSpec: ObservedConfigMap | undefined
  /** The backup pods (selected by `backupPodSelector`). */
  readonly pods: ReadonlyArray<BackupPodView>
  /** Secret `cluster-backup-proxy`'s keys as read, when the rendered pod takes a proxy credential from it (else not read). */
  readonly proxySecret?: ProxySecretRead | undefined
  /** etcd's backend quota (etcd-quota-room.ts); undefined when the etcd CR could not tell. */
  readonly etcdQuotaBytes?: number | undefined
  readonly memory: OperatorMemory
}

/** The content wanted in a ConfigMap this controller owns (only these keys; others are left alone). */
export interface WantedConfigMap {
  readonly data: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

export interface DesiredEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

/** What the controller wants, from what it read. */
export interface DesiredState {
  /** The decision; undefined when the revisions cannot be told (then nothing but a Warning is wanted). */
  readonly decision: ControllerDecision | undefined
  readonly revisions: RevisionSet | undefined
  /** `cluster-backup-pod` (undefined: leave it as it is). */
  readonly podSpec: WantedConfigMap | undefined
  /** `backup-status` (undefined: leave it as it is). */
  readonly status: BackupStatus | undefined
  /** How the newest backup pod of the rendered spec went (none on a fresh render). */
  readonly outcome: BackupOutcome | undefined
  /** The Warnings that hold now, by reason. */
  readonly warnings: Readonly<Partial<Record<WarningReason, string>>>
  /** What the rendered pod's /backup volume lacks to hold a backup at etcd's quota (0: nothing); undefined while the quota is unknown. */
  readonly volumeShortfallBytes: number | undefined
  /** Transitions to report as Events when this state is reached. */
  readonly events: ReadonlyArray<DesiredEvent>
  /** Ended pods made from `cluster-backup-pod` beyond the history limits, oldest first. */
  readonly deletions: ReadonlyArray<string>
  /** When to sync again although nothing changes (a pending render, a pod that will count as not starting). */
  readonly requeueAt: number | undefined
  readonly memory: OperatorMemory
}

export type OperatorWrite =
  | { readonly _tag: "RecordEvent"; readonly event: DesiredEvent }
  | { readonly _tag: "CreateConfigMap"; readonly name: string; readonly content: WantedConfigMap }
  /** Replace the ConfigMap read with this full `data` and `annotations` (others' keys already merged in). */
  | { readonly _tag: "UpdateConfigMap"; readonly name: string; readonly content: WantedConfigMap }
  | { readonly _tag: "DeletePod"; readonly pod: string }

/** The last render as the cluster shows it: the revisions annotation written with the spec, and when. */
const renderedFacts = (podSpec: ObservedConfigMap | undefined): { revisions: RevisionSet; at: number | undefined } | undefined => {
  const text = podSpec?.annotations?.[revisionsAnnotation]
  const parsed = text === undefined ? undefined : parseRevisionsFlag(text)
  if (parsed === undefined || Result.isFailure(parsed)) return undefined
  return { revisions: parsed.success, at: parseRfc3339Utc(podSpec?.annotations?.[renderedAtAnnotation] ?? "") }
}

const pendingFrom = (facts: { revisions: RevisionSet; at: number | undefined }): BackupStatus => ({
  status: "Pending",
  revisions: facts.revisions,
  ...(facts.at === undefined ? {} : { lastRenderTime: facts.at }),
})

/**
 * When the last render was, for a status without `lastRenderTime` (an older version wrote it): the rendered spec's own
 * time when it is of the status's revisions, else the later ConfigMap creation (the first render's, no later than the
 * last), else now (the minimum interval runs from this first sight). Never unknown: an unknown time would let the next
 * change render at once, skipping the minimum interval. Written back with the status, so it is inferred once.
 */
const inferredRenderTime = (observed: OperatorObserved, facts: ReturnType<typeof renderedFacts>, read: BackupStatus): number => {
  const spec = facts !== undefined && facts.at !== undefined && revisionSetsEqual(facts.revisions, read.revisions) ? facts.at : undefined
  const known = [spec, observed.status?.createdAt, observed.podSpec?.createdAt].filter((t): t is number => t !== undefined && t <= observed.now)
  return spec ?? (known.length === 0 ? observed.now : Math.max(...known))
}

/** The status as read, or rebuilt from observed facts (never from guesses), with the Warning a rebuild raises. */
const currentStatus = (observed: OperatorObserved, table: OperandTable) => {
  const facts = renderedFacts(observed.podSpec)
  if (observed.status === undefined) return { status: facts === undefined ? undefined : pendingFrom(facts), facts, repaired: undefined }
  const decoded = decodeBackupStatus(observed.status.data ?? {}, table)
  if (Result.isSuccess(decoded)) {
    const read = decoded.success
    // The spec was rendered after the render the status names (other revisions, a later time): that render's status
    // write did not land. The spec is the last render (the minimum interval runs from it): the status follows it.
    const newerSpec =
      facts?.at !== undefined && read.lastRenderTime !== undefined && facts.at > read.lastRenderTime && !revisionSetsEqual(facts.revisions, read.revisions)
    if (!newerSpec)
      return {
        status: read.lastRenderTime === undefined ? { ...read, lastRenderTime: inferredRenderTime(observed, facts, read) } : read,
        facts,
        repaired: undefined,
      }
    const { lastBackupTime } = read
    const lastCompleteTime = lastCompleteTimeOf(read)
    const kept = { ...(lastBackupTime === undefined ? {} : { lastBackupTime }), ...(lastCompleteTime === undefined ? {} : { lastCompleteTime }) }
    return { status: { ...pendingFrom(facts), ...kept }, facts, repaired: undefined }
  }
  const from = facts === undefined ? "the observed revisions (no rendered pod spec found)" : `the rendered pod spec in ${backupPodConfigMapName}`
  return { status: facts === undefined ? undefined : pendingFrom(facts), facts, repaired: `${decoded.failure.message} Rebuilding it from ${from}.` }
}

/** What a finished backup pod's outcome says: which pod completed, or why it failed. */
const outcomeMessage = (outcome: Exclude<BackupOutcome, { _tag: "Running" }>): string => {
  if (outcome._tag === "Failed") return outcome.reason
  return outcome.dirty === undefined
    ? `backup by pod ${outcome.pod} completed`
    : `backup by pod ${outcome.pod} completed, but it is possibly dirty (verify and restore refuse it without --allow-dirty): ${outcome.dirty.join("; ")}`
}

/** The status with the newest backup pod's outcome folded in. */
const withOutcome = (status: BackupStatus, outcome: BackupOutcome | undefined): BackupStatus => {
  if (outcome === undefined || outcome._tag === "Running") return status
  const lastComplete = lastCompleteTimeOf(status)
  if (outcome._tag === "Complete") {
    const lastCompleteTime = Math.max(outcome.at, lastComplete ?? outcome.at)
    return { ...status, status: "Complete", lastBackupTime: outcome.at, lastCompleteTime, message: outcomeMessage(outcome) }
  }
  return {
    ...status,
    status: "Failed",
    lastBackupTime: outcome.at,
    ...(lastComplete === undefined ? {} : { lastCompleteTime: lastComplete }),
    message: outcomeMessage(outcome),
  }
}

const transitionEvents = (
  decision: ControllerDecision,
  before: BackupStatus | undefined,
  after: BackupStatus | undefined,
  outcome: BackupOutcome | undefined,
): ReadonlyArray<DesiredEvent> => {
  if (decision._tag === "Render") {
    const message = `rendered ${backupPodConfigMapName} for ${formatRevisionSet(decision.revisions)}: ${decision.reasons.join("; ")}`
    return [{ type: "Normal", reason: "BackupPodRendered", message }]
  }
  // A backup pod ended: the phase changed, or another pod ended in the same one (a new lastBackupTime: each pod's end is its own).
  if (after === undefined || before === undefined || (after.status === before.status && after.lastBackupTime === before.lastBackupTime)) return []
  // The pod's words: the status message says what is pending instead while a render waits.
  const message = (fallback: string) => (outcome === undefined || outcome._tag === "Running" ? (after.message ?? fallback) : outcomeMessage(outcome))
  if (after.status === "Complete")
    return outcome?._tag === "Complete" && outcome.dirty !== undefined
      ? [{ type: "Warning", reason: "BackupPossiblyDirty", message: message("backup completed, possibly dirty") }]
      : [{ type: "Normal", reason: "BackupCompleted", message: message("backup completed") }]
  if (after.status === "Failed") return [{ type: "Warning", reason: "BackupFailed", message: message("backup failed") }]
  return []
}

/**
 * The Warning while the newest pod made from `cluster-backup-pod` that still runs cannot start (an image that cannot be
 * pulled, a Secret missing, a volume that cannot be mounted): only its deadline would end it, and `backup-status` alone
 * says Pending.
 */
const notStartingWarning = (pod: BackupPodView | undefined, now: number): { BackupPodNotStarting: string } | undefined => {
  if (pod === undefined) return undefined
  const words = notStartingOf(pod, now)
  return words === undefined
    ? undefined
    : { BackupPodNotStarting: `backup pod ${pod.name} cannot start its ${words}; it fails at its deadline unless the cause is fixed` }
}

/** The message of the Warning raised while the operator CRs cannot be read into revisions. */
export const revisionsUnavailableMessage = (errors: ReadonlyArray<LatestRevisionError>): string =>
  `cannot tell which revisions to back up: ${errors.map((e) => e.message).join("; ")}`

/**
 * What the controller wants, from what it read. Renders only as `decide` allows (settle window,
 * minimum interval); a malformed status is rebuilt from the rendered spec's annotations or from
 * the observed revisions; while the revisions cannot be told, only the Warning is wanted.
 */
export const desiredState = (observed: OperatorObserved, settings: OperatorSettings): DesiredState => {
  const { now, memory } = observed
  // The rendered spec is published all the same: it is right once the Secret is there, and only a person creates its pod.
  const proxy = proxySecretProblem(proxySecretKeys(settings.podOptions.proxyEnv), observed.proxySecret, settings.namespace)
  const volume = podQuotaRoom(observed.etcdQuotaBytes, settings.podOptions.backupVolumeSizeLimit, settings.podOptions.store)
  const volumeShortfallBytes = volume?.shortfallBytes
  const newestManual = newestRunningManualPod(observed.pods, now)
  // A pod on its node that has started nothing counts as not starting only later: a sync then raises the Warning.
  const notStartingAt = newestManual === undefined ? undefined : notStartingFrom(newestManual, now)
  const heldWarnings = {
    ...notStartingWarning(newestManual, now),
    ...(proxy === undefined ? {} : { [proxy._tag]: proxy.message }),
    ...(volume?.warning === undefined ? {} : { BackupVolumeBelowQuota: volume.warning }),
  }
  if (Result.isFailure(observed.revisions)) {
    const warnings = { RevisionsUnavailable: revisionsUnavailableMessage(observed.revisions.failure), ...heldWarnings }
    const next = { ...memory, warned: warnings }
    return {
      decision: undefined,
      revisions: undefined,
      podSpec: undefined,
      status: undefined,
      outcome: undefined,
      warnings,
      volumeShortfallBytes,
      events: [],
      deletions: [],
      requeueAt: notStartingAt,
      memory: next,
    }
  }
  const revisions = observed.revisions.success
  const stableSince =
    memory.observed !== undefined && memory.stableSince !== undefined && revisionSetsEqual(memory.observed, revisions) ? memory.stableSince : now
  const { status, facts, repaired } = currentStatus(observed, settings.table)
  const warnings = { ...(repaired === undefined ? {} : { BackupStatusRepaired: repaired }), ...heldWarnings }
  const decision = decide({
    observed: revisions,
    lastRendered: status?.revisions,
    lastRenderAt: status?.lastRenderTime,
    stableSince,
    now,
    minIntervalMs: settings.minIntervalMs,
    settleMs: settings.settleMs,
  })
  const outcome =
    decision._tag === "Render" || status === undefined
      ? undefined
      : latestOutcome(observed.pods, status.revisions, countableRenderTime(status.lastRenderTime, now), now)
  const wanted = wantedStatus(decision, status, outcome, now, settings.namespace)
  const rendered = decision._tag === "Render" ? decision.revisions : status?.revisions
  const renderedAt = decision._tag === "Render" ? now : (status?.lastRenderTime ?? facts?.at ?? now)
  const podSpec =
    rendered === undefined
      ? undefined
      : {
          data: { [backupPodYamlKey]: renderBackupPodYaml(rendered, { namespace: settings.namespace, ...settings.podOptions }, settings.table) },
          annotations: { [renderedAtAnnotation]: formatRfc3339Utc(renderedAt), [revisionsAnnotation]: formatRevisionSet(rendered) },
        }
  return {
    decision,
    revisions,
    podSpec,
    status: wanted,
    outcome,
    warnings,
    volumeShortfallBytes,
    events: transitionEvents(decision, status, wanted, outcome),
    deletions: backupPodHistoryDeletions(observed.pods, settings.podHistory ?? backupPodHistoryDefaults, outcome?.pod),
    requeueAt: earliestTime([decision._tag === "WaitUntil" ? decision.at : undefined, notStartingAt]),
    memory: { observed: revisions, stableSince, warned: warnings },
  }
}

/** How `backup-status`'s message starts while a render waits (the settle window, the minimum interval). */
export const renderPending = "render pending: "

const wantedStatus = (
  decision: ControllerDecision,
  status: BackupStatus | undefined,
  outcome: BackupOutcome | undefined,
  now: number,
  namespace: string,
): BackupStatus | undefined => {
  switch (decision._tag) {
    case "Render": {
      const lastComplete = status === undefined ? undefined : lastCompleteTimeOf(status)
      return {
        status: "Pending",
        revisions: decision.revisions,
        lastRenderTime: now,
        ...(status?.lastBackupTime === undefined ? {} : { lastBackupTime: status.lastBackupTime }),
        ...(lastComplete === undefined ? {} : { lastCompleteTime: lastComplete }),
        message: `pod spec rendered for ${formatRevisionSet(decision.revisions)} (${decision.reasons.join("; ")}); take the backup with: oc get cm ${backupPodConfigMapName} -n ${namespace} -o "jsonpath={.data['backup-pod\\.yaml']}" | oc create -f -`,
      }
    }
    case "WaitUntil":
      return status === undefined ? undefined : { ...withOutcome(status, outcome), message: `${renderPending}${decision.reason}` }
    case "UpToDate": {
      if (status === undefined) return undefined
      const current = withOutcome(status, outcome)
      // The revisions went back to those rendered before the pending render came due (a rollout undone).
      return current.message?.startsWith(renderPending)
        ? { ...current, message: `no render pending: the observed revisions are again those rendered, ${formatRevisionSet(current.revisions)}` }
        : current
    }
  }
}

const sameRecord = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>): boolean => {
  const ak = Object.keys(a ?? {}).sort()
  const bk = Object.keys(b).sort()
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && a![k] === b[k])
}

/** Only our keys of a ConfigMap are written: data keys we do not own and others' annotations are kept, ours are exactly the wanted ones. */
const configMapWrite = (
  name: string,
  current: ObservedConfigMap | undefined,
  wanted: WantedConfigMap,
  ownDataKeys: (key: string) => boolean,
): OperatorWrite | undefined => {
  if (current === undefined) return { _tag: "CreateConfigMap", name, content: wanted }
  const foreign = Object.entries(current.data ?? {}).filter(([k]) => !ownDataKeys(k))
  const data = { ...Object.fromEntries(foreign), ...wanted.data }
  const annotations = { ...current.annotations, ...wanted.annotations }
  if (sameRecord(current.data, data) && sameRecord(current.annotations, annotations)) return undefined
  return { _tag: "UpdateConfigMap", name, content: { data, annotations } }
}

const isStatusKey = (key: string) => (backupStatusKeys as ReadonlyArray<string>).includes(key)
/** `cluster-backup-pod` holds the rendered spec and nothing else. */
const ownsEveryKey = () => true

/**
 * The writes that take the cluster from `observed` to `desired`, in the order to apply them:
 * Warnings not yet announced (an Event is a report, not the job), the pod spec before the status
 * (so a status never names a spec that is not there), then the transition Events, and last the pods
 * beyond the history limits (once the status holds what they said). Empty when the cluster already
 * holds the desired state.
 */
export const diff = (observed: OperatorObserved, desired: DesiredState, table: OperandTable): ReadonlyArray<OperatorWrite> => {
  const warnings = (Object.entries(desired.warnings) as Array<[WarningReason, string]>)
    .filter(([reason, message]) => observed.memory.warned[reason] !== message)
    .map(([reason, message]): OperatorWrite => ({ _tag: "RecordEvent", event: { type: "Warning", reason, message } }))
  const podSpec = desired.podSpec === undefined ? undefined : configMapWrite(backupPodConfigMapName, observed.podSpec, desired.podSpec, ownsEveryKey)
  const status =
    desired.status === undefined
      ? undefined
      : configMapWrite(backupStatusConfigMapName, observed.status, { data: encodeBackupStatus(desired.status, table), annotations: {} }, isStatusKey)
  const events = desired.events.map((event): OperatorWrite => ({ _tag: "RecordEvent", event }))
  const deletions = desired.deletions.map((pod): OperatorWrite => ({ _tag: "DeletePod", pod }))
  return [...warnings, ...(podSpec === undefined ? [] : [podSpec]), ...(status === undefined ? [] : [status]), ...events, ...deletions]
}
