/**
 * Where a person's request for a backup (a BackupPolicy's `backupRequestAnnotation`) stands, read from the policy
 * as the operator records it: not started yet (behind a backup already running, or blocked by what stops the policy),
 * its pod running, or its pod's end (as `status.lastRequest` records it, or from an operator that does not, the policy's
 * newest success or failure naming that pod).
 */
import type { BackupPolicyStatus } from "./backup-policy.ts"
import { requestIn } from "./policy-pod.ts"

type Success = NonNullable<BackupPolicyStatus["lastSuccessfulBackup"]>
type Failure = NonNullable<BackupPolicyStatus["lastFailure"]>

export type RequestProgress =
  | {
      readonly _tag: "NotStarted"
      /** The pod of a backup already running, which ends first. */
      readonly behind: string | undefined
      /** Why the policy starts no backup until a person fixes it (its Degraded condition's reason and message). */
      readonly blocked: { readonly reason: string; readonly message: string } | undefined
    }
  /** `stuck`: the kubelet's words while its container cannot be started. */
  | { readonly _tag: "Running"; readonly pod: string; readonly stuck: string | undefined }
  | { readonly _tag: "Succeeded"; readonly pod: string; readonly backup: Success }
  | { readonly _tag: "Failed"; readonly pod: string; readonly failure: Failure }

/** The policy as this reads it. */
export interface RequestedPolicy {
  readonly annotations: Readonly<Record<string, string>> | undefined
  readonly deleting: boolean
  readonly status: BackupPolicyStatus
}

/** Degraded reasons that hold every backup until a person acts; others (revisions unreadable for a while) pass. */
const blockingReasons = new Set(["InvalidSpec", "ProxySecretMissing"])

/**
 * The request to follow while no pod was started for `request`: itself, or the policy's newer request that replaced
 * it before then (that backup is later still); undefined when the annotation was removed (the request withdrawn).
 */
export const followedRequest = (policy: RequestedPolicy, request: string): string | undefined =>
  policy.status.lastRequest?.id === request ? request : requestIn(policy.annotations)

/** Where `request` stands; `pod`, once known, is followed whatever later requests the status records. */
export const requestProgress = (policy: RequestedPolicy, request: string, pod?: string): RequestProgress => {
  const { status } = policy
  const started = pod ?? (status.lastRequest?.id === request ? status.lastRequest.pod : undefined)
  if (started !== undefined) {
    // What the operator recorded of the request's own pod holds after later backups replaced the newest success and failure.
    const recorded = status.lastRequest?.pod === started ? status.lastRequest : undefined
    if (recorded?.backup !== undefined) return { _tag: "Succeeded", pod: started, backup: recorded.backup }
    if (recorded?.failure !== undefined) return { _tag: "Failed", pod: started, failure: recorded.failure }
    if (status.lastSuccessfulBackup?.pod === started) return { _tag: "Succeeded", pod: started, backup: status.lastSuccessfulBackup }
    if (status.lastFailure?.pod === started) return { _tag: "Failed", pod: started, failure: status.lastFailure }
    const progressing = status.conditions?.find((c) => c.type === "Progressing")
    const stuck = progressing?.reason === "BackupPodNotStarting" && status.active?.[0]?.name === started ? progressing.message : undefined
    return { _tag: "Running", pod: started, stuck }
  }
  const degraded = status.conditions?.find((c) => c.type === "Degraded" && c.status === "True" && blockingReasons.has(c.reason))
  const blocked = policy.deleting
    ? { reason: "PolicyDeleting", message: "the BackupPolicy is being deleted: it starts no more backups" }
    : degraded === undefined
      ? undefined
      : { reason: degraded.reason, message: degraded.message }
  return { _tag: "NotStarted", behind: status.active?.[0]?.name, blocked }
}

/** What `podStep` reads of a pod's init container statuses. */
export interface InitContainerState {
  readonly name: string
  readonly state?: { readonly terminated?: { readonly exitCode: number } | undefined } | undefined
}

/** The names of a pod spec's init containers, in its order. */
export const initContainerNames = (spec: Readonly<Record<string, unknown>>): ReadonlyArray<string> =>
  Array.isArray(spec.initContainers)
    ? spec.initContainers.flatMap((c: unknown) =>
        typeof c === "object" && c !== null && typeof (c as { name?: unknown }).name === "string" ? [(c as { name: string }).name] : [],
      )
    : []

/**
 * Which step a running backup pod is at, as `oc get pod` counts it: the first of its init containers (in the spec's
 * order) that has not ended well, and how many there are. Undefined once they all have, or for a pod with none.
 */
export const podStep = (initContainers: ReadonlyArray<string>, statuses: ReadonlyArray<InitContainerState>): string | undefined => {
  const done = initContainers.findIndex((name) => statuses.find((s) => s.name === name)?.state?.terminated?.exitCode !== 0)
  return done === -1 ? undefined : `${initContainers[done]} (init container ${done + 1} of ${initContainers.length})`
}

/** One line for a person of where the request stands (not for an end: the program reports those). */
export const describeProgress = (progress: RequestProgress): string => {
  switch (progress._tag) {
    case "NotStarted":
      return progress.behind === undefined
        ? "waiting for the operator to start a backup pod for it"
        : `waiting: pod ${progress.behind}, a backup already running, ends first`
    case "Running":
      return progress.stuck === undefined ? `pod ${progress.pod} is taking the backup` : `pod ${progress.pod} cannot start: ${progress.stuck}`
    case "Succeeded":
      return `pod ${progress.pod} stored backup ${progress.backup.id}`
    case "Failed":
      return `pod ${progress.pod} failed: ${progress.failure.reason}`
  }
}
