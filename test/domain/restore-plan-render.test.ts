import { spawnSync } from "node:child_process"
import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { overridableCheck, type RecordVerdict, shellQuote } from "../../src/domain/restore-plan-render.ts"

// Words as paths and flags hold them, and what a shell treats specially: quotes, $, `, \, globs, spaces, newlines.
const wordArb = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom("'", '"', "$", "`", "\\", "*", "?", "[", " ", "\n", "\t", ";", "&", "|", "~", "#", "=", "-"),
      fc.string({ minLength: 1, maxLength: 1, unit: "grapheme" }),
    ),
    maxLength: 16,
  })
  .filter((w) => !w.includes("\0"))

describe("shellQuote", () => {
  // A printed plan's command is run by a person pasting it: each word must reach the command as it is.
  test.prop([fc.array(wordArb, { minLength: 1, maxLength: 8 })], { numRuns: 60 })("a real sh reads back every word exactly, as one argument", (words) => {
    const run = spawnSync("sh", ["-c", `printf '%s\\0' ${words.map(shellQuote).join(" ")}`], { encoding: "utf8" })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.split("\0").slice(0, -1)).toEqual(words)
  })

  test.prop([wordArb])("a word is left bare only when no shell would change it", (word) => {
    if (shellQuote(word) === word) expect(word).toMatch(/^[-A-Za-z0-9_./=:@,+%]+$/)
  })
})

describe("overridableCheck", () => {
  const verdictArb: fc.Arbitrary<RecordVerdict> = fc.oneof(
    fc.record({ _tag: fc.constant("Clear" as const), detail: fc.string({ minLength: 1 }) }),
    fc.record({ _tag: fc.constant("Blocks" as const), finding: fc.string({ minLength: 1 }), consequence: fc.string({ minLength: 1 }) }),
  )

  it("property: unmet exactly when the record blocks and the flag is not given; a blocked check says the finding, what follows and the flag, an overridden one the finding and the flag", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), verdictArb, fc.boolean(), (what, verdict, overridden) => {
        const check = overridableCheck(what, verdict, "--even-so", overridden, "going on")
        expect(check.unmet !== undefined).toBe(verdict._tag === "Blocks" && !overridden)
        expect(check.what.startsWith(what)).toBe(true)
        if (verdict._tag === "Clear") expect(check.what).toBe(`${what} (${verdict.detail})`)
        else if (overridden) expect(check.what).toBe(`${what}: ${verdict.finding}; --even-so given, going on`)
        else expect(check.unmet).toBe(`${verdict.finding}. ${verdict.consequence}, pass --even-so`)
      }),
    )
  })
})
