import { Effect } from "effect"

/** Polls `check` (real time) until it holds; dies naming `what` after `ms`. */
export const until = (what: string, check: () => boolean, ms = 10_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out after ${ms} ms waiting for ${what}`))
      yield* Effect.sleep(5)
    }
  })
