/** The demo's failure and its wait for what the operator does asynchronously. */
import { Clock, Effect, Schema } from "effect"

export class DemoFailed extends Schema.TaggedError<DemoFailed>()("DemoFailed", {
  stage: Schema.String,
  message: Schema.String,
}) {}

/** Runs `check` every 50 ms until it yields a value (the operator works asynchronously). */
export const awaitEffect = <A, E, R>(stage: string, what: string, check: Effect.Effect<A | undefined, E, R>, timeoutMs = 30_000) =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    while (true) {
      const value = yield* check
      if (value !== undefined) return value
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* new DemoFailed({ stage, message: `timed out after ${timeoutMs} ms waiting for ${what}` })
      yield* Effect.sleep(50)
    }
  })

/** Polls `check` until it yields a value. */
export const awaitValue = <A>(stage: string, what: string, check: () => A | undefined, timeoutMs = 30_000) =>
  awaitEffect(stage, what, Effect.sync(check), timeoutMs)
