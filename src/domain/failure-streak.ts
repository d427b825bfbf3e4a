/**
 * A run of failures of a repeating task (the operator's syncs, its election rounds), so an outage is said once: the
 * first failure loudly, the same failure again quietly, a different one loudly again, and the first success after
 * them once, with how many failed and since when.
 */

import { formatDuration } from "./durations.ts"

export interface FailureStreak {
  /** When the first failure of the run happened (epoch milliseconds). */
  readonly since: number
  readonly count: number
  /** The last failure's words: a repeat of them is not news. */
  readonly message: string
}

export interface FailureNoted {
  readonly streak: FailureStreak
  /** Whether this failure is news: the first of the run, or not the same as the one before it. */
  readonly loud: boolean
}

export const noteFailure = (streak: FailureStreak | undefined, message: string, now: number): FailureNoted => ({
  streak: { since: streak?.since ?? now, count: (streak?.count ?? 0) + 1, message },
  loud: streak?.message !== message,
})

/** The run, as said when it ends: `3 failed syncs over 1m`. */
export const describeStreak = (streak: FailureStreak, noun: string, now: number): string =>
  `${streak.count} failed ${noun}${streak.count === 1 ? "" : "s"} over ${formatDuration(Math.max(0, now - streak.since))}`
