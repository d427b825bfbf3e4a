/**
 * A watch that survives its connections and outages: one mechanism for the live and the
 * simulated cluster.
 *
 * It starts with a list (emitted as a `SYNC` event carrying the full current state) unless given
 * a resourceVersion, then watches from the newest resourceVersion it has seen. A connection that
 * ends or breaks is reopened from that resourceVersion, so no change is lost or repeated. When the
 * server no longer has that history (410 Expired) it lists again and emits a new `SYNC`: the
 * consumer replaces what it knew. It lists again too when the server answers that it has not reached that
 * resourceVersion (504 "Too large resource version", as after etcd was restored without a revision bump).
 *
 * It never gives up: a watch the controller depends on must come back by itself once the API
 * server (or RBAC) is fixed. Consecutive failures (a failed list, a connection refused, a
 * Forbidden, a connection that closed at once having delivered nothing) wait out an exponential,
 * jittered, capped backoff (`watchBackoffSchedule`); a success (a list, a connection that
 * delivered events or stayed open) resets it. The stream reports the change of state, not each
 * attempt: one `FAILING` event when failures start, one `RESTORED` when it works again.
 */
import { Clock, Duration, Effect, Fiber, Queue, Result, Schedule, Stream } from "effect"
import type { KubeError } from "./errors.ts"

export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  | { readonly type: "SYNC"; readonly objects: ReadonlyArray<T>; readonly resourceVersion: string }
  /** The watch stopped working (the first failure after a success); it keeps retrying with backoff. */
  | { readonly type: "FAILING"; readonly error: KubeError }
  /** The watch works again after `FAILING` (changes made meanwhile arrive as events or a `SYNC`). */
  | { readonly type: "RESTORED" }

export interface ObjectList<T> {
  readonly items: ReadonlyArray<T>
  /** The list's resourceVersion: watching from it delivers every later change. */
  readonly resourceVersion: string
}

/** A decoded watch line: a change with its resourceVersion, or a bookmark (resourceVersion only). */
export type ConnectionEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T; readonly resourceVersion: string }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

/** The backoff between consecutive failed attempts. */
export interface WatchBackoff {
  /** The first delay; each further failure doubles it. */
  readonly baseMillis: number
  /** No delay is longer than this. */
  readonly maxMillis: number
}

/** client-go's reflector backs off from 800 ms to 30 s; this starts at 1 s. */
export const defaultWatchBackoff: WatchBackoff = { baseMillis: 1000, maxMillis: 30_000 }

/** `base * 2^n`, each delay jittered by ±20 %, never above `maxMillis`; recurs forever. */
export const watchBackoffSchedule = (backoff: WatchBackoff): Schedule.Schedule<Duration.Duration> =>
  Schedule.min([Schedule.exponential(Duration.millis(backoff.baseMillis), 2).pipe(Schedule.jittered), Schedule.spaced(Duration.millis(backoff.maxMillis))])

export interface ResilientWatchOptions<T> {
  /** The current state and its resourceVersion (one request: the watch backs off by itself). */
  readonly list: Effect.Effect<ObjectList<T>, KubeError>
  /** One watch connection delivering the changes after `resourceVersion`. */
  readonly connect: (resourceVersion: string) => Stream.Stream<ConnectionEvent<T>, KubeError>
  /** Watch from here without an initial list/SYNC. */
  readonly resourceVersion?: string
  /** Default `defaultWatchBackoff`. */
  readonly backoff?: WatchBackoff
  /** A connection open this long counts as working even if it delivered nothing. Default 1 s. */
  readonly minHealthyConnectionMillis?: number
}

/** The API server answered 504 (not a client-side deadline). */
const isServerTimeout = (error: KubeError): boolean => error._tag === "Timeout" && error.code === 504

/** A connection that ended cleanly at once, having delivered nothing: not an error, but not working either. */
class ClosedAtOnce {
  readonly _tag = "ClosedAtOnce"
}

export const resilientWatch = <T>(options: ResilientWatchOptions<T>): Stream.Stream<WatchEvent<T>, never> =>
  Stream.callback<WatchEvent<T>, never>((queue) =>
    Effect.gen(function* () {
      const minHealthy = options.minHealthyConnectionMillis ?? 1000
      const schedule = watchBackoffSchedule(options.backoff ?? defaultWatchBackoff)
      let resourceVersion = options.resourceVersion ?? ""
      let needList = options.resourceVersion === undefined
      let failing = false
      // Listed, and no connection has delivered anything since.
      let freshList = false

      const working = Effect.suspend(() => {
        if (!failing) return Effect.void
        failing = false
        return Queue.offer(queue, { type: "RESTORED" }).pipe(Effect.asVoid)
      })
      const failed = (error: KubeError | ClosedAtOnce) =>
        Effect.suspend(() => {
          if (failing || error._tag === "ClosedAtOnce") return Effect.void
          failing = true
          return Queue.offer(queue, { type: "FAILING", error }).pipe(Effect.asVoid)
        })

      const list = Effect.gen(function* () {
        const listed = yield* options.list
        yield* working
        yield* Queue.offer(queue, { type: "SYNC", objects: listed.items, resourceVersion: listed.resourceVersion })
        resourceVersion = listed.resourceVersion
        needList = false
        freshList = true
      })

      // One connection. Succeeds when it worked (delivered events or stayed open), however it ended.
      const connection = Effect.gen(function* () {
        const startedAt = yield* Clock.currentTimeMillis
        let delivered = false
        const openLongEnough = yield* Effect.forkChild(Effect.sleep(Duration.millis(minHealthy)).pipe(Effect.andThen(working)))
        const outcome = yield* Effect.result(
          Stream.runForEach(options.connect(resourceVersion), (event) => {
            resourceVersion = event.resourceVersion
            delivered = true
            freshList = false
            return Effect.andThen(working, event.type === "BOOKMARK" ? Effect.void : Queue.offer(queue, { type: event.type, object: event.object }))
          }),
        )
        yield* Fiber.interrupt(openLongEnough)
        const healthy = delivered || (yield* Clock.currentTimeMillis) - startedAt >= minHealthy
        if (Result.isSuccess(outcome)) {
          if (!healthy) return yield* Effect.fail(new ClosedAtOnce())
          return
        }
        if (outcome.failure._tag === "Expired") {
          // The history is gone: list again, at once unless the list just made is already too old.
          needList = true
          if (freshList && !delivered) return yield* Effect.fail(outcome.failure)
          return
        }
        // A connection that worked and then broke is reopened at once; one that never worked backs off.
        if (!healthy) {
          // 504 on opening a watch (a long-running request, never cut by the server's request timeout): the server has not
          // reached this resourceVersion ("Too large resource version": etcd restored without a revision bump, or a lagging
          // cache). Resuming from it again may never work: list again, as client-go's reflector does.
          if (isServerTimeout(outcome.failure)) needList = true
          return yield* Effect.fail(outcome.failure)
        }
      })

      const attempt = Effect.suspend((): Effect.Effect<void, KubeError | ClosedAtOnce> => (needList ? list : Effect.asVoid(connection))).pipe(
        Effect.tapError(failed),
      )
      // `retry` starts the schedule afresh each time it is entered: every success resets the backoff.
      // The schedule recurs forever, so no failure ever gets past it.
      // No yield between attempts: a connection follows its list at once, as the server expects.
      return yield* Effect.retry(attempt, schedule).pipe(Effect.forever({ disableYield: true }), Effect.orDie)
    }),
  )
