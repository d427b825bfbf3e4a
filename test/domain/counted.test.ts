import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { counted } from "../../src/domain/counted.ts"

describe("counted", () => {
  it("uses the singular for exactly one and the plural for every other count", () => {
    fc.assert(
      fc.property(fc.nat(), fc.stringMatching(/^[a-z]{1,10}$/), (n, noun) => {
        expect(counted(n, noun)).toBe(n === 1 ? `1 ${noun}` : `${n} ${noun}s`)
      }),
    )
  })

  it("takes an irregular plural", () => {
    expect(counted(0, "entry", "entries")).toBe("0 entries")
    expect(counted(1, "entry", "entries")).toBe("1 entry")
    expect(counted(3, "directory", "directories")).toBe("3 directories")
  })
})
