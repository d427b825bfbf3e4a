/**
 * Where a backup pod stands, read from its spec and status: not scheduled yet, a container its kubelet cannot start,
 * on its node with no container started (waiting to mount its volumes; its Events then say why), or the init container
 * it is at.
 */
import { Effect } from "effect"
import type { BackupPodView } from "../../domain/backup-pod-outcome.ts"
import { startEventIn, startEventsWanted } from "../../domain/backup-pod-start.ts"
import { initContainerNames, podStep } from "../../domain/backup-request.ts"
import { parseRfc3339Utc } from "../../domain/rfc3339.ts"
import type { KubeService } from "../../services/kube/kube.ts"
import type { Event, Pod } from "../../services/kube/schemas.ts"

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
 * Since when a kubelet has held the pod (its `startTime`, else when it was scheduled) while it has started no container:
 * mounting its volumes, which waits for ever on a Secret or ConfigMap missing (a stuck container is told apart by
 * `backup-pod-start.ts`, which puts it first).
 */
export const mountWaitSinceOf = (pod: Pod): number | undefined => {
  const status = pod.status
  if (status?.phase !== "Pending") return undefined
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

const eventView = (e: Event) => ({
  reason: e.reason,
  message: e.message,
  at: parseRfc3339Utc(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? ""),
})

/**
 * The pod's view with its newest Event on its start (FailedMount naming the Secret or key, or Pulling an image), read
 * only for a pod that has started no container past the mount wait's limit. Events only add words (and a pull's longer
 * limit): a read RBAC refuses (an older Role) leaves the view as it was, pointing to `oc describe pod`; one that failed
 * otherwise (the API unavailable after the retries) marks them unread, so that one failed read does not take a pull
 * for a volume that cannot be mounted (`backup-pod-start.ts`).
 */
export const withStartEvent =
  (kube: KubeService, namespace: string, now: number) =>
  <V extends BackupPodView>(view: V): Effect.Effect<V> =>
    !startEventsWanted(view, now)
      ? Effect.succeed(view)
      : kube.events.list(namespace, { involvedObjectName: view.name }).pipe(
          Effect.map((list) => {
            const startEvent = startEventIn(list.items.filter((e) => e.involvedObject.kind === "Pod").map(eventView))
            return startEvent === undefined ? view : { ...view, startEvent }
          }),
          Effect.catch((e) => Effect.succeed(e._tag === "Forbidden" ? view : { ...view, startEvent: { kind: "unread" as const, words: e.message } })),
        )
