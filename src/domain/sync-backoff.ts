/**
 * The operator's failure backoff: after a failed sync (or a stale status) the next try waits the first delay,
 * doubling (jittered) up to the maximum; a sync without failure starts it over.
 */
import { formatDuration } from "./durations.ts"

export interface SyncBackoff {
  readonly minBackoffMs: number
  readonly maxBackoffMs: number
}

export const defaultSyncBackoff: SyncBackoff = { minBackoffMs: 1000, maxBackoffMs: 60_000 }

/** Why the two delays do not fit together (a maximum below the first delay), or undefined. */
export const syncBackoffProblem = (b: SyncBackoff): string | undefined =>
  b.maxBackoffMs < b.minBackoffMs ? `must be at least --backoff-initial (${formatDuration(b.minBackoffMs)})` : undefined
