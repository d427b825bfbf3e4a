import { it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect } from "vitest"
import { unavailable } from "../../../src/services/store/memory-store.ts"
import { StoreRequestFailed } from "../../../src/services/store/store-errors.ts"
import { multipartAbandonedAfterMs } from "../../../src/services/store/backup-store.ts"
import { maxRequestTimeoutMs } from "../../../src/services/store/open-store.ts"
import { maxRetries, maxRetryDelayMs, retryTransient } from "../../../src/services/store/store-retry.ts"

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

  it.effect("each retry is logged as a warning with the failure it follows and how many are left; a refusal is not retried and logs none", () => {
    const lines: Array<string> = []
    const refused = new StoreRequestFailed({
      store: "s3://b",
      operation: "GET",
      key: "k",
      status: 403,
      code: "AccessDenied",
      retryable: false,
      message: "GET k: AccessDenied",
    })
    return Effect.gen(function* () {
      const { fiber } = yield* failingRequest(3)
      yield* TestClock.adjust(3 * maxRetryDelayMs)
      expect((yield* Fiber.await(fiber))._tag).toBe("Failure")
      expect(lines).toHaveLength(3)
      lines.forEach((line, i) => {
        expect(line).toMatch(new RegExp(`^Warn PUT k: ServiceUnavailable \\(HTTP 503, injected\\); retry ${i + 1} of 3 in (\\d+ms|\\d+s)$`))
      })
      lines.length = 0
      const result = yield* Effect.exit(retryTransient({ retries: 3, retryBaseMs: 250 })(Effect.fail(refused)))
      expect(result._tag).toBe("Failure")
      expect(lines).toEqual([])
    }).pipe(Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])))
  })

  // Prune aborts a multipart upload with no part for multipartAbandonedAfterMs: a live one must never look so.
  it("a part's every try at the longest request timeout, with the most retries and waits, ends well within the time prune takes an upload for dead", () => {
    const longestPartMs = (maxRetries + 1) * maxRequestTimeoutMs + maxRetries * maxRetryDelayMs
    expect(longestPartMs).toBeLessThan(multipartAbandonedAfterMs - 15 * 60_000)
  })
})
