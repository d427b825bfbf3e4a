import { it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect } from "vitest"
import { unavailable } from "../../../src/services/store/memory-store.ts"
import { maxRetryDelayMs, retryTransient } from "../../../src/services/store/store-retry.ts"

/** A request that always fails with a retryable 503, retried as the store retries, forked; `attempts` counts its tries. */
const failingRequest = (retries: number) =>
  Effect.gen(function* () {
    let attempts = 0
    const failing = Effect.suspend(() => {
      attempts++
      return Effect.fail(unavailable("PUT", "k"))
    })
    const fiber = yield* Effect.forkChild(retryTransient({ retries, retryBaseMs: 250 })(failing))
    return { fiber, attempts: () => attempts }
  })

describe("the store's retries", () => {
  // Uncapped, 20 retries from 250 ms waited 36 hours before the last one.
  it.effect("20 retries of a transient failure wait no longer than 20 s each: all made within 20 x 20 s", () =>
    Effect.gen(function* () {
      const { fiber, attempts } = yield* failingRequest(20)
      yield* TestClock.adjust(20 * maxRetryDelayMs)
      expect(attempts()).toBe(21)
      expect((yield* Fiber.await(fiber))._tag).toBe("Failure")
    }),
  )

  it.effect("the first retries still back off from the base: 3 retries from 250 ms take no more than ~2 s", () =>
    Effect.gen(function* () {
      const { fiber, attempts } = yield* failingRequest(3)
      yield* TestClock.adjust(100)
      expect(attempts()).toBe(1)
      yield* TestClock.adjust(2_200)
      expect(attempts()).toBe(4)
      yield* Fiber.await(fiber)
    }),
  )
})
