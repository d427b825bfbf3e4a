/**
 * The simulated kubelet's part: the status a pod ends with, built from the pod's own container
 * names, so tests and the demo can finish backup pods the way a node would report them. A policy's
 * backup pod ends with backup-upload's termination message: the report of what it stored, or why not.
 */
import { encodeBackupPodReport, type BackupPodReport } from "../domain/backup-pod-report.ts"
import { formatBackupTimestamp } from "../domain/archive-names.ts"
import { revisionsOfBackupPod } from "../domain/pod-spec.ts"
import { isJsonObject } from "../services/kube/merge-patch.ts"
import { apiTime } from "./wire-object.ts"

/** How a pod ends. */
export interface PodOutcome {
  readonly phase: "Succeeded" | "Failed"
  /** Per container (init or main) name; unnamed containers exit 0 with reason Completed. */
  readonly containers?: Readonly<Record<string, { readonly exitCode: number; readonly message?: string; readonly reason?: string }>>
}

const containerStatuses = (containers: unknown, outcome: PodOutcome, finishedAt: string) =>
  (Array.isArray(containers) ? containers : []).flatMap((container: unknown) => {
    if (!isJsonObject(container) || typeof container.name !== "string") return []
    const given = outcome.containers?.[container.name]
    const exitCode = given?.exitCode ?? 0
    return [
      {
        name: container.name,
        ready: false,
        restartCount: 0,
        image: typeof container.image === "string" ? container.image : "",
        state: {
          terminated: {
            exitCode,
            reason: given?.reason ?? (exitCode === 0 ? "Completed" : "Error"),
            ...(given?.message === undefined ? {} : { message: given.message }),
            finishedAt,
          },
        },
      },
    ]
  })

/** The `.status` of `pod` (JSON) once it ended with `outcome` at `finishedAt` (RFC 3339). */
export const terminatedPodStatus = (pod: Readonly<Record<string, unknown>>, outcome: PodOutcome, finishedAt: string) => {
  const spec = isJsonObject(pod.spec) ? pod.spec : {}
  const metadata = isJsonObject(pod.metadata) ? pod.metadata : {}
  return {
    phase: outcome.phase,
    startTime: metadata.creationTimestamp,
    initContainerStatuses: containerStatuses(spec.initContainers, outcome, finishedAt),
    containerStatuses: containerStatuses(spec.containers, outcome, finishedAt),
  }
}

/**
 * The `.status` of a rendered backup pod whose init containers ended with `outcome` at `at` and whose main container (the
 * hold keeping /backup for `oc cp`) runs since then.
 */
export const heldPodStatus = (pod: Readonly<Record<string, unknown>>, outcome: PodOutcome, at: string) => {
  const spec = isJsonObject(pod.spec) ? pod.spec : {}
  const metadata = isJsonObject(pod.metadata) ? pod.metadata : {}
  const running = (Array.isArray(spec.containers) ? spec.containers : []).flatMap((container: unknown) =>
    isJsonObject(container) && typeof container.name === "string"
      ? [
          {
            name: container.name,
            ready: true,
            restartCount: 0,
            image: typeof container.image === "string" ? container.image : "",
            state: { running: { startedAt: at } },
          },
        ]
      : [],
  )
  return {
    phase: "Running",
    startTime: metadata.creationTimestamp,
    initContainerStatuses: containerStatuses(spec.initContainers, outcome, at),
    containerStatuses: running,
  }
}

/**
 * The `.status` of a pod its kubelet took at `startTime` (RFC 3339) that has started no container: it waits to mount
 * its volumes, as for ever on a Secret or ConfigMap missing (FailedMount is only an Event).
 */
export const mountWaitingPodStatus = (startTime: string) => ({
  phase: "Pending",
  startTime,
  conditions: [{ type: "PodScheduled", status: "True" }],
  initContainerStatuses: [{ name: "backup-init", state: { waiting: { reason: "PodInitializing" } } }],
})

/**
 * An Event a kubelet records on a pod starting: `FailedMount` (a Warning, repeated while it cannot mount a volume) or
 * `Pulling` (pulling an image), `message` its words, at `at` (RFC 3339).
 */
export const kubeletEvent = (namespace: string, pod: string, reason: "FailedMount" | "Pulling", message: string, at: string) => ({
  metadata: { name: `${pod}.${reason.toLowerCase()}`, namespace },
  involvedObject: { apiVersion: "v1", kind: "Pod", namespace, name: pod },
  reason,
  message,
  type: reason === "Pulling" ? ("Normal" as const) : ("Warning" as const),
  source: { component: "kubelet", host: "master-0" },
  firstTimestamp: at,
  lastTimestamp: at,
  count: 1,
})

/** The container of a policy's backup pod that stores the backup and reports it (`backup-pod-report.ts`). */
export const uploadContainer = "backup-upload"

/** A policy pod whose backup-upload stored `report`: it succeeds, the encoded report as backup-upload's termination message. */
export const uploadedBackup = (report: BackupPodReport): PodOutcome => ({
  phase: "Succeeded",
  containers: { [uploadContainer]: { exitCode: 0, message: encodeBackupPodReport(report) } },
})

/** A policy pod whose backup-upload failed (the store unreachable, say): the pod fails, `message` as the container's last words. */
export const failedUpload = (message: string): PodOutcome => ({
  phase: "Failed",
  containers: { [uploadContainer]: { exitCode: 1, message } },
})

/**
 * A plausible report for `pod` finished at `finishedAt`: the revisions its annotation names, an id from the time,
 * a simulated location; `overrides` set what a test asserts on (sizes, verdict, verified, location...).
 */
export const simulatedBackupReport = (pod: unknown, finishedAt: Date, overrides: Partial<BackupPodReport> = {}): BackupPodReport => {
  const id = formatBackupTimestamp(finishedAt)
  return {
    id,
    location: `simulated://backups/${id}`,
    time: apiTime(finishedAt),
    revisions: { ...revisionsOfBackupPod(pod) },
    etcdRevision: 1000,
    snapshotBytes: 4096,
    resourcesBytes: 1024,
    totalBytes: 5120,
    bytesUploaded: 5120,
    verdict: "consistent",
    verified: true,
    verifyMode: "Full",
    ...overrides,
  }
}
