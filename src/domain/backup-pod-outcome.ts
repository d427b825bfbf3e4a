/**
 * How a backup pod's run ended, read from its status. The backup is done when `backup-create`
 * and, where the pod has them, `backup-verify` (a backup that failed its check is not one) and
 * `backup-upload` (a backup that is not in its store is not done) all exited 0 — the pod then
 * keeps running its hold container for `oc cp`, so waiting for phase `Succeeded` would report a
 * finished backup an hour late. It failed when any init container exits non-zero or the pod fails
 * before the last of those finished (deadline exceeded, evicted, deleted node).
 */
import { backupCreateContainerName, backupUploadContainerName, backupVerifyContainerName } from "./backup-pod-names.ts"
import { Result } from "effect"
import { type BackupCreateReport, parseBackupCreateReport } from "./backup-create-report.ts"
import { revisionSetsEqual, type RevisionSet } from "./revisions.ts"
import { parseRfc3339Utc } from "./rfc3339.ts"
import type { StartEvent } from "./backup-pod-start.ts"

/** What the outcome needs of a pod (a structural view of the API object). */
export interface BackupPodView {
  readonly name: string
  readonly createdAt: number | undefined
  readonly revisions: RevisionSet | undefined
  readonly phase: string | undefined
  /** The BackupPolicy whose pod it is (its policy label); undefined for a pod made from `cluster-backup-pod`. */
  readonly policy?: string | undefined
  /** It has a deletionTimestamp. */
  readonly deleting?: boolean | undefined
  /** The kubelet's words while one of its containers cannot be started (`container <name>: <reason>: <message>`). */
  readonly stuck?: string | undefined
  /** Since when a kubelet has held it while it started no container (`backup-pod-start.ts`). */
  readonly mountWaitSince?: number | undefined
  /** Its newest Event on its start, read once it has started no container past the mount wait's limit. */
  readonly startEvent?: StartEvent | undefined
  readonly reason: string | undefined
  readonly message: string | undefined
  readonly initContainers: ReadonlyArray<{
    readonly name: string
    readonly terminated?:
      | {
          readonly exitCode: number
          readonly reason?: string | undefined
          readonly message?: string | undefined
          readonly finishedAt?: string | null | undefined
        }
      | undefined
  }>
}

export type BackupOutcome =
  /** `dirty`: backup-create's reasons, when it reported the backup possibly dirty (`backup-create-report.ts`). */
  | { readonly _tag: "Complete"; readonly pod: string; readonly at: number; readonly dirty?: ReadonlyArray<string> | undefined }
  | { readonly _tag: "Failed"; readonly pod: string; readonly at: number; readonly reason: string }
  | { readonly _tag: "Running"; readonly pod: string }

/** The containers that make the backup, in the order the pod runs them; the hold container is not one. */
const completionSteps: ReadonlyArray<string> = [backupCreateContainerName, backupVerifyContainerName, backupUploadContainerName]

const firstLine = (text: string | undefined): string | undefined =>
  text
    ?.trim()
    .split("\n")
    .find((l) => l.trim() !== "")
    ?.trim()

/** backup-create's report, when its container left one (an older image leaves none). */
export const createReportOf = (pod: BackupPodView): BackupCreateReport | undefined => {
  const message = pod.initContainers.find((c) => c.name === backupCreateContainerName)?.terminated?.message
  const parsed = message === undefined || message === "" ? undefined : parseBackupCreateReport(message)
  return parsed !== undefined && Result.isSuccess(parsed) ? parsed.success : undefined
}

/** When the pod's last init container to finish did, if any did. */
export const latestFinish = (pod: BackupPodView): number | undefined =>
  pod.initContainers.reduce<number | undefined>((latest, c) => {
    const t = parseRfc3339Utc(c.terminated?.finishedAt ?? "")
    return t === undefined || (latest !== undefined && latest >= t) ? latest : t
  }, undefined)

/**
 * The outcome of one pod's backup. It ended when its container did; without that time (a container the kubelet lost
 * track of, ContainerStatusUnknown, has none), or for a pod that failed as a whole (deadline, eviction, refused by its
 * node), when its last container finished, else when it was created: read from the pod alone, so every sync agrees on
 * it. `now` stands in only for a pod the API gave no creation time.
 */
export const podOutcome = (pod: BackupPodView, now: number): BackupOutcome => {
  const endedAt = (finishedAt: string | null | undefined) => parseRfc3339Utc(finishedAt ?? "") ?? latestFinish(pod) ?? pod.createdAt ?? now
  for (const c of pod.initContainers) {
    const t = c.terminated
    if (t !== undefined && t.exitCode !== 0) {
      const detail = firstLine(t.message) ?? t.reason ?? "no termination message"
      return {
        _tag: "Failed",
        pod: pod.name,
        at: endedAt(t.finishedAt),
        reason: `init container ${c.name} of pod ${pod.name} exited with code ${t.exitCode}: ${detail}`,
      }
    }
  }
  // Every step the pod has must have passed: a backup whose verify failed or never ran is not complete.
  const steps = pod.initContainers.filter((c) => completionSteps.includes(c.name))
  const last = steps.at(-1)?.name ?? backupCreateContainerName
  const finished = steps.at(-1)?.terminated
  const passed = (name: string) => steps.some((c) => c.name === name && c.terminated?.exitCode === 0)
  if (passed(backupCreateContainerName) && steps.every((c) => passed(c.name)) && finished !== undefined) {
    const report = createReportOf(pod)
    return { _tag: "Complete", pod: pod.name, at: endedAt(finished.finishedAt), ...(report?.verdict === "dirty" ? { dirty: report.reasons } : {}) }
  }
  if (pod.phase === "Failed") {
    const why = [pod.reason, firstLine(pod.message)].filter((s) => s !== undefined && s !== "").join(": ")
    return {
      _tag: "Failed",
      pod: pod.name,
      at: endedAt(undefined),
      reason: `pod ${pod.name} failed before ${last} finished${why === "" ? "" : `: ${why}`}`,
    }
  }
  return { _tag: "Running", pod: pod.name }
}

/** Newest first: by creation, then by name (pod names carry their start time). */
export const newestPodFirst = (a: BackupPodView, b: BackupPodView): number => (b.createdAt ?? 0) - (a.createdAt ?? 0) || b.name.localeCompare(a.name)

/** The newest pod made from `cluster-backup-pod` (no BackupPolicy's) that still runs and is not being deleted, if any. */
export const newestRunningManualPod = (pods: ReadonlyArray<BackupPodView>, now: number): BackupPodView | undefined =>
  pods
    .filter((p) => p.policy === undefined && p.deleting !== true && podOutcome(p, now)._tag === "Running")
    .sort(newestPodFirst)
    .at(0)

/**
 * The outcome of the newest backup pod rendered for `revisions` and created at or after
 * `renderedAt` (older pods belong to earlier renders); undefined when there is none.
 */
export const latestOutcome = (
  pods: ReadonlyArray<BackupPodView>,
  revisions: RevisionSet,
  renderedAt: number | undefined,
  now: number,
): BackupOutcome | undefined => {
  const candidates = pods
    .filter((p) => p.revisions !== undefined && revisionSetsEqual(p.revisions, revisions))
    .filter((p) => renderedAt === undefined || p.createdAt === undefined || p.createdAt >= renderedAt - 1000)
    .sort(newestPodFirst)
  const newest = candidates[0]
  return newest === undefined ? undefined : podOutcome(newest, now)
}
