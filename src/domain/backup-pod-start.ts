/**
 * Whether a backup pod still going cannot start. A container the kubelet cannot start (ImagePullBackOff, a Secret an
 * env var names missing) says so in the pod's status at once. A volume the kubelet cannot mount (a Secret or ConfigMap
 * missing) says so only in the pod's Events (FailedMount) and waits for ever, so a pod on a node that has started no
 * container for `mountWaitLimitMs` counts as not starting too, unless its Events show its image still being pulled: a
 * pull that goes on makes progress (one that fails is ErrImagePull in the status), and gets `pullWaitLimitMs`. Events
 * that could not be read for a while (the API unavailable) cannot tell a pull from a mount: such a pod gets the pull's
 * limit, and is looked at again within `unreadEventsRetryMs`.
 */
import { formatDuration } from "./durations.ts"

/** How long a pod on a node may start no container before it counts as not starting (a slow image pull stays below it). */
export const mountWaitLimitMs = 120_000
/** How long when its Events show its image being pulled (a large image over a slow link to the registry). */
export const pullWaitLimitMs = 600_000
/** How soon a pod whose Events could not be read is looked at again. */
export const unreadEventsRetryMs = 30_000

/**
 * What a pod's newest Event on its start says: a volume it cannot mount or attach, or its image being pulled; or
 * (`unread`) that its Events could not be read now, the words saying why.
 */
export interface StartEvent {
  readonly kind: "mount" | "pull" | "unread"
  /** `FailedMount: MountVolume.SetUp failed for volume "x" : secret "y" not found`, `Pulling: Pulling image "z"`. */
  readonly words: string
}

/** What the answer needs of a pod (`BackupPodView` has these). */
export interface PodStartView {
  readonly name: string
  /** The kubelet's words while one of its containers cannot be started (`container <name>: <reason>: <message>`). */
  readonly stuck?: string | undefined
  /** Since when a kubelet has held the pod while it started no container: undefined once one did. */
  readonly mountWaitSince?: number | undefined
  /** Its newest Event on its start (`startEventIn`), when its Events were read. */
  readonly startEvent?: StartEvent | undefined
}

/** An Event about the pod, as far as the answer reads it. */
export interface PodEventView {
  readonly reason: string | undefined
  readonly message: string | undefined
  /** Its last time (lastTimestamp, else eventTime, else its creation). */
  readonly at: number | undefined
}

/** The reasons of the Events a kubelet (and the attach/detach controller) records while a pod's containers wait to start. */
const startEventKinds: ReadonlyMap<string, StartEvent["kind"]> = new Map([
  ["FailedMount", "mount"],
  ["FailedAttachVolume", "mount"],
  ["Pulling", "pull"],
])

/** The newest such Event with words, if any. */
export const startEventIn = (events: ReadonlyArray<PodEventView>): StartEvent | undefined => {
  const newest = events
    .filter((e) => e.reason !== undefined && startEventKinds.has(e.reason) && e.message !== undefined && e.message.trim() !== "")
    .reduce<PodEventView | undefined>((best, e) => (best === undefined || (e.at ?? 0) >= (best.at ?? 0) ? e : best), undefined)
  return newest === undefined ? undefined : { kind: startEventKinds.get(newest.reason!)!, words: `${newest.reason}: ${newest.message!.trim()}` }
}

/** How long the pod may start no container on its node. */
const startLimitOf = (pod: PodStartView): number => (pod.startEvent === undefined || pod.startEvent.kind === "mount" ? mountWaitLimitMs : pullWaitLimitMs)

/** The words for a pod whose kubelet has started none of its containers within its limit, quoting its Events when read. */
export const startWaitWords = (name: string, event?: StartEvent | undefined): string => {
  if (event === undefined)
    return `containers: none started within ${formatDuration(mountWaitLimitMs)} on its node, as when a volume it mounts cannot be (a Secret or ConfigMap missing) or an image is slow to pull; the Events of oc describe pod ${name} say which`
  if (event.kind === "pull")
    return `containers: none started within ${formatDuration(pullWaitLimitMs)} on its node, its image still being pulled (${event.words})`
  if (event.kind === "unread")
    return `containers: none started within ${formatDuration(pullWaitLimitMs)} on its node; its Events could not be read (${event.words}): those of oc describe pod ${name} say why`
  return `containers: none started within ${formatDuration(mountWaitLimitMs)} on its node (${event.words})`
}

/** Whether the pod has started no container for `mountWaitLimitMs` on its node (none stuck): its Events say why. */
export const startEventsWanted = (pod: PodStartView, now: number): boolean =>
  pod.stuck === undefined && pod.mountWaitSince !== undefined && now >= pod.mountWaitSince + mountWaitLimitMs

/** Whether its Events show its image being pulled while it is within the limit of a pull (no longer a mount wait's). */
export const pullingOf = (pod: PodStartView, now: number): string | undefined =>
  pod.stuck === undefined && pod.startEvent?.kind === "pull" && notStartingOf(pod, now) === undefined ? pod.startEvent.words : undefined

/** Why the pod cannot start at `now`, if it cannot. */
export const notStartingOf = (pod: PodStartView, now: number): string | undefined =>
  pod.stuck ?? (pod.mountWaitSince !== undefined && now >= pod.mountWaitSince + startLimitOf(pod) ? startWaitWords(pod.name, pod.startEvent) : undefined)

/** When the pod will count as not starting if nothing changes, when that is after `now` (a time to look again at). */
export const notStartingFrom = (pod: PodStartView, now: number): number | undefined => {
  if (pod.stuck !== undefined || pod.mountWaitSince === undefined) return undefined
  const at = pod.mountWaitSince + startLimitOf(pod)
  if (at <= now) return undefined
  return pod.startEvent?.kind === "unread" ? Math.min(at, now + unreadEventsRetryMs) : at
}
