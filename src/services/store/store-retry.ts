/**
 * The retry policy of store requests: transient failures only, exponential backoff with jitter, no wait longer than
 * `maxRetryDelayMs` (AWS's SDKs stop at 20 s). Uncapped, `--retries 20` from 250 ms waited 36 hours before its last try:
 * a deadline ended the upload long before, and a live upload could look idle for longer than prune takes for a dead one.
 * Each retry is logged as a warning (`warnEachRetry`).
 */
import { Effect, Schedule } from "effect"
import { warnEachRetry } from "../retry-warning.ts"
import { isRetryableStoreError, type StoreError } from "./store-errors.ts"

export interface RetryOptions {
  /** Retries of one request after its first attempt. */
  readonly retries: number
  /** The first retry's delay; doubles each time up to `maxRetryDelayMs`, jittered. */
  readonly retryBaseMs: number
}

export const maxRetryDelayMs = 20_000
/** The most `--retries` of a request. */
export const maxRetries = 20

const retryPolicy = (options: RetryOptions) =>
  Schedule.min([Schedule.exponential(options.retryBaseMs, 2).pipe(Schedule.jittered), Schedule.spaced(maxRetryDelayMs)]).pipe(
    Schedule.setInputType<StoreError>(),
    Schedule.passthrough,
    Schedule.while(({ input, attempt }) => attempt <= options.retries && isRetryableStoreError(input)),
    warnEachRetry(options.retries),
  )

export const retryTransient =
  (options: RetryOptions) =>
  <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, StoreError, R> =>
    effect.pipe(Effect.retry(retryPolicy(options)))
