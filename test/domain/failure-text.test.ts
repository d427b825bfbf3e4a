import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { failureText } from "../../src/domain/failure-text.ts"

describe("failureText", () => {
  it("is an Error's message, a thrown string itself, and what anything else converts to", () => {
    expect(failureText(new Error("disk on fire"))).toBe("disk on fire")
    expect(failureText({ message: "a plain object with a message" })).toBe("a plain object with a message")
    expect(failureText("boom")).toBe("boom")
    expect(failureText(undefined)).toBe("undefined")
    expect(failureText(new Error(""))).toBe("Error")
  })

  it("says something for an object that cannot be converted to a string", () => {
    const bare = Object.assign(Object.create(null) as object, { errno: 5 })
    expect(failureText(bare)).toBe('{"errno":5}')
    const cyclic: Record<string, unknown> = Object.create(null) as Record<string, unknown>
    cyclic.self = cyclic
    expect(failureText(cyclic)).toBe("[object Object]")
  })

  it("never throws and is never empty for an Error with a message, whatever it is given", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true }), (failure) => {
        expect(typeof failureText(failure)).toBe("string")
      }),
    )
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (message) => {
        expect(failureText(new Error(message))).toBe(message)
      }),
    )
  })
})
