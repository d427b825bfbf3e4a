/**
 * Whether a backup pod still going cannot start. A container the kubelet cannot start (ImagePullBackOff, a Secret an
 * env var names missing) says so in the pod's status at once. A volume the kubelet cannot mount (a Secret or ConfigMap
 * missing) says so only in the pod's Events (FailedMount) and waits for ever, so a pod on a node that has started no
 * container for `mountWaitLimitMs` counts as not starting too.
 */
import { formatDuration } from "./durations.ts"

/** How long a pod on a node may start no container before it counts as not starting (a slow image pull stays below it). */
export const mountWaitLimitMs = 120_000

/** What the answer needs of a pod (`BackupPodView` has these). */
export interface PodStartView {
  readonly name: string
  /** The kubelet's words while one of its containers cannot be started (`container <name>: <reason>: <message>`). */
  readonly stuck?: string | undefined
  /** Since when a kubelet has held the pod while it started no container: undefined once one did. */
  readonly mountWaitSince?: number | undefined
  /** The newest words of its Events on a volume that cannot be mounted (`mountTroubleIn`), when they were read. */
  readonly mountTrouble?: string | undefined
}

/** An Event about the pod, as far as the answer reads it. */
export interface PodEventView {
  readonly reason: string | undefined
  readonly message: string | undefined
  /** Its last time (lastTimestamp, else eventTime, else its creation). */
  readonly at: number | undefined
}

/** The reasons of the Events a kubelet (and the attach/detach controller) records for a volume it cannot mount or attach. */
const mountTroubleReasons: ReadonlySet<string> = new Set(["FailedMount", "FailedAttachVolume"])

/** The newest such Event's words (`FailedMount: MountVolume.SetUp failed for volume "x" : secret "y" not found`), if any. */
export const mountTroubleIn = (events: ReadonlyArray<PodEventView>): string | undefined => {
  const newest = events
    .filter((e) => e.reason !== undefined && mountTroubleReasons.has(e.reason) && e.message !== undefined && e.message.trim() !== "")
    .reduce<PodEventView | undefined>((best, e) => (best === undefined || (e.at ?? 0) >= (best.at ?? 0) ? e : best), undefined)
  return newest === undefined ? undefined : `${newest.reason}: ${newest.message!.trim()}`
}

/** The words for a pod whose kubelet has started none of its containers within the limit, with its Events' when read. */
export const mountWaitWords = (name: string, trouble?: string | undefined): string =>
  trouble === undefined
    ? `containers: none started within ${formatDuration(mountWaitLimitMs)} on its node, as when a volume it mounts cannot be (a Secret or ConfigMap missing) or an image is slow to pull; the Events of oc describe pod ${name} say which`
    : `containers: none started within ${formatDuration(mountWaitLimitMs)} on its node (${trouble})`

/** Whether the pod has waited the limit on its node without starting a container (none stuck): its Events say why. */
export const waitsToMount = (pod: PodStartView, now: number): boolean =>
  pod.stuck === undefined && pod.mountWaitSince !== undefined && now >= pod.mountWaitSince + mountWaitLimitMs

/** Why the pod cannot start at `now`, if it cannot. */
export const notStartingOf = (pod: PodStartView, now: number): string | undefined =>
  pod.stuck ?? (waitsToMount(pod, now) ? mountWaitWords(pod.name, pod.mountTrouble) : undefined)

/** When the pod will count as not starting if nothing changes, when that is after `now` (a time to look again at). */
export const notStartingFrom = (pod: PodStartView, now: number): number | undefined => {
  if (pod.stuck !== undefined || pod.mountWaitSince === undefined) return undefined
  const at = pod.mountWaitSince + mountWaitLimitMs
  return at > now ? at : undefined
}
