import { fc, test } from "@fast-check/vitest"
import { it as effectIt } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Logger, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { clientSideError, errorFromStatus, StatusReason, type KubeError } from "../../../src/services/kube/errors.ts"
import { parseRetryAfter } from "../../../src/services/kube/live-transport.ts"
import { backoffMillis, defaultRetryPolicy, isRetryable, retryDelayMillis, retrySchedule, withRetry } from "../../../src/services/kube/retry.ts"
import { verbs } from "../../../src/services/kube/resources.ts"

const ref = { kind: "ConfigMap", namespace: "ns", name: "a" }
const status = (code: number, reason?: string, retryAfterSeconds?: number): KubeError =>
  errorFromStatus({ code, ...(reason === undefined ? {} : { reason }), ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) }, ref)

describe("error mapping", () => {
  it.each([
    [401, undefined, "Unauthorized"],
    [403, undefined, "Forbidden"],
    [404, undefined, "NotFound"],
    [409, "AlreadyExists", "AlreadyExists"],
    [409, "Conflict", "Conflict"],
    [410, "Expired", "Expired"],
    [400, "BadRequest", "Invalid"],
    [422, "Invalid", "Invalid"],
    [415, "UnsupportedMediaType", "Invalid"],
    [429, "TooManyRequests", "Unavailable"],
    [500, "InternalError", "Unavailable"],
    [500, "ServerTimeout", "Timeout"],
    [503, "ServiceUnavailable", "Unavailable"],
    [504, "Timeout", "Timeout"],
  ] as const)("HTTP %i %s is %s", (code, reason, tag) => {
    const error = status(code, reason)
    expect(error._tag).toBe(tag)
    if (error._tag !== "KubeResponseInvalid") {
      expect(error.code).toBe(code)
      expect(error.reason).toBe(reason ?? error.reason)
    }
    expect(error).toMatchObject({ kind: "ConfigMap", namespace: "ns", name: "a" })
  })

  it("keeps the API's message and reason, led by the resource asked for (the server's words may name none)", () => {
    const withMessage = errorFromStatus({ code: 404, reason: "NotFound", message: 'configmaps "a" not found' }, ref)
    expect(withMessage.message).toBe('ConfigMap ns/a: configmaps "a" not found')
    const unnamed = errorFromStatus({ code: 500, reason: "InternalError", message: "etcdserver: request timed out" }, ref)
    expect(unnamed.message).toBe("ConfigMap ns/a: etcdserver: request timed out")
    const bare = errorFromStatus({ code: 503 }, ref)
    expect(bare.message).toContain("ConfigMap ns/a")
    expect(bare.message).toContain("503")
    expect(bare).toMatchObject({ reason: "ServiceUnavailable" })
  })
})

describe("retry policy", () => {
  const refused = clientSideError(StatusReason.ConnectionRefused, "refused", ref)
  const reset = clientSideError(StatusReason.ConnectionFailed, "reset", ref)
  const timedOut = clientSideError(StatusReason.ClientTimeout, "slow", ref)

  it("retries 429, 5xx, connection failures and timeouts on idempotent verbs", () => {
    for (const verb of ["get", "list", "watch", "update", "patch", "delete"] as const) {
      for (const error of [status(429, "TooManyRequests"), status(500), status(503), status(504), refused, reset, timedOut]) {
        expect(isRetryable(error, verb), `${verb} ${error._tag} ${"reason" in error ? error.reason : ""}`).toBe(true)
      }
    }
  })

  it("retries a create only when the server certainly did not process it (429, connection refused)", () => {
    expect(isRetryable(status(429, "TooManyRequests"), "create")).toBe(true)
    expect(isRetryable(refused, "create")).toBe(true)
    for (const error of [status(500), status(503), status(504), reset, timedOut]) expect(isRetryable(error, "create")).toBe(false)
  })

  test.prop([fc.constantFrom(400, 401, 403, 404, 409, 410, 422), fc.constantFrom(...verbs)])("never retries other client errors", (code, verb) => {
    expect(isRetryable(status(code), verb)).toBe(false)
  })

  test.prop([fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })])(
    "backoff grows exponentially, is jittered down by at most the jitter fraction and never exceeds the cap",
    (attempt, unit) => {
      const delay = backoffMillis(defaultRetryPolicy, attempt, unit)
      const full = Math.min(defaultRetryPolicy.maxDelayMillis, defaultRetryPolicy.baseDelayMillis * 2 ** (attempt - 1))
      expect(delay).toBeLessThanOrEqual(full)
      expect(delay).toBeGreaterThanOrEqual(Math.floor(full * (1 - defaultRetryPolicy.jitter)))
    },
  )

  it("waits what Retry-After says, capped by the policy", () => {
    expect(retryDelayMillis(defaultRetryPolicy, 1, status(429, "TooManyRequests", 2), 0.5)).toBe(2000)
    expect(retryDelayMillis({ ...defaultRetryPolicy, maxDelayMillis: 500 }, 1, status(429, "TooManyRequests", 2), 0.5)).toBe(500)
  })

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3)
    expect(parseRetryAfter(undefined)).toBeUndefined()
    expect(parseRetryAfter("soon")).toBeUndefined()
    const now = Date.parse("2024-01-01T00:00:00Z")
    expect(parseRetryAfter("Mon, 01 Jan 2024 00:00:05 GMT", now)).toBe(5)
  })
})

describe("withRetry (a Schedule, under a TestClock)", () => {
  /** Fails with `errors` in turn, then succeeds; records when each attempt ran. */
  const flaky = (errors: ReadonlyArray<KubeError>) => {
    const at: Array<number> = []
    const effect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      at.push(now)
      const error = errors[at.length - 1]
      return error === undefined ? Effect.succeed("ok") : Effect.fail(error)
    })
    return { at, effect }
  }
  const policy = { maxRetries: 3, baseDelayMillis: 100, maxDelayMillis: 1000, jitter: 0 }

  effectIt.effect("retries a transient failure after base * 2^n, and honours Retry-After", () =>
    Effect.gen(function* () {
      const f = flaky([status(503), status(500), status(429, "TooManyRequests", 0.7)])
      const fiber = yield* Effect.forkChild(withRetry(policy, "get")(f.effect))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust(Duration.millis(50))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(f.at.map((t) => t - f.at[0]!)).toEqual([0, 100, 300, 1000])
    }),
  )

  effectIt.effect("gives up after maxRetries, and never retries a request that retrying cannot fix", () =>
    Effect.gen(function* () {
      const many = flaky([status(503), status(503), status(503), status(503), status(503)])
      const fiber = yield* Effect.forkChild(Effect.flip(withRetry(policy, "get")(many.effect)))
      for (let i = 0; i < 40; i++) yield* TestClock.adjust(Duration.millis(50))
      expect((yield* Fiber.join(fiber))._tag).toBe("Unavailable")
      expect(many.at).toHaveLength(4)
      const forbidden = flaky([status(403)])
      expect((yield* Effect.flip(withRetry(policy, "get")(forbidden.effect)))._tag).toBe("Forbidden")
      const create = flaky([status(503)])
      expect((yield* Effect.flip(withRetry(policy, "create")(create.effect)))._tag).toBe("Unavailable")
      expect(forbidden.at.length + create.at.length).toBe(2)
    }),
  )

  effectIt.effect("logs each retry as a warning with the failure it follows, how many are left and the wait; none for a failure not retried", () => {
    const lines: Array<string> = []
    return Effect.gen(function* () {
      const f = flaky([status(503), status(429, "TooManyRequests", 0.7)])
      const fiber = yield* Effect.forkChild(withRetry(policy, "get")(f.effect))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust(Duration.millis(50))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(lines).toEqual([
        expect.stringMatching(/^Warn ConfigMap ns\/a: .*; retry 1 of 3 in 100ms$/),
        expect.stringMatching(/^Warn ConfigMap ns\/a: .*; retry 2 of 3 in 700ms$/),
      ])
      lines.length = 0
      yield* Effect.flip(withRetry(policy, "get")(flaky([status(403)]).effect))
      yield* Effect.flip(withRetry(policy, "create")(flaky([status(503)]).effect))
      expect(lines).toEqual([])
    }).pipe(Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])))
  })

  effectIt.effect("as the controller retries a failed sync: any failure as input, its Retry-After when it carries one, no limit", () =>
    Effect.gen(function* () {
      const step = yield* Schedule.toStep(retrySchedule<unknown>({ ...policy, maxRetries: Number.POSITIVE_INFINITY }))
      const failures: ReadonlyArray<unknown> = [
        new Error("sync failed"),
        status(429, "TooManyRequests", 0.7),
        "anything",
        ...Array.from({ length: 30 }, () => undefined),
      ]
      const delays: Array<number> = []
      for (const failure of failures) delays.push(Duration.toMillis((yield* step(0, failure))[1]))
      expect(delays).toEqual([100, 700, 400, 800, ...Array.from({ length: 29 }, () => 1000)])
    }),
  )
})
