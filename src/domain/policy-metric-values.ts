/**
 * The values of one policy's metrics (`backup-policy-metrics.ts` names them), from what its status and pods say.
 * Times in epoch milliseconds, sizes in bytes; undefined means the series is absent (a thing that never happened).
 */
import type { BackupPolicy, BackupPolicyStatus } from "./backup-policy.ts"
import { backupUploadContainerName } from "./backup-pod-names.ts"
import { isFinished, type PolicyRun } from "./policy-runs.ts"
import { parseRfc3339Utc } from "./rfc3339.ts"

export interface PolicyMetricValues {
  readonly policy: string
  /** undefined for a policy whose spec cannot be read. */
  readonly info: { readonly verify: string; readonly store: "s3" | "pvc"; readonly suspended: boolean } | undefined
  readonly created: number | undefined
  readonly lastSuccess: number | undefined
  readonly lastFailure: number | undefined
  readonly lastDurationMs: number | undefined
  readonly lastSnapshotBytes: number | undefined
  readonly lastBackupBytes: number | undefined
  readonly newestVerified: number | undefined
  readonly nextSchedule: number | undefined
  readonly scheduleIntervalMs: number | undefined
  /** Since when settled revisions no backup holds wait for one (a policy with onRevisionChange); undefined while none wait. */
  readonly revisionChangePendingSince: number | undefined
  /** The policy's minInterval, for a policy with onRevisionChange. */
  readonly minIntervalMs: number | undefined
  readonly storeReachable: boolean | undefined
  /** What the pods' /backup volume lacks at etcd's quota (etcd-quota-room.ts); undefined while the quota is unknown. */
  readonly volumeShortfallBytes: number | undefined
  /** Whether its running pod cannot start (`backup-pod-start.ts`): its deadline alone would end it, and only then tell. */
  readonly podNotStarting: boolean
  /** The newest complete run and the bytes it uploaded: the uploaded-bytes counter grows once per such pod. */
  readonly completed: { readonly pod: string; readonly bytesUploaded: number } | undefined
}

const at = (text: string | undefined) => (text === undefined ? undefined : parseRfc3339Utc(text))

/** Whether the newest run that reached the store got through: a failure inside backup-upload says it did not. */
const storeReachable = (runs: ReadonlyArray<PolicyRun>): boolean | undefined => {
  const reached = runs.find((r) => r.outcome._tag === "Complete" || r.failedContainer === backupUploadContainerName)
  return reached === undefined ? undefined : reached.outcome._tag === "Complete"
}

export const policyMetricValues = (input: {
  readonly name: string
  readonly policy: BackupPolicy | undefined
  readonly created: number | undefined
  readonly status: BackupPolicyStatus
  readonly runs: ReadonlyArray<PolicyRun>
  readonly scheduleIntervalMs: number | undefined
  readonly revisionChangePendingSince?: number | undefined
  readonly minIntervalMs?: number | undefined
  readonly volumeShortfallBytes?: number | undefined
}): PolicyMetricValues => {
  const { status, runs, policy } = input
  const complete = runs.find((r) => r.outcome._tag === "Complete")
  const finished = runs.find(isFinished)
  const success = status.lastSuccessfulBackup
  const report = complete?.report?._tag === "Report" ? complete.report.report : undefined
  return {
    policy: input.name,
    info:
      policy === undefined
        ? undefined
        : { verify: policy.spec.verify ?? "Full", store: policy.spec.store.s3 === undefined ? "pvc" : "s3", suspended: policy.spec.suspend ?? false },
    created: input.created,
    lastSuccess: complete?.endedAt ?? at(success?.time),
    lastFailure: at(status.lastFailure?.time),
    lastDurationMs: finished === undefined || finished.startedAt === 0 ? undefined : Math.max(0, finished.endedAt - finished.startedAt),
    lastSnapshotBytes: success?.snapshotBytes,
    lastBackupBytes: success?.totalBytes,
    newestVerified: success?.verified === true ? at(success.time) : undefined,
    nextSchedule: at(status.nextScheduleTime),
    scheduleIntervalMs: input.scheduleIntervalMs,
    revisionChangePendingSince: input.revisionChangePendingSince,
    minIntervalMs: input.minIntervalMs,
    storeReachable: storeReachable(runs),
    volumeShortfallBytes: input.volumeShortfallBytes,
    podNotStarting: runs.find((r) => r.outcome._tag === "Running")?.stuck !== undefined,
    completed: complete === undefined || report === undefined ? undefined : { pod: complete.pod, bytesUploaded: report.bytesUploaded },
  }
}
