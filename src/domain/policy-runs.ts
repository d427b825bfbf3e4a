/**
 * A BackupPolicy's runs, read from the pods it created (selected by `policyNameLabel`): how each went,
 * what its `backup-upload` reported, which pods the history limits let go, and how many backups in a
 * row have failed. Everything here is read back from the pods and the policy's status, so an operator
 * that restarts knows what the one before it knew.
 */
import { Result } from "effect"
import { latestFinish, podOutcome, type BackupOutcome, type BackupPodView } from "./backup-pod-outcome.ts"
import { notStartingFrom, notStartingOf, pullingOf } from "./backup-pod-start.ts"
import { parseBackupPodReport, type BackupPodReport } from "./backup-pod-report.ts"
import type { BackupPolicyStatus } from "./backup-policy.ts"
import { backupUploadContainerName } from "./backup-pod-names.ts"
import { formatDuration } from "./durations.ts"
import { requestIn, scheduledTimeAnnotation } from "./policy-pod.ts"
import { parseRfc3339Utc } from "./rfc3339.ts"

/**
 * On each pod the operator creates for a policy: 1 + the failures in a row before it. The newest failed pod's
 * value is the count the backoff grows with, however few failed pods the history limit keeps.
 */
export const attemptAnnotation = "backup.openshift.io/attempt"

/** What the operator needs of a policy's pod (a structural view of the API object). */
export interface PolicyPodView extends BackupPodView {
  readonly annotations: Readonly<Record<string, string>>
  /** `metadata.deletionTimestamp` is set: already going away. */
  readonly deleting: boolean
  /** `status.startTime`: a kubelet took the pod (its `activeDeadlineSeconds` counts from then). */
  readonly startedAt?: number | undefined
  /** `spec.nodeName`: the node the scheduler bound it to. */
  readonly node?: string | undefined
  /** `spec.activeDeadlineSeconds`. */
  readonly deadlineSeconds?: number | undefined
  /** Why it waits (its PodScheduled condition's reason and message), quoted when it never starts. */
  readonly waiting?: string | undefined
}

export type ReportReading = { readonly _tag: "Report"; readonly report: BackupPodReport } | { readonly _tag: "NoReport"; readonly problem: string }

export interface PolicyRun {
  readonly pod: string
  /** The pod's creation time (0 when the API gave none, which sorts it oldest). */
  readonly startedAt: number
  readonly outcome: BackupOutcome
  /**
   * When a finished run ended: its last container's finish, else (a pod failed as a whole, e.g. DeadlineExceeded)
   * its creation. Read from the pod alone, so every sync and every operator agrees on it.
   */
  readonly endedAt: number
  readonly deleting: boolean
  /**
   * Bound to a node (or started there): deleted, the API keeps it Terminating until that node's kubelet reports it stopped,
   * which a lost node's never does (until its Node object is deleted).
   */
  readonly onNode: boolean
  readonly scheduledTime: number | undefined
  /** The request (the policy's `backupRequestAnnotation` value) this run was started for, if one. */
  readonly request: string | undefined
  readonly attempt: number | undefined
  /** The container that failed (an init container's non-zero exit), when one did. */
  readonly failedContainer: string | undefined
  /** The pod's own reason when it failed as a whole (DeadlineExceeded, Evicted). */
  readonly podReason: string | undefined
  /** A complete run's report (only read for complete runs). */
  readonly report: ReportReading | undefined
  readonly revisions: BackupPodView["revisions"]
  /** When a run still going counts as failed and is deleted (`overdueAfter`); undefined once it ended or without a deadline. */
  readonly overdueAt: number | undefined
  /** Failed by the operator for running past `overdueAt`: deleted whatever the history limits keep. */
  readonly overdue: boolean
  /** A run still going that cannot start (it fails at its deadline unless a person fixes the cause): why. */
  readonly stuck: string | undefined
  /** When a run still going will count as not starting if nothing changes (`backup-pod-start.ts`), while that is ahead. */
  readonly notStartingAt: number | undefined
  /** A run still going whose Events show its image being pulled, within a pull's limit: that Event's words. */
  readonly pulling: string | undefined
}

export const isFinished = (run: PolicyRun): boolean => run.outcome._tag !== "Running"

const positiveInt = (text: string | undefined): number | undefined => {
  const n = text === undefined || !/^\d{1,9}$/.test(text) ? undefined : Number(text)
  return n === undefined || n < 1 ? undefined : n
}

const readReport = (pod: BackupPodView): ReportReading => {
  const message = pod.initContainers.find((c) => c.name === backupUploadContainerName)?.terminated?.message
  if (message === undefined || message.trim() === "") return { _tag: "NoReport", problem: `${backupUploadContainerName} left no termination message` }
  const parsed = parseBackupPodReport(message)
  return Result.isSuccess(parsed) ? { _tag: "Report", report: parsed.success } : { _tag: "NoReport", problem: parsed.failure.message }
}

/** How long past its deadline a started pod may still run before the operator stops waiting for Kubernetes to fail it. */
export const overdueGraceMs = 10 * 60_000

/**
 * When a pod still going is one Kubernetes will not end: `activeDeadlineSeconds` counts only from a kubelet's
 * start, so a pod never scheduled (no node fits, the node cordoned) waits forever and holds its policy; one started
 * whose node was lost stays Running. The first is given up a deadline after its creation, the second a grace past
 * its deadline.
 */
export const overdueAfter = (pod: PolicyPodView): number | undefined => {
  if (pod.deadlineSeconds === undefined || pod.createdAt === undefined) return undefined
  const deadline = pod.deadlineSeconds * 1000
  return pod.startedAt === undefined ? pod.createdAt + deadline : pod.startedAt + deadline + overdueGraceMs
}

const overdueReason = (pod: PolicyPodView): { readonly podReason: string; readonly reason: string } => {
  const deadline = formatDuration((pod.deadlineSeconds ?? 0) * 1000)
  return pod.startedAt === undefined
    ? {
        podReason: "NeverStarted",
        reason: `pod ${pod.name} did not start within its deadline (${deadline}) of its creation${pod.waiting === undefined ? "" : ` (${pod.waiting})`}: the operator deleted it so that the next backup can run; see that no node can take it (node selector, taints, cordoned control-plane nodes)`,
      }
    : {
        podReason: "Overdue",
        reason: `pod ${pod.name} was still running ${formatDuration(overdueGraceMs)} past its deadline (${deadline}) without Kubernetes ending it (its node may be lost): the operator deleted it so that the next backup can run`,
      }
}

/** One pod as a run at `now` (which stands in for finish times the API does not give). */
export const policyRun = (pod: PolicyPodView, now: number): PolicyRun => {
  const going = podOutcome(pod, now)
  const overdueAt = going._tag === "Running" ? overdueAfter(pod) : undefined
  const overdue = overdueAt !== undefined && now >= overdueAt
  const late = overdue ? overdueReason(pod) : undefined
  const outcome: BackupOutcome = late === undefined ? going : { _tag: "Failed", pod: pod.name, at: overdueAt!, reason: late.reason }
  return {
    pod: pod.name,
    startedAt: pod.createdAt ?? 0,
    outcome,
    endedAt: overdue ? overdueAt! : (latestFinish(pod) ?? pod.createdAt ?? 0),
    deleting: pod.deleting,
    onNode: pod.node !== undefined || pod.startedAt !== undefined,
    scheduledTime: parseRfc3339Utc(pod.annotations[scheduledTimeAnnotation] ?? ""),
    request: requestIn(pod.annotations),
    attempt: positiveInt(pod.annotations[attemptAnnotation]),
    failedContainer: overdue ? undefined : pod.initContainers.find((c) => c.terminated !== undefined && c.terminated.exitCode !== 0)?.name,
    podReason: late?.podReason ?? pod.reason,
    report: outcome._tag === "Complete" ? readReport(pod) : undefined,
    revisions: pod.revisions,
    overdueAt: overdue ? undefined : overdueAt,
    overdue,
    stuck: outcome._tag === "Running" ? notStartingOf(pod, now) : undefined,
    notStartingAt: outcome._tag === "Running" ? notStartingFrom(pod, now) : undefined,
    pulling: outcome._tag === "Running" ? pullingOf(pod, now) : undefined,
  }
}

/** The runs, newest first (creation time, then name: pod names carry their start time). */
export const policyRuns = (pods: ReadonlyArray<PolicyPodView>, now: number): ReadonlyArray<PolicyRun> =>
  pods.map((p) => policyRun(p, now)).sort((a, b) => b.startedAt - a.startedAt || b.pod.localeCompare(a.pod))

export const historyDefaults = { successful: 3, failed: 1 } as const

/**
 * The pods to delete, oldest first: finished runs beyond the newest `successful` complete and `failed` failed
 * ones, and every overdue run (it could still start). A run still taking its backup is never deleted, nor one
 * already being deleted.
 */
export const historyDeletions = (runs: ReadonlyArray<PolicyRun>, successful: number, failed: number): ReadonlyArray<string> => {
  const beyond = (tag: "Complete" | "Failed", keep: number) => runs.filter((r) => r.outcome._tag === tag).slice(Math.max(0, keep))
  return [...new Set([...beyond("Complete", successful), ...beyond("Failed", failed), ...runs.filter((r) => r.overdue)])]
    .filter((r) => !r.deleting)
    .sort((a, b) => a.startedAt - b.startedAt || a.pod.localeCompare(b.pod))
    .map((r) => r.pod)
}

const recordedAt = (text: string | undefined): number | undefined => (text === undefined ? undefined : parseRfc3339Utc(text))

export interface FailureStreak {
  /** Backups failed in a row since the last success (0: the newest finished backup succeeded, or none ran). */
  readonly count: number
  readonly lastFailureTime: number | undefined
}

const newestOf = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : Math.max(...defined)
}

/**
 * The failures in a row. Whether the newest backup failed is told by the newest success and failure known, from
 * the pods kept and the status (whose entries outlive pods the history limits deleted). The count is what the
 * newest failed pod carries (`attemptAnnotation`), or else the failed runs kept since the last success; when the
 * newest failure's pod is gone it is 1 (the count that pod carried is lost: the backoff starts over).
 */
export const failureStreak = (runs: ReadonlyArray<PolicyRun>, status: BackupPolicyStatus): FailureStreak => {
  const newestFailed = runs.find((r) => r.outcome._tag === "Failed")
  const successAt = newestOf([runs.find((r) => r.outcome._tag === "Complete")?.endedAt, recordedAt(status.lastSuccessfulBackup?.time)])
  const failedAt = newestOf([newestFailed?.endedAt, recordedAt(status.lastFailure?.time)])
  if (failedAt === undefined || (successAt !== undefined && successAt >= failedAt)) return { count: 0, lastFailureTime: undefined }
  if (newestFailed === undefined || newestFailed.endedAt < failedAt) return { count: 1, lastFailureTime: failedAt }
  const finished = runs.filter(isFinished)
  const sinceSuccess = finished.findIndex((r) => r.outcome._tag === "Complete")
  return { count: newestFailed.attempt ?? (sinceSuccess === -1 ? finished.length : sinceSuccess), lastFailureTime: failedAt }
}
