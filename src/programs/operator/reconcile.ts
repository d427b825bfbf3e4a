/**
 * One sync of the BackupConfigController (level-triggered): read the four operator CRs,
 * `backup-status`, `cluster-backup-pod` and the backup pods; decide with the domain; write only
 * what differs. Running it again with nothing changed writes nothing (no ConfigMap update, no
 * Event). A malformed `backup-status` is rebuilt from observed facts (the rendered pod spec and
 * the backup pods), never from guesses, and user data is never deleted.
 */
import { Clock, Effect, Ref, Result, Schema } from "effect"
import { latestOutcome, type BackupOutcome, type BackupPodView } from "../../domain/backup-pod-outcome.ts"
import {
  backupStatusConfigMapName,
  backupStatusKeys,
  decodeBackupStatus,
  encodeBackupStatus,
  type BackupStatus,
} from "../../domain/backup-status.ts"
import { decide, type ControllerDecision } from "../../domain/controller-decision.ts"
import { formatDuration } from "../../domain/durations.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import {
  backupPodLabelValues,
  managedByLabel,
  nameLabel,
  renderBackupPodYaml,
  revisionsAnnotation,
  revisionsOfBackupPod,
  type BackupPodOptions,
} from "../../domain/pod-spec.ts"
import { formatRevisionSet, revisionSetsEqual, type RevisionSet } from "../../domain/revisions.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "../../domain/rfc3339.ts"
import { parseYamlText } from "../../domain/yaml-text.ts"
import type { KubeError } from "../../services/kube/errors.ts"
import { Kube } from "../../services/kube/kube.ts"
import { observedRevisions } from "./api-revisions.ts"
import type { ConfigMap, Pod } from "../../services/kube/schemas.ts"

export const backupPodConfigMapName = "cluster-backup-pod"
export const backupPodYamlKey = "backup-pod.yaml"
/** On `cluster-backup-pod`: when its spec was rendered (RFC 3339), a fact the status can be rebuilt from. */
export const renderedAtAnnotation = "backup.openshift.io/rendered-at"

export interface ReconcileConfig {
  readonly namespace: string
  readonly podOptions: Partial<BackupPodOptions>
  readonly minIntervalMs: number
  readonly settleMs: number
  readonly table: OperandTable
  /** Who writes Events (`reportingInstance`). */
  readonly identity: string
}

export const defaultReconcileConfig = (overrides: Partial<ReconcileConfig> = {}): ReconcileConfig => ({
  namespace: "openshift-etcd",
  podOptions: {},
  minIntervalMs: 60 * 60 * 1000,
  settleMs: 30 * 1000,
  table: defaultOperands,
  identity: "cluster-backup-operator",
  ...overrides,
})

/** What the controller remembers between reconciles (lost on restart: then it just settles again). */
export interface ReconcileMemory {
  readonly observed: RevisionSet | undefined
  readonly stableSince: number | undefined
  /** The last Warning it recorded, so a persistent problem is not re-announced every sync. */
  readonly lastWarning: string | undefined
}
export const emptyMemory: ReconcileMemory = { observed: undefined, stableSince: undefined, lastWarning: undefined }

export interface ReconcileResult {
  readonly decision: ControllerDecision["_tag"]
  readonly observed: RevisionSet
  readonly status: BackupStatus | undefined
  readonly outcome: BackupOutcome | undefined
  /** ConfigMap writes and Events created by this sync. */
  readonly writes: number
  /** When the controller must sync again although nothing changes (a pending render). */
  readonly requeueAt: number | undefined
}

/** The CRs cannot be read into revisions: nothing is rendered until they can. */
export class RevisionsUnavailable extends Schema.TaggedError<RevisionsUnavailable>()("RevisionsUnavailable", {
  message: Schema.String,
}) {}

const isNotFound = (e: KubeError) => e._tag === "NotFound"
const orUndefinedIfMissing = <A, R>(effect: Effect.Effect<A, KubeError, R>) =>
  effect.pipe(
    Effect.map((a): A | undefined => a),
    Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
  )

const podView = (pod: Pod): BackupPodView => ({
  name: pod.metadata.name,
  createdAt: parseRfc3339Utc(pod.metadata.creationTimestamp ?? ""),
  revisions: revisionsOfBackupPod(pod),
  phase: pod.status?.phase,
  reason: pod.status?.reason,
  message: pod.status?.message,
  initContainers: (pod.status?.initContainerStatuses ?? []).map((c) => ({ name: c.name, terminated: c.state?.terminated })),
})

/** The last render as the cluster shows it in `cluster-backup-pod` (for repairing the status). */
const renderedFacts = (podCm: ConfigMap | undefined): { revisions: RevisionSet; at: number | undefined } | undefined => {
  const yaml = podCm?.data?.[backupPodYamlKey]
  if (yaml === undefined) return undefined
  const parsed = parseYamlText(yaml)
  const revisions = Result.isSuccess(parsed) ? revisionsOfBackupPod(parsed.success) : undefined
  if (revisions === undefined) return undefined
  return { revisions, at: parseRfc3339Utc(podCm?.metadata.annotations?.[renderedAtAnnotation] ?? "") }
}

const sameData = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>) => {
  const ak = Object.keys(a ?? {}).sort()
  const bk = Object.keys(b).sort()
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && a![k] === b[k])
}

/** The status with the newest backup pod's outcome folded in. */
const withOutcome = (status: BackupStatus, outcome: BackupOutcome | undefined): BackupStatus => {
  if (outcome === undefined || outcome._tag === "Running") return status
  if (outcome._tag === "Complete") {
    return { ...status, status: "Complete", lastBackupTime: outcome.at, message: `backup by pod ${outcome.pod} completed` }
  }
  return { ...status, status: "Failed", lastBackupTime: outcome.at, message: outcome.reason }
}

/** One reconcile. `memory` carries the settle clock between syncs. */
export const reconcile = Effect.fn("reconcile")(function* (config: ReconcileConfig, memory: Ref.Ref<ReconcileMemory>) {
  const kube = yield* Kube
  const now = yield* Clock.currentTimeMillis
  const ns = config.namespace
  let writes = 0

  const event = (type: "Normal" | "Warning", reason: string, message: string) =>
    kube.events
      .create(ns, {
        metadata: { generateName: `${backupStatusConfigMapName}.` },
        involvedObject: { apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: backupStatusConfigMapName },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: "cluster-backup-operator" },
        reportingComponent: "cluster-backup-operator",
        reportingInstance: config.identity,
        firstTimestamp: formatRfc3339Utc(now),
        lastTimestamp: formatRfc3339Utc(now),
        count: 1,
      })
      .pipe(
        Effect.tap(() => Effect.sync(() => void writes++)),
        // An Event is a report, not the job: failing to record one must not fail the sync.
        Effect.catch((e) => Effect.logWarning(`could not record event ${reason}: ${e.message}`)),
      )
  const warnOnce = (reason: string, message: string) =>
    Effect.gen(function* () {
      const m = yield* Ref.get(memory)
      if (m.lastWarning === message) return
      yield* event("Warning", reason, message)
      yield* Ref.update(memory, (x) => ({ ...x, lastWarning: message }))
    })

  // 1. Observed revisions.
  const decoded = yield* observedRevisions(config.table)
  if (Result.isFailure(decoded)) {
    const message = `cannot tell which revisions to back up: ${decoded.failure.map((e) => e.message).join("; ")}`
    yield* warnOnce("RevisionsUnavailable", message)
    return yield* new RevisionsUnavailable({ message })
  }
  const observed = decoded.success
  const before = yield* Ref.get(memory)
  const stableSince =
    before.observed !== undefined && before.stableSince !== undefined && revisionSetsEqual(before.observed, observed)
      ? before.stableSince
      : now
  yield* Ref.update(memory, (m) => ({ ...m, observed, stableSince, ...(m.lastWarning?.startsWith("cannot tell") ? { lastWarning: undefined } : {}) }))

  // 2. What was rendered and how its backup went.
  const statusCm = yield* orUndefinedIfMissing(kube.configMaps.get(ns, backupStatusConfigMapName))
  const podCm = yield* orUndefinedIfMissing(kube.configMaps.get(ns, backupPodConfigMapName))
  const facts = renderedFacts(podCm)
  let status: BackupStatus | undefined
  if (statusCm !== undefined) {
    const d = decodeBackupStatus(statusCm.data ?? {}, config.table)
    if (Result.isSuccess(d)) status = d.success
    else {
      yield* warnOnce(
        "BackupStatusRepaired",
        `${d.failure.message} Rebuilding it from ${facts === undefined ? "the observed revisions (no rendered pod spec found)" : `the rendered pod spec in ${backupPodConfigMapName}`}.`,
      )
      status =
        facts === undefined
          ? undefined
          : { status: "Pending", revisions: facts.revisions, ...(facts.at === undefined ? {} : { lastRenderTime: facts.at }) }
    }
  } else if (facts !== undefined) {
    status = { status: "Pending", revisions: facts.revisions, ...(facts.at === undefined ? {} : { lastRenderTime: facts.at }) }
  }

  const pods = yield* kube.pods.list(ns, {
    labelSelector: `${nameLabel}=${backupPodLabelValues[nameLabel]},${managedByLabel}=${backupPodLabelValues[managedByLabel]}`,
  })
  const views = pods.items.map(podView)
  const outcomeOf = (s: BackupStatus | undefined) => (s === undefined ? undefined : latestOutcome(views, s.revisions, s.lastRenderTime, now))

  // 3. Decide.
  const decision = decide({
    observed,
    lastRendered: status?.revisions,
    lastRenderAt: status?.lastRenderTime,
    stableSince,
    now,
    minIntervalMs: config.minIntervalMs,
    settleMs: config.settleMs,
  })

  let desired: BackupStatus | undefined
  let rendered: RevisionSet | undefined
  switch (decision._tag) {
    case "Render":
      rendered = decision.revisions
      desired = {
        status: "Pending",
        revisions: decision.revisions,
        lastRenderTime: now,
        ...(status?.lastBackupTime === undefined ? {} : { lastBackupTime: status.lastBackupTime }),
        message: `pod spec rendered for ${formatRevisionSet(decision.revisions)} (${decision.reasons.join("; ")}); take the backup with: oc get cm ${backupPodConfigMapName} -n ${ns} -o "jsonpath={.data['backup-pod\\.yaml']}" | oc create -f -`,
      }
      break
    case "WaitUntil": {
      rendered = status?.revisions
      const base = status === undefined ? undefined : withOutcome(status, outcomeOf(status))
      desired = base === undefined ? undefined : { ...base, message: `render pending: ${decision.reason}` }
      break
    }
    case "UpToDate":
      rendered = status?.revisions
      desired = status === undefined ? undefined : withOutcome(status, outcomeOf(status))
      break
  }
  const outcome = decision._tag === "Render" ? undefined : outcomeOf(status)

  // 4. Write what differs: the pod spec first, so a status never names a spec that is not there.
  if (rendered !== undefined) {
    const renderAt = decision._tag === "Render" ? now : (status?.lastRenderTime ?? facts?.at ?? now)
    const data = { [backupPodYamlKey]: renderBackupPodYaml(rendered, { namespace: ns, ...config.podOptions }, config.table) }
    const annotations = { [renderedAtAnnotation]: formatRfc3339Utc(renderAt), [revisionsAnnotation]: formatRevisionSet(rendered) }
    if (podCm === undefined) {
      yield* kube.configMaps.create(ns, { metadata: { name: backupPodConfigMapName, namespace: ns, annotations }, data })
      writes++
    } else if (!sameData(podCm.data, data) || (decision._tag === "Render" && podCm.metadata.annotations?.[renderedAtAnnotation] !== annotations[renderedAtAnnotation])) {
      yield* kube.configMaps.update(ns, {
        ...podCm,
        metadata: { ...podCm.metadata, annotations: { ...podCm.metadata.annotations, ...annotations } },
        data,
      })
      writes++
    }
  }
  if (desired !== undefined) {
    const data = encodeBackupStatus(desired, config.table)
    if (statusCm === undefined) {
      yield* kube.configMaps.create(ns, { metadata: { name: backupStatusConfigMapName, namespace: ns }, data })
      writes++
    } else {
      // Keep keys other tools added; ours are exactly what the encoding gives (a stale `message` goes).
      const foreign = Object.entries(statusCm.data ?? {}).filter(([k]) => !(backupStatusKeys as ReadonlyArray<string>).includes(k))
      const merged = { ...Object.fromEntries(foreign), ...data }
      if (!sameData(statusCm.data, merged)) {
        yield* kube.configMaps.update(ns, { ...statusCm, data: merged })
        writes++
      }
    }
  }

  // 5. Report transitions.
  if (decision._tag === "Render") {
    yield* event("Normal", "BackupPodRendered", `rendered ${backupPodConfigMapName} for ${formatRevisionSet(decision.revisions)}: ${decision.reasons.join("; ")}`)
  } else if (desired !== undefined && status !== undefined && desired.status !== status.status) {
    if (desired.status === "Complete") yield* event("Normal", "BackupCompleted", desired.message ?? "backup completed")
    if (desired.status === "Failed") yield* event("Warning", "BackupFailed", desired.message ?? "backup failed")
  }

  const result: ReconcileResult = {
    decision: decision._tag,
    observed,
    status: desired,
    outcome,
    writes,
    requeueAt: decision._tag === "WaitUntil" ? decision.at : undefined,
  }
  yield* Effect.logDebug("reconciled").pipe(
    Effect.annotateLogs({
      decision: decision._tag,
      observed: formatRevisionSet(observed),
      writes,
      ...(decision._tag === "WaitUntil" ? { waitFor: formatDuration(Math.max(0, decision.at - now)) } : {}),
    }),
  )
  return result
})
