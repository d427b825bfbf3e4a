import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { shortList } from "../../src/domain/short-list.ts"

const itemArb = fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes(","))

describe("shortList", () => {
  test.prop([fc.array(itemArb, { maxLength: 12 }), fc.integer({ min: 1, max: 6 })])(
    "every item when at most max, else the first max in order and the count of the rest",
    (items, max) => {
      const text = shortList(items, max)
      if (items.length <= max) {
        expect(text).toBe(items.join(", "))
      } else {
        expect(text).toBe(`${items.slice(0, max).join(", ")} and ${items.length - max} more`)
        expect(text.startsWith(items[0] ?? "")).toBe(true)
      }
    },
  )
})
