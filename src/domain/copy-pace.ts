/**
 * Whether a copy off a backup pod will still run when the pod's hold ends, after which the backup goes with the pod's
 * volume: the copy's end projected from its pace so far. Judged only once it has run `paceAfterMs` and moved
 * `paceAfterBytes`, so that a slow start (a connection warming up, a retry) is not taken for its pace.
 */
export const paceAfterMs = 20_000
export const paceAfterBytes = 16 * 1024 * 1024

export interface CopyPace {
  readonly startedAt: number
  readonly now: number
  readonly doneBytes: number
  readonly totalBytes: number
}

/** When the copy ends at its pace so far; undefined before it has one. */
export const projectedEnd = (pace: CopyPace): number | undefined => {
  const elapsed = pace.now - pace.startedAt
  if (elapsed < paceAfterMs || pace.doneBytes < paceAfterBytes) return undefined
  const remaining = Math.max(0, pace.totalBytes - pace.doneBytes)
  return pace.now + Math.ceil((remaining * elapsed) / pace.doneBytes)
}

/** The projected end when it comes after `holdEndsAt` (the copy will fail then); undefined while it comes before. */
export const endAfterHold = (pace: CopyPace, holdEndsAt: number): number | undefined => {
  const end = projectedEnd(pace)
  return end !== undefined && end > holdEndsAt ? end : undefined
}
