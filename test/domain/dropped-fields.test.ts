import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { droppedFields } from "../../src/domain/dropped-fields.ts"

/** A JSON object whose keys are distinct at each level, and the dotted path of every field in it. */
const objectArb = fc.letrec<{ node: Record<string, unknown> }>((tie) => ({
  node: fc.dictionary(
    fc.constantFrom("a", "b", "backup", "lastRequest", "x.y"),
    fc.oneof({ depthSize: "small" }, fc.integer(), fc.string(), fc.array(fc.integer(), { maxLength: 2 }), tie("node")),
    { maxKeys: 4 },
  ),
})).node

const paths = (value: unknown, at: ReadonlyArray<string> = []): ReadonlyArray<ReadonlyArray<string>> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => [[...at, k], ...paths(v, [...at, k])]) : []

const without = (value: Record<string, unknown>, path: ReadonlyArray<string>): Record<string, unknown> => {
  const [head, ...rest] = path
  if (head === undefined || !Object.hasOwn(value, head)) return value
  const { [head]: inner, ...others } = value
  return rest.length === 0 ? others : { ...others, [head]: without(inner as Record<string, unknown>, rest) }
}

describe("droppedFields", () => {
  test.prop([objectArb])("an object stored whole drops nothing", (object) => {
    expect(droppedFields(object, structuredClone(object))).toEqual([])
  })

  test.prop([objectArb.chain((o) => fc.tuple(fc.constant(o), fc.subarray([...paths(o)])))])(
    "names exactly the outermost fields pruned, each once, as dotted paths",
    ([object, pruned]) => {
      const stored = pruned.reduce(without, object)
      // A field pruned inside one pruned whole is not named again.
      const outermost = pruned.filter((p) => !pruned.some((q) => q.length < p.length && q.every((k, i) => p[i] === k)))
      expect([...droppedFields(object, stored)].sort()).toEqual([...new Set(outermost.map((p) => p.join(".")))].sort())
    },
  )

  it("names a nested field an older CRD prunes, and compares lists as values", () => {
    const written = { lastRequest: { id: "r1", pod: "p", backup: { id: "b" } }, conditions: [{ type: "Ready", extra: 1 }] }
    expect(droppedFields(written, { lastRequest: { id: "r1", pod: "p" }, conditions: [{ type: "Ready" }] })).toEqual(["lastRequest.backup"])
    expect(droppedFields(written, {})).toEqual(["conditions", "lastRequest"])
    // An optional field left undefined is not sent: nothing was dropped.
    expect(droppedFields({ lastSuccessfulBackup: { id: "b", location: undefined } }, { lastSuccessfulBackup: { id: "b" } })).toEqual([])
  })
})
