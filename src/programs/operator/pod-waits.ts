/**
 * Where a backup pod stands, read from its spec and status: not scheduled yet, a container its kubelet cannot start,
 * or the init container it is at.
 */
import { initContainerNames, podStep } from "../../domain/backup-request.ts"
import { parseRfc3339Utc } from "../../domain/rfc3339.ts"
import type { Pod } from "../../services/kube/schemas.ts"

/** The init container the pod is at, as `oc get pod` counts it (`podStep`). */
export const stepOf = (pod: Pod): string | undefined => podStep(initContainerNames(pod.spec), pod.status?.initContainerStatuses ?? [])

/** The PodScheduled condition's words while it is not True (`Unschedulable: 0/3 nodes are available: ...`). */
export const waitingOf = (pod: Pod): string | undefined => {
  const c = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status !== "True")
  const words = [c?.reason, c?.message].filter((w) => w !== undefined && w !== "").join(": ")
  return words === "" ? undefined : words
}

/** Waits that end by themselves; any other (CreateContainerConfigError, ImagePullBackOff) needs a person. */
const passingWaits = new Set(["ContainerCreating", "PodInitializing"])

/**
 * Since when a kubelet has held the pod (its `startTime`, else when it was scheduled) while it has started no container
 * and none is stuck: mounting its volumes, which waits for ever on a Secret or ConfigMap missing.
 */
export const mountWaitSinceOf = (pod: Pod): number | undefined => {
  const status = pod.status
  if (status?.phase !== "Pending" || stuckOf(pod) !== undefined) return undefined
  const scheduled = status.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True")
  const statuses = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]
  if (statuses.some((c) => c.state?.running !== undefined || c.state?.terminated !== undefined)) return undefined
  return parseRfc3339Utc(status.startTime ?? scheduled?.lastTransitionTime ?? "")
}

/** The first container that cannot be started: `container <name>: <reason>: <message>`. */
export const stuckOf = (pod: Pod): string | undefined => {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const c = statuses.find((s) => s.state?.waiting?.reason !== undefined && !passingWaits.has(s.state.waiting.reason))
  const w = c?.state?.waiting
  return c === undefined || w === undefined ? undefined : [`container ${c.name}`, w.reason, w.message].filter((x) => x !== undefined && x !== "").join(": ")
}
