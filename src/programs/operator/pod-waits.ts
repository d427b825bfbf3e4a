/**
 * Where a backup pod stands, read from its spec and status: not scheduled yet, a container its kubelet cannot start,
 * or the init container it is at.
 */
import { initContainerNames, podStep } from "../../domain/backup-request.ts"
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

/** The first container that cannot be started: `container <name>: <reason>: <message>`. */
export const stuckOf = (pod: Pod): string | undefined => {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const c = statuses.find((s) => s.state?.waiting?.reason !== undefined && !passingWaits.has(s.state.waiting.reason))
  const w = c?.state?.waiting
  return c === undefined || w === undefined ? undefined : [`container ${c.name}`, w.reason, w.message].filter((x) => x !== undefined && x !== "").join(": ")
}
