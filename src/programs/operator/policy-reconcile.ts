/**
 * One sync of the operator's BackupPolicy part (level-triggered, beside `reconcile`): read the policies, the pods
 * they created and the operands' revisions; decide with the domain (`policyDesiredState`); write only the
 * difference (`policyDiff`). Per policy the pod comes first, then the status, then deletions and Events; a write
 * that fails skips the rest of that policy (a stale status is a Conflict: the controller looks again after a backoff),
 * the other policies go on, and the sync fails at the end with the first unexpected error so it is retried.
 */
import { Clock, Effect, Ref, Result } from "effect"
import { defaultBackoff, type Backoff } from "../../domain/backup-schedule.ts"
import { droppedFields } from "../../domain/dropped-fields.ts"
import {
  policyDesiredState,
  policyDiff,
  type PolicyDesiredState,
  type PolicyEvent,
  type PolicyMemory,
  type PolicyObserved,
  type PolicySettings,
  type PolicyWrite,
} from "../../domain/policy-desired-state.ts"
import type { PolicyMetricValues } from "../../domain/policy-metric-values.ts"
import type { BackupPod } from "../../domain/pod-spec.ts"
import { policyKind, policyNameLabel } from "../../domain/policy-pod.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "../../domain/rfc3339.ts"
import type { KubeError } from "../../services/kube/errors.ts"
import { Kube } from "../../services/kube/kube.ts"
import type { BackupPolicyObject, NewPod, Pod } from "../../services/kube/schemas.ts"
import { readOperatorFacts } from "./api-revisions.ts"
import { readProxySecret } from "./proxy-secret.ts"
import { podView, type ReconcileConfig } from "./reconcile.ts"
import { waitingOf, withStartEvent } from "./pod-waits.ts"

export interface PolicyReconcileConfig extends PolicySettings {
  /** Who writes Events (`reportingInstance`). */
  readonly identity: string
}

export interface PolicyReconcileResult {
  readonly policies: number
  /** Pods created or deleted, statuses updated and Events recorded by this sync. */
  readonly writes: number
  /** When the earliest policy wants a look again although nothing changes. */
  readonly wakeAt: number | undefined
  /** A status was stale (Conflict), or the proxy Secret the pods need is missing: look again (the controller waits its failures' backoff first). */
  readonly requeue: boolean
  readonly metrics: ReadonlyArray<PolicyMetricValues>
}

/** The policy part runs with the operator's own settings (namespace, pod options, settle window, operands). */
export const policyReconcileConfig = (config: ReconcileConfig, backoff: Backoff = defaultBackoff): PolicyReconcileConfig => ({
  namespace: config.namespace,
  podOptions: config.podOptions,
  upload: config.policyUpload,
  settleMs: config.settleMs,
  table: config.table,
  identity: config.identity,
  backoff,
})

const component = "cluster-backup-operator"

const policyPodView = (pod: Pod) => {
  const deadline = pod.spec.activeDeadlineSeconds
  return {
    ...podView(pod),
    annotations: pod.metadata.annotations ?? {},
    startedAt: parseRfc3339Utc(pod.status?.startTime ?? ""),
    node: typeof pod.spec.nodeName === "string" && pod.spec.nodeName !== "" ? pod.spec.nodeName : undefined,
    deadlineSeconds: typeof deadline === "number" && Number.isSafeInteger(deadline) && deadline > 0 ? deadline : undefined,
    waiting: waitingOf(pod),
    policy: pod.metadata.labels?.[policyNameLabel] ?? "",
    owner: pod.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === policyKind)?.uid,
  }
}

/** No BackupPolicy CRD installed reads as no policies: the manual flow goes on without it. */
const listPolicies = (kube: typeof Kube.Service) =>
  kube.backupPolicies.list().pipe(
    Effect.map((list) => list.items),
    Effect.catchIf(
      (e) => e._tag === "NotFound",
      () => Effect.succeed<ReadonlyArray<BackupPolicyObject>>([]),
    ),
  )

const readObserved = Effect.fn("readPolicies")(function* (config: PolicyReconcileConfig, memory: PolicyMemory) {
  const kube = yield* Kube
  const policies = yield* listPolicies(kube)
  // Without policies there is nothing to decide from pods or revisions: one list per sync.
  const pods = policies.length === 0 ? [] : (yield* kube.pods.list(config.namespace, { labelSelector: policyNameLabel })).items
  const facts = policies.length === 0 ? undefined : yield* readOperatorFacts(config.table)
  const now = yield* Clock.currentTimeMillis
  const observed: PolicyObserved = {
    now,
    revisions: facts?.revisions ?? Result.fail([]),
    etcdQuotaBytes: facts?.etcdQuotaBytes,
    policies,
    pods: yield* Effect.forEach(pods.map(policyPodView), withStartEvent(kube, config.namespace, now)),
    proxySecret: policies.length === 0 ? undefined : yield* readProxySecret(config.namespace, config.podOptions.proxyEnv),
    memory,
  }
  return { observed, byName: new Map(policies.map((p) => [p.metadata.name, p])) }
})

type Applied = { readonly _tag: "Landed" } | { readonly _tag: "Skipped" } | { readonly _tag: "Stop"; readonly conflict: boolean; readonly error?: KubeError }

/** Applies one write; what happens to the rest of its policy follows from the answer. */
const applyWrite =
  (config: PolicyReconcileConfig, now: number, byName: ReadonlyMap<string, BackupPolicyObject>, memory: Ref.Ref<PolicyMemory>) => (write: PolicyWrite) =>
    Effect.gen(function* () {
      const kube = yield* Kube
      const ns = config.namespace
      const landed: Applied = { _tag: "Landed" }
      switch (write._tag) {
        case "CreatePod":
          return yield* kube.pods.create(ns, write.pod as unknown as NewPod).pipe(
            Effect.andThen(recordEvent(config, now, byName.get(write.policy), write.event)),
            Effect.as(landed),
            // A restarted operator re-creating the pod it had created: the run is on, announced before.
            Effect.catchIf(
              (e) => e._tag === "AlreadyExists",
              (): Effect.Effect<Applied> => Effect.succeed({ _tag: "Skipped" }),
            ),
            Effect.catch((error) =>
              announceRefusal(config, now, byName.get(write.policy), write.pod, error, memory).pipe(
                Effect.as<Applied>({ _tag: "Stop", conflict: false, error }),
              ),
            ),
          )
        case "UpdateStatus": {
          const object = byName.get(write.policy)!
          return yield* kube.backupPolicies.updateStatus({ ...object, status: write.status }).pipe(
            Effect.tap((stored) => announceDroppedStatusFields(write.status, stored, memory)),
            Effect.as(landed),
            Effect.catch(
              (error): Effect.Effect<Applied> =>
                Effect.succeed(
                  error._tag === "Conflict" || error._tag === "NotFound"
                    ? { _tag: "Stop", conflict: error._tag === "Conflict" }
                    : { _tag: "Stop", conflict: false, error },
                ),
            ),
          )
        }
        case "DeletePod":
          return yield* kube.pods.delete(ns, write.pod).pipe(
            Effect.as(landed),
            Effect.catchIf(
              (e) => e._tag === "NotFound",
              (): Effect.Effect<Applied> => Effect.succeed({ _tag: "Skipped" }),
            ),
            Effect.catch((error): Effect.Effect<Applied> => Effect.succeed({ _tag: "Stop", conflict: false, error })),
          )
        case "RecordEvent":
          return (yield* recordEvent(config, now, byName.get(write.policy), write.event)) ? landed : ({ _tag: "Skipped" } as const)
      }
    })

/**
 * Where Events about a BackupPolicy live: the API server accepts an Event about a cluster-scoped object only in
 * `default` (core/v1 without eventTime), not in the operator's namespace.
 */
export const policyEventNamespace = "default"

/** An Event on the policy; a report, not the job. */
const recordEvent = (config: PolicyReconcileConfig, now: number, policy: BackupPolicyObject | undefined, event: PolicyEvent) =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const name = policy?.metadata.name ?? ""
    return yield* kube.events
      .create(policyEventNamespace, {
        metadata: { generateName: `${name}.` },
        involvedObject: {
          apiVersion: "backup.openshift.io/v1alpha1",
          kind: "BackupPolicy",
          name,
          ...(policy?.metadata.uid === undefined ? {} : { uid: policy.metadata.uid }),
        },
        reason: event.reason,
        message: event.message.slice(0, 1024),
        type: event.type,
        source: { component },
        reportingComponent: component,
        reportingInstance: config.identity,
        firstTimestamp: formatRfc3339Utc(now),
        lastTimestamp: formatRfc3339Utc(now),
        count: 1,
      })
      .pipe(
        Effect.as(true),
        Effect.catch((e) => Effect.as(Effect.logWarning(`could not record event ${event.reason} on BackupPolicy ${name}: ${e.message}`), false)),
      )
  })

/**
 * A Warning on the policy when its pod cannot be created (admission, quota, RBAC), once per distinct refusal: the
 * sync fails and retries, and without it the reason is only in the operator's log (the status cannot name a pod
 * that does not exist).
 */
const announceRefusal = (
  config: PolicyReconcileConfig,
  now: number,
  policy: BackupPolicyObject | undefined,
  pod: BackupPod,
  error: KubeError,
  memory: Ref.Ref<PolicyMemory>,
) =>
  Effect.gen(function* () {
    // Refusals only: an API server that could not answer is the sync's retry's business.
    if (error._tag !== "Forbidden" && error._tag !== "Invalid" && error._tag !== "NotFound") return
    const name = policy?.metadata.name ?? ""
    const podName = (pod.metadata as { readonly name?: string }).name ?? ""
    // Each attempt's pod has its own name: the same refusal is the same words with the name left out.
    const refusal = podName === "" ? error.message : error.message.replaceAll(podName, "<pod>")
    if ((yield* Ref.get(memory)).refused[name] === refusal) return
    const event = { type: "Warning", reason: "BackupPodRefused", message: `the backup pod ${podName} could not be created: ${error.message}` } as const
    if (yield* recordEvent(config, now, policy, event)) yield* Ref.update(memory, (m) => ({ ...m, refused: { ...m.refused, [name]: refusal } }))
  })

/**
 * The API server prunes what a CRD's schema does not have: a status field written and not stored back means the
 * BackupPolicy CRD in the cluster is older than this operator (`lastRequest` dropped: every `backup-now` waits in
 * vain). Said once per operator process and set of fields.
 */
const announceDroppedStatusFields = (written: object, stored: BackupPolicyObject, memory: Ref.Ref<PolicyMemory>) =>
  Effect.gen(function* () {
    const dropped = droppedFields(written, stored.status ?? {}).join(", ")
    if (dropped === "" || (yield* Ref.get(memory)).droppedStatusFields === dropped) return
    yield* Ref.update(memory, (m) => ({ ...m, droppedStatusFields: dropped }))
    yield* Effect.logWarning(
      `the API server dropped the BackupPolicy status fields ${dropped} that this operator wrote: the BackupPolicy CRD in the cluster is older than the operator; apply deploy/backup-policy-crd.yaml of this version (until then, for one, backup-now cannot follow its request)`,
    )
  })

/** Applies each policy's writes in order, stopping that policy's rest at the first that does not land. */
const applyAll = (
  config: PolicyReconcileConfig,
  now: number,
  byName: ReadonlyMap<string, BackupPolicyObject>,
  writes: ReadonlyArray<PolicyWrite>,
  memory: Ref.Ref<PolicyMemory>,
) =>
  Effect.gen(function* () {
    const stopped = new Set<string>()
    let count = 0
    let requeue = false
    let error: KubeError | undefined
    for (const write of writes) {
      if (stopped.has(write.policy)) continue
      const applied = yield* applyWrite(config, now, byName, memory)(write)
      if (applied._tag === "Landed") count++
      if (applied._tag !== "Stop") continue
      stopped.add(write.policy)
      requeue ||= applied.conflict
      error ??= applied.error
    }
    return { count, requeue, error }
  })

/**
 * One policy sync: read, decide (`policyDesiredState`), write the difference (`policyDiff`). Fails only when it could
 * not read; the first unexpected write error (the sync is to be retried) comes apart from the result, which still
 * holds what the sync saw of every policy: one policy's refused write says nothing about the others.
 */
export const syncPolicies = Effect.fn("syncPolicies")(function* (config: PolicyReconcileConfig, memory: Ref.Ref<PolicyMemory>) {
  const { observed, byName } = yield* readObserved(config, yield* Ref.get(memory))
  const desired: PolicyDesiredState = policyDesiredState(observed, config)
  const writes = policyDiff(observed, desired)
  // Remembered before writing: the settle clock runs on what was observed, whether or not the writes land.
  yield* Ref.set(memory, desired.memory)
  const { count, requeue, error } = yield* applyAll(config, observed.now, byName, writes, memory)
  if (error === undefined) yield* Effect.logDebug("policies reconciled").pipe(Effect.annotateLogs({ policies: observed.policies.length, writes: count }))
  const result: PolicyReconcileResult = {
    policies: observed.policies.length,
    writes: count,
    wakeAt: desired.wakeAt,
    requeue: requeue || desired.recheck,
    metrics: desired.policies.map((p) => p.metrics),
  }
  return { result, error }
})

/** A sync's result, or its first unexpected write error (then it is to be retried). */
export const retriedOnError = ({ result, error }: { readonly result: PolicyReconcileResult; readonly error: KubeError | undefined }) =>
  error === undefined ? Effect.succeed(result) : Effect.fail(error)

/** One policy sync (`syncPolicies`), failing with the first unexpected write error so that it is retried. */
export const reconcilePolicies = (config: PolicyReconcileConfig, memory: Ref.Ref<PolicyMemory>) => Effect.flatMap(syncPolicies(config, memory), retriedOnError)
