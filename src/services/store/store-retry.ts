/** The retry policy of store requests: transient failures only, exponential backoff with jitter. */
import { Effect, Schedule } from "effect"
import { isRetryableStoreError, type StoreError } from "./store-errors.ts"

export interface RetryOptions {
  /** Retries of one request after its first attempt. */
  readonly retries: number
  /** The first retry's delay; doubles each time, jittered. */
  readonly retryBaseMs: number
}

export const retryTransient =
  (options: RetryOptions) =>
  <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, StoreError, R> =>
    effect.pipe(
      Effect.retry({ schedule: Schedule.exponential(options.retryBaseMs, 2).pipe(Schedule.jittered), times: options.retries, while: isRetryableStoreError }),
    )
