/**
 * Which ended backup pods made from `cluster-backup-pod` (by a person, or `backup-pod`) the operator deletes, as a
 * CronJob's history limits do: the newest `successful` that Succeeded (their hold over, the backup gone with their
 * volume; only the log is left) and the newest `failed` that Failed are kept. A pod still running, holding its backup
 * or already being deleted, and a BackupPolicy's pod (its own limits apply), are never in the list.
 */
import { type BackupPodView, newestPodFirst } from "./backup-pod-outcome.ts"

export interface BackupPodHistoryLimits {
  readonly successful: number
  readonly failed: number
}

/** CronJob's defaults. At least 1 each: the newest ended pod is what `backup-status` reads its outcome from. */
export const backupPodHistoryDefaults: BackupPodHistoryLimits = { successful: 3, failed: 1 }

/** The pods to delete, oldest first. `keep` names a pod never to delete (the one `backup-status` reads). */
export const backupPodHistoryDeletions = (
  pods: ReadonlyArray<BackupPodView>,
  limits: BackupPodHistoryLimits,
  keep?: string | undefined,
): ReadonlyArray<string> => {
  const manual = pods.filter((p) => p.policy === undefined && p.deleting !== true).sort(newestPodFirst)
  const beyond = (phase: "Succeeded" | "Failed", limit: number) => manual.filter((p) => p.phase === phase).slice(Math.max(1, limit))
  return [...beyond("Succeeded", limits.successful), ...beyond("Failed", limits.failed)]
    .filter((p) => p.name !== keep)
    .sort((a, b) => newestPodFirst(b, a))
    .map((p) => p.name)
}
