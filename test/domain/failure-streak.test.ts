import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { describeStreak, type FailureStreak, noteFailure } from "../../src/domain/failure-streak.ts"

describe("a run of failures", () => {
  test.prop([fc.array(fc.tuple(fc.constantFrom("refused", "timed out", "forbidden"), fc.nat({ max: 10_000 })), { minLength: 1, maxLength: 40 })])(
    "is loud at its first failure and at each change of failure, quiet at a repeat; it counts every failure from the first's instant",
    (failures) => {
      let streak: FailureStreak | undefined
      let at = 1_000
      const loud: Array<boolean> = []
      for (const [message, gap] of failures) {
        at += gap
        const noted = noteFailure(streak, message, at)
        streak = noted.streak
        loud.push(noted.loud)
      }
      expect(loud).toEqual(failures.map(([m], i) => i === 0 || failures[i - 1]![0] !== m))
      expect(streak).toEqual({ since: 1_000 + failures[0]![1], count: failures.length, message: failures.at(-1)![0] })
    },
  )

  it("is described by how many failed and for how long", () => {
    expect(describeStreak({ since: 0, count: 1, message: "x" }, "sync", 90_000)).toBe("1 failed sync over 1m30s")
    expect(describeStreak({ since: 0, count: 3, message: "x" }, "round", 2_000)).toBe("3 failed rounds over 2s")
  })
})
