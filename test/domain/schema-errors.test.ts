import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { firstKeyedProblem, formatKeyPath, keyedProblems } from "../../src/domain/schema-errors.ts"

const S = Schema.Struct({ a: Schema.Struct({ list: Schema.Array(Schema.Struct({ "b-c": Schema.Number })) }) })
const decode = Schema.decodeUnknownResult(S, { onExcessProperty: "error", errors: "all" })
const fail = (input: unknown) => {
  const r = decode(input)
  if (Result.isSuccess(r)) throw new Error("expected failure")
  return r.failure
}

describe("schema errors as keyed problems", () => {
  it("formats paths the way files spell them", () => {
    expect(formatKeyPath([])).toBe("")
    expect(formatKeyPath(["operands", "kube-apiserver", "configMaps", 2, "name"])).toBe("operands.kube-apiserver.configMaps[2].name")
    expect(formatKeyPath(["labels", "app.kubernetes.io/name"])).toBe('labels["app.kubernetes.io/name"]')
  })

  it("names the offending key, phrased to follow it", () => {
    expect(firstKeyedProblem(fail({ a: { list: [{ "b-c": "x" }] } }))).toEqual({ key: "a.list[0].b-c", message: "is invalid: Expected number" })
    expect(firstKeyedProblem(fail({ a: {} }))).toEqual({ key: "a.list", message: "is missing" })
    expect(firstKeyedProblem(fail({ a: { list: [], zz: 1 } }))).toEqual({ key: "a.zz", message: "is not a known key" })
    expect(keyedProblems(fail({ a: { list: [{ "b-c": "x" }, {}] } })).map((p) => p.key)).toEqual(["a.list[0].b-c", "a.list[1].b-c"])
  })

  test.prop([fc.array(fc.oneof(fc.nat(20), fc.string({ maxLength: 8 })), { maxLength: 6 })], { numRuns: 300 })("distinct paths format differently", (path) => {
    const other = [...path, "x"]
    expect(formatKeyPath(other)).not.toBe(formatKeyPath(path))
  })
})
