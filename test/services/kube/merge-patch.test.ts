import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { applyMergePatch, createMergePatch, jsonEqual } from "../../../src/services/kube/merge-patch.ts"

// RFC 7386, Appendix A: target, patch, result.
const rfcExamples: ReadonlyArray<readonly [unknown, unknown, unknown]> = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [
    ["a", "b"],
    ["c", "d"],
    ["c", "d"],
  ],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
]

// JSON without nulls: a merge patch cannot set a value to null, so diffs are exact only there.
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "c", "d"), tie("value"), { maxKeys: 4 }),
  ),
})).value

describe("JSON merge patch (RFC 7386)", () => {
  it.each(rfcExamples.map(([t, p, r], i) => [i, t, p, r] as const))("appendix A example %i", (_, target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result)
  })

  test.prop([json, json])("applying a patch twice is the same as once", (target, patch) => {
    const once = applyMergePatch(target, patch)
    expect(applyMergePatch(once, patch)).toEqual(once)
  })

  test.prop([json, json])("createMergePatch(a, b) applied to a gives b, and nothing for equal values", (a, b) => {
    const patch = createMergePatch(a, b)
    expect(jsonEqual(patch === undefined ? a : applyMergePatch(a, patch), b)).toBe(true)
    expect(createMergePatch(b, b)).toBeUndefined()
  })

  test.prop([json, json])("inputs are never modified", (target, patch) => {
    const before = structuredClone([target, patch])
    applyMergePatch(target, patch)
    expect([target, patch]).toEqual(before)
  })
})
