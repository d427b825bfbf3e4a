/**
 * A watch that survives its connections: one mechanism for the live and the simulated cluster.
 *
 * It starts with a list (emitted as a `SYNC` event carrying the full current state) unless given
 * a resourceVersion, then watches from the newest resourceVersion it has seen. A connection that
 * ends or breaks is reopened from that resourceVersion, so no change is lost or repeated. When the
 * server no longer has that history (410 Expired) it lists again and emits a new `SYNC`: the
 * consumer replaces what it knew. Connection failures are retried within the retry budget
 * (counted per run of consecutive failures); any other error ends the stream.
 */
import { Clock, Effect, Queue, Random, Result, Stream } from "effect"
import type { KubeError } from "./errors.ts"
import { backoffMillis, isRetryable, pauseMillis, retryDelayMillis, type RetryPolicy } from "./retry.ts"

export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  | { readonly type: "SYNC"; readonly objects: ReadonlyArray<T>; readonly resourceVersion: string }

export interface ObjectList<T> {
  readonly items: ReadonlyArray<T>
  /** The list's resourceVersion: watching from it delivers every later change. */
  readonly resourceVersion: string
}

/** A decoded watch line: a change with its resourceVersion, or a bookmark (resourceVersion only). */
export type ConnectionEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T; readonly resourceVersion: string }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface ResilientWatchOptions<T> {
  /** The current state and its resourceVersion (retries already applied). */
  readonly list: Effect.Effect<ObjectList<T>, KubeError>
  /** One watch connection delivering the changes after `resourceVersion`. */
  readonly connect: (resourceVersion: string) => Stream.Stream<ConnectionEvent<T>, KubeError>
  /** Watch from here without an initial list/SYNC. */
  readonly resourceVersion?: string
  readonly retry: RetryPolicy
  /** A connection shorter than this that delivered nothing counts toward the reconnect backoff. */
  readonly minHealthyConnectionMillis?: number
}

export const resilientWatch = <T>(options: ResilientWatchOptions<T>): Stream.Stream<WatchEvent<T>, KubeError> =>
  Stream.callback<WatchEvent<T>, KubeError>((queue) =>
    Effect.gen(function* () {
      const minHealthy = options.minHealthyConnectionMillis ?? 1000
      let resourceVersion = options.resourceVersion ?? ""
      const relist = Effect.gen(function* () {
        const list = yield* options.list
        yield* Queue.offer(queue, { type: "SYNC", objects: list.items, resourceVersion: list.resourceVersion })
        resourceVersion = list.resourceVersion
      })
      const pause = (attempt: number, error?: KubeError) =>
        Effect.flatMap(Random.next, (unit) =>
          pauseMillis(
            error === undefined
              ? backoffMillis(options.retry, attempt, unit)
              : retryDelayMillis(options.retry, attempt, error, unit),
          ),
        )

      if (options.resourceVersion === undefined) yield* relist
      // Consecutive connections that failed, or ended quickly having delivered nothing.
      let unhealthy = 0
      while (true) {
        const startedAt = yield* Clock.currentTimeMillis
        let active = false
        const outcome = yield* Effect.result(
          Stream.runForEach(options.connect(resourceVersion), (event) => {
            resourceVersion = event.resourceVersion
            active = true
            return event.type === "BOOKMARK" ? Effect.void : Queue.offer(queue, { type: event.type, object: event.object })
          }),
        )
        const healthy = active || (yield* Clock.currentTimeMillis) - startedAt >= minHealthy
        if (healthy) unhealthy = 0
        if (Result.isSuccess(outcome)) {
          if (!healthy) {
            unhealthy++
            // A server that keeps closing at once: back off, but a clean close is never fatal.
            yield* pause(Math.min(unhealthy, 16))
          }
          continue
        }
        const error = outcome.failure
        if (error._tag === "Expired") {
          yield* relist
          unhealthy = 0
          continue
        }
        if (!isRetryable(error, "watch")) return yield* Effect.fail(error)
        unhealthy++
        if (unhealthy > options.retry.maxRetries) return yield* Effect.fail(error)
        yield* pause(unhealthy, error)
      }
    }),
  )
