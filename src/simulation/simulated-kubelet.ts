/**
 * The simulated kubelet's part: the status a pod ends with, built from the pod's own container
 * names, so tests and the demo can finish backup pods the way a node would report them.
 */
import { isJsonObject } from "../services/kube/merge-patch.ts"

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
