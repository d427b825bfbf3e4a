/**
 * Bounded retries of transient API failures, with exponential backoff, jitter and the server's
 * `Retry-After`.
 *
 * Transient: 429, 5xx, connection failures and timeouts. Never retried: any other 4xx (the
 * request itself is wrong, repeating it changes nothing), a server certificate that fails
 * verification, and decoding failures. A `create` is not
 * idempotent (a retried `generateName` create could make a second pod), so it is retried only
 * when the server certainly did not process it: 429 and a refused connection.
 */
import { Duration, Effect, Random, Schedule } from "effect"
import { warnEachRetry } from "../retry-warning.ts"
import { StatusReason, type KubeError } from "./errors.ts"
import type { Verb } from "./resources.ts"

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  readonly maxRetries: number
  /** Delay before the first retry; doubles on each further retry. */
  readonly baseDelayMillis: number
  /** Cap on any single delay, `Retry-After` included. */
  readonly maxDelayMillis: number
  /** Fraction of each backoff delay that is randomised (0 = none, 1 = full jitter). */
  readonly jitter: number
}

export const defaultRetryPolicy: RetryPolicy = { maxRetries: 5, baseDelayMillis: 200, maxDelayMillis: 30_000, jitter: 0.5 }
export const noRetries: RetryPolicy = { maxRetries: 0, baseDelayMillis: 0, maxDelayMillis: 0, jitter: 0 }
/**
 * The simulated cluster's default: the same budget as live, without waiting, so tests under a
 * TestClock never block and programs meet the faults that survive retrying, as they would live.
 */
export const immediateRetries: RetryPolicy = { maxRetries: 5, baseDelayMillis: 0, maxDelayMillis: 0, jitter: 0 }

const notProcessed = (error: KubeError): boolean =>
  error._tag === "Unavailable" && (error.reason === StatusReason.TooManyRequests || error.reason === StatusReason.ConnectionRefused)

/** Whether `error` from a `verb` request is worth repeating unchanged. */
export const isRetryable = (error: KubeError, verb: Verb): boolean => {
  if (error._tag !== "Unavailable" && error._tag !== "Timeout") return false
  if (error.reason === StatusReason.CertificateRejected) return false
  return verb === "create" ? notProcessed(error) : true
}

/** A failure that carries the server's Retry-After (a KubeError from a 429 or 503, or a failure wrapping one). */
const hasRetryAfter = (error: unknown): error is { readonly retryAfterSeconds: number } =>
  typeof error === "object" && error !== null && "retryAfterSeconds" in error && typeof error.retryAfterSeconds === "number"

/**
 * The delay before retry number `attempt` (1-based): the server's Retry-After when it sent one,
 * else base * 2^(attempt-1) with `jitter` of it randomised by `unit` (a draw from [0, 1)); capped
 * by `maxDelayMillis`.
 */
export const retryDelayMillis = (policy: RetryPolicy, attempt: number, error: unknown, unit: number): number =>
  hasRetryAfter(error) ? Math.min(policy.maxDelayMillis, Math.max(0, error.retryAfterSeconds * 1000)) : backoffMillis(policy, attempt, unit)

/** Exponential backoff with jitter for retry number `attempt` (1-based), capped. */
export const backoffMillis = (policy: RetryPolicy, attempt: number, unit: number): number => {
  const backoff = Math.min(policy.maxDelayMillis, policy.baseDelayMillis * 2 ** Math.min(attempt - 1, 30))
  return Math.round(backoff * (1 - policy.jitter * unit))
}

/**
 * The policy as a Schedule over the failures: at most `maxRetries` retries (Infinity: no limit),
 * each after `retryDelayMillis` for that failure (its Retry-After, else the jittered exponential
 * backoff). Kube requests retry with it, and so does the controller's failed sync.
 */
export const retrySchedule = <E = KubeError>(policy: RetryPolicy): Schedule.Schedule<number, E> =>
  Schedule.recurs(policy.maxRetries).pipe(
    Schedule.setInputType<E>(),
    Schedule.modifyDelay(({ input, attempt }) => Effect.map(Random.next, (unit) => Duration.millis(retryDelayMillis(policy, attempt, input, unit)))),
  )

/** Runs `effect`, repeating it on retryable failures within the policy's budget, each retry logged as a warning. */
export const withRetry =
  (policy: RetryPolicy, verb: Verb) =>
  <A, R>(effect: Effect.Effect<A, KubeError, R>): Effect.Effect<A, KubeError, R> =>
    Effect.retry(
      effect,
      retrySchedule<KubeError>(policy).pipe(
        Schedule.passthrough,
        Schedule.while(({ input }) => isRetryable(input, verb)),
        warnEachRetry(policy.maxRetries),
      ),
    )
