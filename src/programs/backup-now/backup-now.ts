/**
 * `backup-now`: asks a BackupPolicy's operator for a backup now (the policy's `backupRequestAnnotation`, a new value
 * per request), and unless told not to wait, follows it through the policy's status (`status.lastRequest` names the
 * pod started for it) to its end: exit 0 once the backup is stored, non-zero when it failed, cannot start, or did
 * not end in time.
 */
import { Clock, Effect, Result, Schema } from "effect"
import { BackupPolicyStatus } from "../../domain/backup-policy.ts"
import { describeProgress, followedRequest, requestProgress, type RequestedPolicy, type RequestProgress } from "../../domain/backup-request.ts"
import { formatDuration } from "../../domain/durations.ts"
import { backupRequestAnnotation } from "../../domain/policy-pod.ts"
import { shortList } from "../../domain/short-list.ts"
import type { KubeError } from "../../services/kube/errors.ts"
import { Kube } from "../../services/kube/kube.ts"
import type { BackupPolicyObject } from "../../services/kube/schemas.ts"
import { readRunningPodLine } from "../operator/running-pod-line.ts"

export class BackupPolicyNotFound extends Schema.TaggedError<BackupPolicyNotFound>()("BackupPolicyNotFound", {
  policy: Schema.String,
  message: Schema.String,
}) {}

export class BackupRequestFailed extends Schema.TaggedError<BackupRequestFailed>()("BackupRequestFailed", {
  policy: Schema.String,
  pod: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

export class BackupRequestBlocked extends Schema.TaggedError<BackupRequestBlocked>()("BackupRequestBlocked", {
  policy: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

export class BackupRequestNotFinished extends Schema.TaggedError<BackupRequestNotFinished>()("BackupRequestNotFinished", {
  policy: Schema.String,
  waitedSeconds: Schema.Number,
  /** Where the request stood when the time ran out. */
  last: Schema.String,
  message: Schema.String,
}) {}

/** The backup is stored, but backup-create found its pairing unproven: verify and restore take it only with --allow-dirty. */
export class BackupStoredPossiblyDirty extends Schema.TaggedError<BackupStoredPossiblyDirty>()("BackupStoredPossiblyDirty", {
  policy: Schema.String,
  pod: Schema.String,
  backupId: Schema.String,
  location: Schema.UndefinedOr(Schema.String),
  message: Schema.String,
}) {}

export interface BackupNowOptions {
  readonly policy: string
  /** Where the operator creates the policies' pods (its own namespace): each one's step is read there when allowed. */
  readonly namespace: string
  readonly wait: boolean
  /** How long the backup may take, from the request to its end. */
  readonly timeoutMs: number
  readonly pollMs: number
  readonly output: (line: string) => Effect.Effect<void>
}

/** What a request came to: its id, and once waited for, its pod and the backup stored. */
export interface BackupNowResult {
  readonly policy: string
  readonly request: string
  readonly pod?: string | undefined
  readonly backup?: NonNullable<BackupPolicyStatus["lastSuccessfulBackup"]> | undefined
}

export type BackupNowError =
  | BackupPolicyNotFound
  | BackupRequestFailed
  | BackupRequestBlocked
  | BackupRequestNotFinished
  | BackupStoredPossiblyDirty
  | KubeError

/** How long with no pod started for the request before the output asks whether the operator runs. */
const operatorSilenceMs = 60_000

const decodeStatus = Schema.decodeUnknownResult(BackupPolicyStatus)

const requestedView = (object: BackupPolicyObject): RequestedPolicy => {
  const status = object.status === undefined ? undefined : decodeStatus(object.status)
  return {
    annotations: object.metadata.annotations ?? undefined,
    deleting: typeof object.metadata.deletionTimestamp === "string",
    status: status !== undefined && Result.isSuccess(status) ? status.success : {},
  }
}

/**
 * Where the backup pod stands (`runningPodLine`: the init container it is at, or why it has not started); undefined
 * when it cannot be read. A person who may not get pods (`Forbidden`) is told only the policy's view, and the pod is
 * not asked for again; one who may not list its Events gets the line without their words.
 */
const readPodLine = (kube: Kube["Service"], namespace: string, pod: string, now: number, readable: { allowed: boolean }) =>
  readable.allowed
    ? kube.pods.get(namespace, pod).pipe(
        Effect.flatMap(readRunningPodLine(kube, namespace, now)),
        Effect.map((line): string | undefined => line),
        Effect.catch((e) =>
          Effect.sync(() => {
            if (e._tag === "Forbidden") readable.allowed = false
            return undefined
          }),
        ),
      )
    : Effect.succeed(undefined)

/** The policy, or which policies there are when it is not one of them. */
const readPolicy = (kube: Kube["Service"], policy: string, namespace: string) =>
  kube.backupPolicies.get(policy).pipe(
    Effect.catchTag("NotFound", () =>
      kube.backupPolicies.list().pipe(
        Effect.map((list): ReadonlyArray<string> | "no CRD" | "unlisted" => list.items.map((p) => p.metadata.name)),
        Effect.catchTag("NotFound", () => Effect.succeed("no CRD" as const)),
        // The names are only a hint: a user who may get and patch a policy need not list them.
        Effect.catchTag("Forbidden", () => Effect.succeed("unlisted" as const)),
        Effect.flatMap((names) =>
          Effect.fail(
            new BackupPolicyNotFound({
              policy,
              message:
                names === "no CRD"
                  ? `no BackupPolicy ${policy}: the BackupPolicy CRD is not installed (deploy/backup-policy-crd.yaml)`
                  : names === "unlisted"
                    ? `no BackupPolicy ${policy} (this user may not list the BackupPolicies to name those there: oc get backuppolicies, as one who may)`
                    : names.length === 0
                      ? `no BackupPolicy ${policy}: the cluster has no BackupPolicy (without one, take a backup with the operator's rendered pod: cluster-backup backup-pod --namespace ${namespace}, or oc get cm cluster-backup-pod -n ${namespace} -o "jsonpath={.data['backup-pod\\.yaml']}" | oc create -f -)`
                      : `no BackupPolicy ${policy}: the cluster has ${shortList(names)}`,
            }),
          ),
        ),
      ),
    ),
  )

export const backupNow = (options: BackupNowOptions): Effect.Effect<BackupNowResult, BackupNowError, Kube> =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const { policy } = options
    yield* readPolicy(kube, policy, options.namespace)
    const askedAt = yield* Clock.currentTimeMillis
    const request = new Date(askedAt).toISOString()
    yield* kube.backupPolicies.patch(policy, { metadata: { annotations: { [backupRequestAnnotation]: request } } })
    yield* options.output(`asked BackupPolicy ${policy} for a backup (request ${request})`)
    if (!options.wait) {
      yield* options.output(`its pod is named in the policy's status.lastRequest once started: oc get backuppolicy ${policy} -o yaml`)
      return { policy, request }
    }
    let followed = request
    let pod: string | undefined
    let told = ""
    let askedAboutOperator = false
    const podReadable = { allowed: true }
    let last: RequestProgress = { _tag: "NotStarted", behind: undefined, blocked: undefined }
    while (true) {
      const now = yield* Clock.currentTimeMillis
      // An API that does not answer for a while (kube-apiserver rolling out) is waited through, up to the timeout.
      const object = yield* kube.backupPolicies.get(policy).pipe(
        Effect.map((o) => o as BackupPolicyObject | undefined),
        Effect.catchTags({ Unavailable: () => Effect.succeed(undefined), Timeout: () => Effect.succeed(undefined) }),
      )
      if (object !== undefined) {
        const view = requestedView(object)
        if (pod === undefined) {
          const next = followedRequest(view, followed)
          if (next === undefined) {
            return yield* new BackupRequestBlocked({
              policy,
              reason: "RequestWithdrawn",
              message: `the request was withdrawn: BackupPolicy ${policy} no longer has the annotation ${backupRequestAnnotation}`,
            })
          }
          if (next !== followed) yield* options.output(`a later request (${next}) replaced this one before it started: following that backup`)
          followed = next
        }
        last = requestProgress(view, followed, pod)
        switch (last._tag) {
          case "Succeeded": {
            const b = last.backup
            const stored = `pod ${last.pod} stored backup ${b.id}${b.location === undefined ? "" : ` at ${b.location}`}`
            if (b.verdict === "dirty")
              return yield* new BackupStoredPossiblyDirty({
                policy,
                pod: last.pod,
                backupId: b.id,
                location: b.location,
                message: `${stored}, but it is possibly dirty (its files are named __POSSIBLY_DIRTY__: the snapshot's operator revisions are not the resources'; verify and restore take it only with --allow-dirty), most often as a rollout ran while it was taken; run backup-now again once that is over (oc logs ${last.pod} -c backup-create -n ${options.namespace} says why, while the pod is kept)`,
              })
            yield* options.output(`${stored}${b.verified === true ? " (verified)" : ""}`)
            return { policy, request: followed, pod: last.pod, backup: b }
          }
          case "Failed":
            return yield* new BackupRequestFailed({
              policy,
              pod: last.pod,
              reason: last.failure.reason,
              message: `the backup of BackupPolicy ${policy} failed: ${last.failure.message ?? `pod ${last.pod}: ${last.failure.reason}`}; the policy retries on its own backoff (its status.lastSuccessfulBackup names the next backup stored), or fix the cause and run backup-now again`,
            })
          case "NotStarted":
            if (last.blocked !== undefined)
              return yield* new BackupRequestBlocked({
                policy,
                reason: last.blocked.reason,
                message: `BackupPolicy ${policy} starts no backup: ${last.blocked.message}; the request stands, and the operator takes it once that is fixed`,
              })
            break
          case "Running":
            pod = last.pod
            break
        }
        const line = last._tag === "Running" && last.stuck === undefined ? yield* readPodLine(kube, options.namespace, last.pod, now, podReadable) : undefined
        const words = line ?? describeProgress(last)
        if (words !== told) yield* options.output(words)
        told = words
      }
      if (pod === undefined && !askedAboutOperator && now - askedAt >= operatorSilenceMs && last._tag === "NotStarted" && last.behind === undefined) {
        askedAboutOperator = true
        yield* options.output(
          `no backup pod after ${formatDuration(now - askedAt)}: is the operator running (oc -n ${options.namespace} get deployment cluster-backup-operator) and are it and the BackupPolicy CRD (deploy/backup-policy-crd.yaml, whose status schema has lastRequest) at a version that takes requests?`,
        )
      }
      if (now - askedAt >= options.timeoutMs) {
        const lastWords = told === "" ? describeProgress(last) : told
        return yield* new BackupRequestNotFinished({
          policy,
          waitedSeconds: Math.round((now - askedAt) / 1000),
          last: lastWords,
          message: `the backup requested of BackupPolicy ${policy} did not end within ${formatDuration(options.timeoutMs)} (${lastWords}); the request stands: follow it with oc get backuppolicy ${policy} -o yaml (status.lastRequest)`,
        })
      }
      yield* Effect.sleep(options.pollMs)
    }
  })
