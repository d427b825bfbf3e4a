/**
 * One sync of the BackupConfigController (level-triggered): read the four operator CRs,
 * `backup-status`, `cluster-backup-pod` and the backup pods; compute the desired state with the
 * domain (`desiredState`); write only the difference (`diff`). Running it again with nothing
 * changed writes nothing (no ConfigMap update, no Event). A malformed `backup-status` is rebuilt
 * from observed facts, never from guesses, and user data is never deleted: the ended backup pods it deletes beyond
 * the history limits hold none (their hold is over, or they failed).
 */
import { Clock, Effect, Ref, Schema } from "effect"
import type { BackupOutcome, BackupPodView } from "../../domain/backup-pod-outcome.ts"
import { backupStatusConfigMapName, type BackupStatus } from "../../domain/backup-status.ts"
import { defaultMinIntervalMs, defaultSettleMs, type ControllerDecision } from "../../domain/controller-decision.ts"
import { formatDuration } from "../../domain/durations.ts"
import { defaultOperands } from "../../domain/operands.ts"
import {
  backupPodConfigMapName,
  desiredState,
  diff,
  type ObservedConfigMap,
  type OperatorMemory,
  type OperatorObserved,
  type OperatorSettings,
  type OperatorWrite,
} from "../../domain/operator-desired-state.ts"
import { revisionsOfBackupPod } from "../../domain/pod-spec.ts"
import { backupPodSelector } from "../../domain/backup-pod-names.ts"
import { policyNameLabel, type PolicyUploadSettings } from "../../domain/policy-pod.ts"
import { formatRevisionSet, type RevisionSet } from "../../domain/revisions.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "../../domain/rfc3339.ts"
import type { KubeError } from "../../services/kube/errors.ts"
import { Kube } from "../../services/kube/kube.ts"
import type { ConfigMap, Pod } from "../../services/kube/schemas.ts"
import { readOperatorFacts } from "./api-revisions.ts"
import { readProxySecret } from "./proxy-secret.ts"
import { mountWaitSinceOf, stuckOf, withStartEvent } from "./pod-waits.ts"

// The demo reads the rendered spec by these names.
export { backupPodConfigMapName, backupPodYamlKey } from "../../domain/operator-desired-state.ts"

export interface ReconcileConfig extends OperatorSettings {
  /** Who writes Events (`reportingInstance`). */
  readonly identity: string
  /** The upload settings and cluster ID of the BackupPolicies' pods (the operator's flags, with or without a store). */
  readonly policyUpload?: PolicyUploadSettings | undefined
}

export const defaultReconcileConfig = (overrides: Partial<ReconcileConfig> = {}): ReconcileConfig => ({
  namespace: "openshift-etcd",
  podOptions: {},
  minIntervalMs: defaultMinIntervalMs,
  settleMs: defaultSettleMs,
  table: defaultOperands,
  identity: "cluster-backup-operator",
  ...overrides,
})

export interface ReconcileResult {
  readonly decision: ControllerDecision["_tag"]
  readonly observed: RevisionSet
  readonly status: BackupStatus | undefined
  readonly outcome: BackupOutcome | undefined
  /** What the rendered pod's /backup volume lacks at etcd's quota; undefined while the quota is unknown. */
  readonly volumeShortfallBytes: number | undefined
  /** Whether the newest pod made from `cluster-backup-pod` that still runs cannot start (its Warning holds). */
  readonly podNotStarting: boolean
  /** ConfigMap writes and Events created by this sync. */
  readonly writes: number
  /** When the controller must sync again although nothing changes (a pending render). */
  readonly requeueAt: number | undefined
}

/** The CRs cannot be read into revisions: nothing is rendered until they can. */
export class RevisionsUnavailable extends Schema.TaggedError<RevisionsUnavailable>()("RevisionsUnavailable", {
  message: Schema.String,
}) {}

const orUndefinedIfMissing = <A, R>(effect: Effect.Effect<A, KubeError, R>) =>
  effect.pipe(
    Effect.map((a): A | undefined => a),
    Effect.catchIf(
      (e) => e._tag === "NotFound",
      () => Effect.succeed(undefined),
    ),
  )

/** What the domain needs of a backup pod. */
export const podView = (pod: Pod): BackupPodView & { readonly deleting: boolean } => ({
  name: pod.metadata.name,
  createdAt: parseRfc3339Utc(pod.metadata.creationTimestamp ?? ""),
  revisions: revisionsOfBackupPod(pod),
  phase: pod.status?.phase,
  policy: pod.metadata.labels?.[policyNameLabel],
  deleting: pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
  stuck: stuckOf(pod),
  mountWaitSince: mountWaitSinceOf(pod),
  reason: pod.status?.reason,
  message: pod.status?.message,
  initContainers: (pod.status?.initContainerStatuses ?? []).map((c) => ({ name: c.name, terminated: c.state?.terminated })),
})

const configMapView = (cm: ConfigMap | undefined): ObservedConfigMap | undefined =>
  cm === undefined ? undefined : { data: cm.data, annotations: cm.metadata.annotations, createdAt: parseRfc3339Utc(cm.metadata.creationTimestamp ?? "") }

/** Everything a sync decides from, with the objects read (updates start from them, keeping their resourceVersion). */
const readObserved = Effect.fn("readObserved")(function* (config: ReconcileConfig, memory: OperatorMemory) {
  const kube = yield* Kube
  const ns = config.namespace
  const { revisions, etcdQuotaBytes } = yield* readOperatorFacts(config.table)
  const statusCm = yield* orUndefinedIfMissing(kube.configMaps.get(ns, backupStatusConfigMapName))
  const podCm = yield* orUndefinedIfMissing(kube.configMaps.get(ns, backupPodConfigMapName))
  const pods = yield* kube.pods.list(ns, { labelSelector: backupPodSelector })
  const now = yield* Clock.currentTimeMillis
  const observed: OperatorObserved = {
    now,
    revisions,
    status: configMapView(statusCm),
    podSpec: configMapView(podCm),
    pods: yield* Effect.forEach(pods.items.map(podView), withStartEvent(kube, ns, now)),
    proxySecret: yield* readProxySecret(ns, config.podOptions.proxyEnv),
    etcdQuotaBytes,
    memory,
  }
  return {
    observed,
    read: new Map([...(statusCm === undefined ? [] : [statusCm]), ...(podCm === undefined ? [] : [podCm])].map((cm) => [cm.metadata.name, cm])),
  }
})

/**
 * Applies one write and counts it (1) if it landed; an Event is a report, not the job: failing to record one does not fail the sync.
 * `current` holds the ConfigMaps as read, replaced by what each write answered.
 */
const applyWrite = (config: ReconcileConfig, now: number, current: Map<string, ConfigMap>) => (write: OperatorWrite) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const ns = config.namespace
    const annotationsOf = (a: Readonly<Record<string, string>>) => (Object.keys(a).length === 0 ? {} : { annotations: a })
    switch (write._tag) {
      case "CreateConfigMap": {
        const created = yield* kube.configMaps.create(ns, {
          metadata: { name: write.name, namespace: ns, ...annotationsOf(write.content.annotations) },
          data: write.content.data,
        })
        current.set(write.name, created)
        return 1
      }
      case "UpdateConfigMap": {
        const cm = current.get(write.name)!
        const updated = yield* kube.configMaps.update(ns, {
          ...cm,
          metadata: { ...cm.metadata, ...annotationsOf(write.content.annotations) },
          data: write.content.data,
        })
        current.set(write.name, updated)
        return 1
      }
      // Housekeeping, not the job: a pod gone already, or a delete refused, leaves the sync's result as it is.
      case "DeletePod":
        return yield* kube.pods.delete(ns, write.pod).pipe(
          Effect.as(1),
          Effect.tap(() => Effect.logInfo(`deleted backup pod ${write.pod}: an ended pod beyond the history limits`)),
          Effect.catch((e) =>
            e._tag === "NotFound" ? Effect.succeed(0) : Effect.as(Effect.logWarning(`could not delete ended backup pod ${write.pod}: ${e.message}`), 0),
          ),
        )
      case "RecordEvent": {
        const { type, reason, message } = write.event
        // By uid too when it exists: `oc describe cm backup-status` selects its Events by involvedObject.uid.
        const uid = current.get(backupStatusConfigMapName)?.metadata.uid
        return yield* kube.events
          .create(ns, {
            metadata: { generateName: `${backupStatusConfigMapName}.` },
            involvedObject: { apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: backupStatusConfigMapName, ...(uid === undefined ? {} : { uid }) },
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
            Effect.as(1),
            Effect.catch((e) => Effect.as(Effect.logWarning(`could not record event ${reason}: ${e.message}`), 0)),
          )
      }
    }
  })

/** One reconcile: read, decide (`desiredState`), write the difference (`diff`). `memory` carries the settle clock and the Warnings announced. */
export const reconcile = Effect.fn("reconcile")(function* (config: ReconcileConfig, memory: Ref.Ref<OperatorMemory>) {
  const { observed, read } = yield* readObserved(config, yield* Ref.get(memory))
  const desired = desiredState(observed, config)
  const writes = diff(observed, desired, config.table)
  // Remembered before writing: the settle clock runs on what was observed, whether or not the writes land.
  yield* Ref.set(memory, desired.memory)
  const landed = yield* Effect.forEach(writes, applyWrite(config, observed.now, new Map(read)))
  const count = landed.reduce((a, b) => a + b, 0)
  if (desired.decision === undefined || desired.revisions === undefined) {
    return yield* new RevisionsUnavailable({ message: desired.warnings.RevisionsUnavailable ?? "cannot tell which revisions to back up" })
  }
  const { decision } = desired
  yield* Effect.logDebug("reconciled").pipe(
    Effect.annotateLogs({
      decision: decision._tag,
      observed: formatRevisionSet(desired.revisions),
      writes: count,
      ...(decision._tag === "WaitUntil" ? { waitFor: formatDuration(Math.max(0, decision.at - observed.now)) } : {}),
    }),
  )
  return {
    decision: decision._tag,
    observed: desired.revisions,
    status: desired.status,
    outcome: desired.outcome,
    volumeShortfallBytes: desired.volumeShortfallBytes,
    podNotStarting: desired.warnings.BackupPodNotStarting !== undefined,
    writes: count,
    requeueAt: desired.requeueAt,
  } satisfies ReconcileResult
})
