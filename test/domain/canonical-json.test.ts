import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { canonicalize, canonicalJson } from "../../src/domain/canonical-json.ts"

/** Shuffles object keys recursively (same data, another insertion order). */
const shuffled = (value: unknown, seed: number): unknown => {
  if (Array.isArray(value)) return value.map((v) => shuffled(v, seed))
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
    const rotated = entries.map((_, i) => entries[(i + seed) % entries.length]!)
    return Object.fromEntries(rotated.reverse().map(([k, v]) => [k, shuffled(v, seed + 1)]))
  }
  return value
}

describe("canonical JSON", () => {
  it("orders named keys first, then the rest by code unit; drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { z: 1, y: undefined, x: [{ d: 1, c: 2 }] }, first: true }, ["first"])).toBe(
      '{\n  "first": true,\n  "a": {\n    "x": [\n      {\n        "c": 2,\n        "d": 1\n      }\n    ],\n    "z": 1\n  },\n  "b": 1\n}\n',
    )
  })

  test.prop([fc.jsonValue(), fc.nat(10)], { numRuns: 300 })("same data in any key order gives the same bytes", (value, seed) => {
    expect(canonicalJson(shuffled(value, seed))).toBe(canonicalJson(value))
    expect(canonicalJson(shuffled(value, seed), ["b", "a"])).toBe(canonicalJson(value, ["b", "a"]))
  })

  test.prop([fc.jsonValue()], { numRuns: 300 })("the data is unchanged (only key order moves)", (value) => {
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)))
    expect(JSON.parse(JSON.stringify(canonicalize(value)))).toEqual(JSON.parse(JSON.stringify(value)))
  })
})
