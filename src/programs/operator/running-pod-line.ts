/**
 * One line for a person of where a backup pod that still runs stands, as backup-pod and backup-now print it: why it
 * cannot start, its image still being pulled, starting on its node, not scheduled yet, or the init container it is at.
 */
import { Effect } from "effect"
import type { BackupPodView } from "../../domain/backup-pod-outcome.ts"
import { notStartingOf, pullingOf } from "../../domain/backup-pod-start.ts"
import type { KubeService } from "../../services/kube/kube.ts"
import type { Pod } from "../../services/kube/schemas.ts"
import { stepOf, waitingOf, withStartEvent } from "./pod-waits.ts"
import { podView } from "./reconcile.ts"

export const runningPodLine = (pod: Pod, view: BackupPodView, now: number): string => {
  const name = pod.metadata.name
  const stuck = notStartingOf(view, now)
  if (stuck !== undefined) return `pod ${name} cannot start: ${stuck}`
  const pulling = pullingOf(view, now)
  if (pulling !== undefined) return `pod ${name} is starting, its image still being pulled (${pulling})`
  if (view.mountWaitSince !== undefined) return `pod ${name} is starting on its node (mounting its volumes, pulling its image)`
  const waiting = waitingOf(pod)
  if (waiting !== undefined) return `pod ${name} is not scheduled yet: ${waiting}`
  const step = stepOf(pod)
  return step === undefined ? `pod ${name} is taking the backup` : `pod ${name} is taking the backup: ${step}`
}

/** The pod's line at `now`, its Events read when they tell why it has not started (and can be read). */
export const readRunningPodLine =
  (kube: KubeService, namespace: string, now: number) =>
  (pod: Pod): Effect.Effect<string> =>
    withStartEvent(kube, namespace, now)(podView(pod)).pipe(Effect.map((view) => runningPodLine(pod, view, now)))
