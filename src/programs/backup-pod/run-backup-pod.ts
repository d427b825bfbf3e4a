/**
 * `backup-pod`: a backup without a BackupPolicy, as OpenShift's procedure takes one by hand with the operator's rendered
 * pod (`oc get cm cluster-backup-pod ... | oc create -f -`): creates that pod and follows it until its backup is complete
 * and held for `oc cp` (every init container passed), it failed, or the time ran out. A pod of that spec still taking its
 * backup (the command run again after a Ctrl-C, say) is followed instead of starting a second snapshot beside it, unless
 * it takes the revisions before the ones rendered now.
 */
import { Clock, Effect, Result, Schema } from "effect"
import { holdWindow } from "../../domain/backup-hold.ts"
import { createReportOf, newestRunningManualPod, podOutcome } from "../../domain/backup-pod-outcome.ts"
import { backupHoldContainerName, backupPodPaths, backupPodSelector } from "../../domain/backup-pod-names.ts"
import { formatDuration } from "../../domain/durations.ts"
import { backupPodConfigMapName, backupPodYamlKey, renderPending } from "../../domain/operator-desired-state.ts"
import { backupStatusConfigMapName } from "../../domain/backup-status.ts"
import { revisionsOfBackupPod } from "../../domain/pod-spec.ts"
import { formatRevisionSet, revisionSetsEqual } from "../../domain/revisions.ts"
import { formatRfc3339Utc } from "../../domain/rfc3339.ts"
import { firstKeyedProblem } from "../../domain/schema-errors.ts"
import { parseYamlText } from "../../domain/yaml-text.ts"
import type { KubeError } from "../../services/kube/errors.ts"
import { Kube } from "../../services/kube/kube.ts"
import { isJsonObject } from "../../services/kube/merge-patch.ts"
import { NewPod, type Pod } from "../../services/kube/schemas.ts"
import { readRunningPodLine } from "../operator/running-pod-line.ts"
import { podView } from "../operator/reconcile.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { copyHeldBackup, refuseUnfitCopyDirectory } from "./copy-held-backup.ts"
import { holdDeadlineWatch } from "./hold-deadline-watch.ts"

export class BackupPodNotRendered extends Schema.TaggedError<BackupPodNotRendered>()("BackupPodNotRendered", {
  namespace: Schema.String,
  message: Schema.String,
}) {}

export class BackupPodFailed extends Schema.TaggedError<BackupPodFailed>()("BackupPodFailed", {
  pod: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

export class BackupPodGone extends Schema.TaggedError<BackupPodGone>()("BackupPodGone", {
  pod: Schema.String,
  message: Schema.String,
}) {}

export class BackupPodNotFinished extends Schema.TaggedError<BackupPodNotFinished>()("BackupPodNotFinished", {
  pod: Schema.String,
  waitedSeconds: Schema.Number,
  /** Where the pod stood when the time ran out. */
  last: Schema.String,
  message: Schema.String,
}) {}

/**
 * The backup is complete and held, but backup-create found its pairing unproven (`__POSSIBLY_DIRTY__`): verify and
 * restore refuse it without `--allow-dirty`. Most often the rendered pod was of revisions since rolled out.
 */
export class BackupPodPossiblyDirty extends Schema.TaggedError<BackupPodPossiblyDirty>()("BackupPodPossiblyDirty", {
  pod: Schema.String,
  backupId: Schema.String,
  reasons: Schema.Array(Schema.String),
  copy: Schema.String,
  message: Schema.String,
}) {}

/** The pod completed its backup, but its hold ended before this saw it held: the backup went with the pod's volume. */
export class BackupPodNotHeld extends Schema.TaggedError<BackupPodNotHeld>()("BackupPodNotHeld", {
  pod: Schema.String,
  message: Schema.String,
}) {}

/** The pod named to follow is not a backup pod made from cluster-backup-pod (no hold container). */
export class NotABackupPod extends Schema.TaggedError<NotABackupPod>()("NotABackupPod", {
  pod: Schema.String,
  message: Schema.String,
}) {}

/** What copying the held backup off the pod (`copyTo`) can fail with. */
export type BackupCopyError = Effect.Error<ReturnType<typeof copyHeldBackup>> | Effect.Error<ReturnType<typeof refuseUnfitCopyDirectory>>

export type BackupPodRequirements = Kube | Effect.Services<ReturnType<typeof copyHeldBackup>>

export type BackupPodError =
  | BackupCopyError
  | BackupPodNotRendered
  | NotABackupPod
  | BackupPodFailed
  | BackupPodGone
  | BackupPodNotFinished
  | BackupPodNotHeld
  | BackupPodPossiblyDirty
  | KubeError

export interface BackupPodOptions {
  /** Where the operator renders the pod (its ConfigMap) and where the pod runs. */
  readonly namespace: string
  /** How long the pod is followed until its backup is held. */
  readonly timeoutMs: number
  readonly pollMs: number
  readonly output: (line: string) => Effect.Effect<void>
  /** Follow this pod (`--pod`), a backup pod made earlier, rather than the rendered spec's. */
  readonly pod?: string | undefined
  /** Copy the held backup off the pod into this directory (`--copy-to`), its files checked against its manifest. */
  readonly copyTo?: string | undefined
  /** Each file's progress while `copyTo` copies it. */
  readonly onCopyProgress?: ((path: string, doneBytes: number, totalBytes: number) => void) | undefined
  /** Once the backup is copied (`copyTo`) and checked, delete the pod: the node's disk back at once. */
  readonly deleteAfterCopy?: boolean | undefined
}

export interface BackupPodResult {
  readonly namespace: string
  readonly pod: string
  readonly revisions: string | undefined
  /** The command that copies the backup off the pod while it holds it. */
  readonly copy: string
  /** Until when the pod holds it (RFC 3339), once its backup-hold container runs. */
  readonly heldUntil?: string | undefined
  /** The backup's ID, from backup-create's report (absent from a pod of a version that writes none). */
  readonly backupId?: string | undefined
  /** Where `copyTo` put it: the directory, which holds the whole backup, its manifest last. */
  readonly copiedTo?: string | undefined
  /** The pod was deleted once its backup was copied (`deleteAfterCopy`). */
  readonly podDeleted?: boolean | undefined
}

const decodeNewPod = Schema.decodeUnknownResult(NewPod)

/** The rendered pod, as the operator wrote it into its ConfigMap. */
const renderedPod = (kube: Kube["Service"], namespace: string) =>
  Effect.gen(function* () {
    const notRendered = (why: string) =>
      new BackupPodNotRendered({
        namespace,
        message: `${why}: the operator renders it once it runs and has read the operands' revisions (oc -n ${namespace} get deployment cluster-backup-operator; its log says why it has not)`,
      })
    const cm = yield* kube.configMaps
      .get(namespace, backupPodConfigMapName)
      .pipe(Effect.catchTag("NotFound", () => Effect.fail(notRendered(`no ConfigMap ${backupPodConfigMapName} in ${namespace}`))))
    const yaml = cm.data?.[backupPodYamlKey]
    if (yaml === undefined) return yield* notRendered(`ConfigMap ${backupPodConfigMapName} in ${namespace} has no key ${backupPodYamlKey}`)
    const parsed = parseYamlText(yaml)
    if (Result.isFailure(parsed))
      return yield* notRendered(`ConfigMap ${backupPodConfigMapName}'s ${backupPodYamlKey} is not a pod (${parsed.failure.message})`)
    const pod = decodeNewPod(parsed.success)
    if (Result.isFailure(pod)) {
      const { key, message } = firstKeyedProblem(pod.failure)
      return yield* notRendered(`ConfigMap ${backupPodConfigMapName}'s ${backupPodYamlKey} is not a pod (${key === "" ? message : `${key}: ${message}`})`)
    }
    return pod.success
  })

/** Whether two backup pods take their backups at the same revisions (neither naming them counts as the same). */
const sameRevisions = (a: unknown, b: unknown): boolean => {
  const ra = revisionsOfBackupPod(a)
  const rb = revisionsOfBackupPod(b)
  return ra === undefined || rb === undefined ? ra === rb : revisionSetsEqual(ra, rb)
}

/** The newest backup pod not of a BackupPolicy that is still taking its backup, if any (none known to a user who may not list pods). */
const runningManualPod = (kube: Kube["Service"], namespace: string, now: number) =>
  kube.pods.list(namespace, { labelSelector: backupPodSelector }).pipe(
    Effect.catchTag("Forbidden", () => Effect.succeed({ items: [] as ReadonlyArray<Pod> })),
    Effect.map((list) => {
      const newest = newestRunningManualPod(list.items.map(podView), now)
      return newest === undefined ? undefined : list.items.find((pod) => pod.metadata.name === newest.name)
    }),
  )

/** Whether the pod's hold has ended (the pod Succeeded, or its hold container stopped): its backup went with its volume. */
const holdEndedOf = (pod: Pod): boolean =>
  pod.status?.phase === "Succeeded" ||
  pod.status?.containerStatuses?.some((c) => c.name === backupHoldContainerName && c.state?.terminated !== undefined) === true

/**
 * Copies the held backup into `dir`, saying what it does; when it cannot, says how else to take the backup while the
 * pod still holds it, or, when its hold has ended meanwhile (the pod read again), that the backup is gone. A copy whose
 * pace would end it after `holdEndsAt` is warned of as it goes.
 */
const copyOff = (
  kube: Kube["Service"],
  options: BackupPodOptions,
  pod: string,
  reportedId: string | undefined,
  dir: string,
  fallback: string,
  holdEndsAt: number | undefined,
) =>
  Effect.gen(function* () {
    yield* options.output(`copying ${reportedId === undefined ? "the backup" : `backup ${reportedId}`} off pod ${pod} into ${dir}`)
    const saySince = kube.pods.get(options.namespace, pod).pipe(
      Effect.map((p): boolean => holdEndedOf(p)),
      Effect.catchTag("NotFound", () => Effect.succeed(true)),
      Effect.orElseSucceed(() => false),
      Effect.flatMap((ended) =>
        options.output(
          ended
            ? `the copy failed (below), and pod ${pod}'s hold has ended since: its backup went with the pod's volume; run backup-pod again`
            : `the copy failed (below); the backup is still held in pod ${pod} ${fallback}`,
        ),
      ),
    )
    const watch = yield* holdDeadlineWatch(pod, holdEndsAt)
    const progress = (path: string, doneBytes: number, totalBytes: number) => {
      options.onCopyProgress?.(path, doneBytes, totalBytes)
      watch(path, doneBytes, totalBytes)
    }
    const copied = yield* copyHeldBackup(options.namespace, pod, reportedId, dir, progress).pipe(Effect.tapError(() => saySince))
    yield* options.output(
      `copied backup ${copied.id} into ${dir}: ${copied.files.map((f) => `${f.name} (${formatBytes(f.size)}${f.reused ? ", already there" : ""})`).join(", ")}, each checked against its manifest's size and sha256`,
    )
    return copied.dir
  })

/** Deletes the pod whose backup was copied; when it cannot, says the backup is copied all the same. */
const deleteCopiedPod = (kube: Kube["Service"], options: BackupPodOptions, pod: string, copiedTo: string) =>
  kube.pods.delete(options.namespace, pod).pipe(
    Effect.catchTag("NotFound", () => Effect.void),
    Effect.tapError(() =>
      options.output(`the backup is copied into ${copiedTo}, but pod ${pod} could not be deleted (below): oc -n ${options.namespace} delete pod ${pod}`),
    ),
    Effect.andThen(options.output(`deleted pod ${pod}: the node's disk is given back (its backup is in ${copiedTo})`)),
  )

/** The pod of the rendered spec still taking its backup, or a new one created from it. */
const podOfRenderedSpec = (kube: Kube["Service"], options: BackupPodOptions, startedAt: number) =>
  Effect.gen(function* () {
    const { namespace } = options
    const rendered = yield* renderedPod(kube, namespace)
    const newest = yield* runningManualPod(kube, namespace, startedAt)
    // A pod of revisions since rolled out would hand over a backup of the ones before: a new pod takes the current ones.
    const running = newest !== undefined && sameRevisions(newest, rendered) ? newest : undefined
    if (newest !== undefined && running === undefined) {
      const before = revisionsOfBackupPod(newest)
      yield* options.output(
        `pod ${newest.metadata.name}${before === undefined ? "" : ` (revisions ${formatRevisionSet(before)})`} still takes a backup of revisions since rolled out: starting one of the current revisions`,
      )
    }
    const revisions = revisionsOfBackupPod(running ?? rendered)
    const ofRevisions = revisions === undefined ? "" : ` (revisions ${formatRevisionSet(revisions)})`
    let name: string
    if (running !== undefined) {
      name = running.metadata.name
      yield* options.output(
        `pod ${name}${ofRevisions}, created ${running.metadata.creationTimestamp ?? "earlier"}, is still taking its backup: following it rather than starting a second snapshot beside it`,
      )
    } else {
      // The rendered pod takes the revisions of the last render: during a rollout, or within the operator's minimum
      // interval after one, the cluster already runs others, and the backup will be possibly dirty.
      const status = yield* kube.configMaps.get(namespace, backupStatusConfigMapName).pipe(Effect.orElseSucceed(() => undefined))
      const message = status?.data?.message
      if (message?.startsWith(renderPending))
        yield* options.output(
          `the operator has not rendered the current revisions yet (${backupStatusConfigMapName}: ${message}): a backup of the rendered ones${ofRevisions} may be possibly dirty`,
        )
      name = (yield* kube.pods.create(namespace, rendered)).metadata.name
      yield* options.output(`created pod ${name} in ${namespace} from ConfigMap ${backupPodConfigMapName}${ofRevisions}`)
    }
    return { name, revisions }
  })

/** The pod a person named (`--pod`): a backup pod, made from cluster-backup-pod by hand (`oc create`) or by an earlier run. */
const namedBackupPod = (kube: Kube["Service"], options: BackupPodOptions, name: string) =>
  Effect.gen(function* () {
    const pod = yield* kube.pods.get(options.namespace, name).pipe(
      Effect.catchTag("NotFound", () =>
        Effect.fail(
          new BackupPodGone({
            pod: name,
            message: `there is no pod ${name} in ${options.namespace}: oc -n ${options.namespace} get pods -l ${backupPodSelector} lists the backup pods`,
          }),
        ),
      ),
    )
    const containers: ReadonlyArray<unknown> = Array.isArray(pod.spec.containers) ? pod.spec.containers : []
    if (!containers.some((c) => isJsonObject(c) && c.name === backupHoldContainerName))
      return yield* new NotABackupPod({
        pod: name,
        message: `pod ${name} in ${options.namespace} has no ${backupHoldContainerName} container: it is not a pod made from ConfigMap ${backupPodConfigMapName}, whose backup it would hold (a BackupPolicy's pods store theirs themselves)`,
      })
    // A pod still taking its backup: one it cannot be copied into is said now, not once it is taken.
    const now = yield* Clock.currentTimeMillis
    if (options.copyTo !== undefined && podOutcome(podView(pod), now)._tag === "Running") yield* refuseUnfitCopyDirectory(options.copyTo)
    const revisions = revisionsOfBackupPod(pod)
    yield* options.output(
      `following pod ${name}${revisions === undefined ? "" : ` (revisions ${formatRevisionSet(revisions)})`}, created ${pod.metadata.creationTimestamp ?? "earlier"}`,
    )
    return { name, revisions }
  })

export const runBackupPod = (options: BackupPodOptions): Effect.Effect<BackupPodResult, BackupPodError, BackupPodRequirements> =>
  Effect.gen(function* () {
    const kube = yield* Kube
    const { namespace } = options
    const startedAt = yield* Clock.currentTimeMillis
    // The rendered spec's pod, new or still running, has no backup yet: a directory it cannot be copied into is said first.
    if (options.pod === undefined && options.copyTo !== undefined) yield* refuseUnfitCopyDirectory(options.copyTo)
    const { name, revisions } =
      options.pod === undefined ? yield* podOfRenderedSpec(kube, options, startedAt) : yield* namedBackupPod(kube, options, options.pod)
    let told = ""
    while (true) {
      const now = yield* Clock.currentTimeMillis
      // An API that does not answer for a while is waited through, up to the timeout.
      const pod = yield* kube.pods.get(namespace, name).pipe(
        Effect.map((p): Pod | undefined => p),
        Effect.catchTags({
          NotFound: () =>
            Effect.fail(
              new BackupPodGone({
                pod: name,
                message: `pod ${name} was deleted before its backup was complete (by a person, an eviction): run backup-pod again`,
              }),
            ),
          Unavailable: () => Effect.succeed(undefined),
          Timeout: () => Effect.succeed(undefined),
        }),
      )
      if (pod !== undefined) {
        const outcome = podOutcome(podView(pod), now)
        if (outcome._tag === "Complete" && holdEndedOf(pod))
          return yield* new BackupPodNotHeld({
            pod: name,
            message: `pod ${name} completed its backup, but its ${backupHoldContainerName} container has ended since: the backup went with the pod's volume; run backup-pod again and copy the backup within the hold time`,
          })
        if (outcome._tag === "Complete") {
          const copy = `oc cp -c ${backupHoldContainerName} ${namespace}/${name}:${backupPodPaths.backupDir} ./backup`
          const hold = holdWindow(pod.spec.containers, pod.status?.containerStatuses ?? [])
          const heldUntil = hold?.untilMs === undefined ? undefined : formatRfc3339Utc(hold.untilMs)
          const held =
            heldUntil !== undefined
              ? `until ${heldUntil}`
              : hold !== undefined
                ? `for ${formatDuration(hold.durationMs)} once its ${backupHoldContainerName} container starts`
                : `until its ${backupHoldContainerName} container ends`
          const report = createReportOf(podView(pod))
          const copiedTo =
            options.copyTo === undefined
              ? undefined
              : yield* copyOff(
                  kube,
                  options,
                  name,
                  report?.id,
                  options.copyTo,
                  `${held}: backup-pod --pod ${name} --copy-to ${options.copyTo} copies it, or ${copy}`,
                  hold?.untilMs,
                )
          const podDeleted = copiedTo !== undefined && options.deleteAfterCopy === true
          if (podDeleted) yield* deleteCopiedPod(kube, options, name, copiedTo)
          const whereItIs = podDeleted
            ? `It was copied into ${copiedTo}, and the pod deleted.`
            : `It is held for oc cp ${held}: ${copy}.${copiedTo === undefined ? "" : ` It was copied into ${copiedTo}.`}`
          if (report?.verdict === "dirty")
            return yield* new BackupPodPossiblyDirty({
              pod: name,
              backupId: report.id,
              reasons: report.reasons,
              copy,
              message: `pod ${name} completed backup ${report.id}, but it is possibly dirty (its files are named __POSSIBLY_DIRTY__; verify and restore refuse it without --allow-dirty): ${report.reasons.join("; ")}. ${whereItIs} For a consistent backup, run backup-pod again once the operator has rendered the current revisions (oc -n ${namespace} get cm backup-status)`,
            })
          const id = report === undefined ? "" : ` ${report.id}`
          yield* options.output(
            copiedTo === undefined
              ? `pod ${name}: the backup${id} is complete and held for oc cp ${held}: ${copy}`
              : podDeleted
                ? `pod ${name}: the backup${id} is complete and copied into ${copiedTo}`
                : `pod ${name}: the backup${id} is complete, copied into ${copiedTo}, and held in the pod ${held}`,
          )
          // The held backup takes the node's disk (a snapshot of etcd's size) until the hold ends.
          if (!podDeleted)
            yield* options.output(
              copiedTo === undefined
                ? `once it is copied, oc -n ${namespace} delete pod ${name} gives the node's disk back at once`
                : `oc -n ${namespace} delete pod ${name} gives the node's disk back at once`,
            )
          return {
            namespace,
            pod: name,
            revisions: revisions === undefined ? undefined : formatRevisionSet(revisions),
            copy,
            ...(heldUntil === undefined ? {} : { heldUntil }),
            ...(report === undefined ? {} : { backupId: report.id }),
            ...(copiedTo === undefined ? {} : { copiedTo }),
            ...(podDeleted ? { podDeleted } : {}),
          }
        }
        if (outcome._tag === "Failed")
          return yield* new BackupPodFailed({
            pod: name,
            reason: outcome.reason,
            message: `the backup failed: ${outcome.reason}; see oc -n ${namespace} logs ${name} --all-containers, and delete the pod once read`,
          })
        const words = yield* readRunningPodLine(kube, namespace, now)(pod)
        if (words !== told) yield* options.output(words)
        told = words
      }
      if (now - startedAt >= options.timeoutMs) {
        const last = told === "" ? `pod ${name} not read yet` : told
        return yield* new BackupPodNotFinished({
          pod: name,
          waitedSeconds: Math.round((now - startedAt) / 1000),
          last,
          message: `pod ${name} did not complete its backup within ${formatDuration(options.timeoutMs)} (${last}); it was left running: oc -n ${namespace} get pod ${name}`,
        })
      }
      yield* Effect.sleep(options.pollMs)
    }
  })
