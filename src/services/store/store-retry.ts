/**
 * The retry policy of store requests: transient failures only, exponential backoff with jitter, no wait longer than
 * `maxRetryDelayMs` (AWS's SDKs stop at 20 s). Uncapped, `--retries 20` from 250 ms waited 36 hours before its last try:
 * a deadline ended the upload long before, and a live upload could look idle for longer than prune takes for a dead one.
 */
import { Effect, Schedule } from "effect"
import { isRetryableStoreError, type StoreError } from "./store-errors.ts"

export interface RetryOptions {
  /** Retries of one request after its first attempt. */
  readonly retries: number
  /** The first retry's delay; doubles each time up to `maxRetryDelayMs`, jittered. */
  readonly retryBaseMs: number
}

export const maxRetryDelayMs = 20_000

export const retryTransient =
  (options: RetryOptions) =>
  <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, StoreError, R> =>
    effect.pipe(
      Effect.retry({
        schedule: Schedule.min([Schedule.exponential(options.retryBaseMs, 2).pipe(Schedule.jittered), Schedule.spaced(maxRetryDelayMs)]),
        times: options.retries,
        while: isRetryableStoreError,
      }),
    )
