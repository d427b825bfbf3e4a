import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { defaultSyncBackoff, syncBackoffProblem } from "../../src/domain/sync-backoff.ts"

describe("syncBackoffProblem", () => {
  test.prop([fc.integer({ min: 10, max: 86_400_000 }), fc.integer({ min: 10, max: 86_400_000 })])(
    "a maximum at least the first delay is fine; below it is a problem naming the first delay",
    (minBackoffMs, maxBackoffMs) => {
      const problem = syncBackoffProblem({ minBackoffMs, maxBackoffMs })
      if (maxBackoffMs >= minBackoffMs) expect(problem).toBeUndefined()
      else expect(problem).toMatch(/^must be at least --backoff-initial \(\S+\)$/)
    },
  )
  test("the defaults are the operator's 1 s to 60 s", () => {
    expect(defaultSyncBackoff).toEqual({ minBackoffMs: 1000, maxBackoffMs: 60_000 })
    expect(syncBackoffProblem(defaultSyncBackoff)).toBeUndefined()
  })
})
