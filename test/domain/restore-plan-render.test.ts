import { spawnSync } from "node:child_process"
import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { shellQuote } from "../../src/domain/restore-plan-render.ts"

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
