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

export interface Polling {
  /** Gives up after this long (real time). */
  readonly ms?: number
  readonly everyMs?: number
}

/** Reads until `done` holds of the value read, or `ms` pass: the last value read either way, for an assertion to show. */
export const settled = async <A>(read: () => A | Promise<A>, done: (a: A) => boolean, { ms = 15_000, everyMs = 20 }: Polling = {}): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Polls `check` until it holds; rejects naming `what` after `ms`. */
export const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, polling: Polling = {}): Promise<void> => {
  if (!(await settled(check, (held) => held, polling))) throw new Error(`timed out after ${polling.ms ?? 15_000} ms waiting for ${what}`)
}
