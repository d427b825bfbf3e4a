import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { definedFields } from "../../src/simulation/defined-fields.ts"

describe("definedFields", () => {
  it("keeps every field that is not undefined, in order, with its value, and no other", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.option(fc.jsonValue(), { nil: undefined })), (fields) => {
        const kept = definedFields(fields)
        const expected = Object.entries(fields).filter(([, value]) => value !== undefined)
        expect(Object.entries(kept)).toEqual(expected)
        expect(Object.values(kept)).not.toContain(undefined)
      }),
    )
  })
})
