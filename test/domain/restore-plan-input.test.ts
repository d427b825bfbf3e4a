import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeStandDownInput } from "../../src/domain/restore-plan-input.ts"

const good = { root: "/host", standDownId: "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71", existing: [] }

describe("restore and stand-down inputs", () => {
  it("property: a root is accepted exactly when it is a normalized absolute path", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[/a-z.]{0,12}$/), (root) => {
        const segments = root.split("/").slice(1)
        const normal = root === "/" || (root.startsWith("/") && segments.every((p) => p !== "" && p !== "." && p !== ".."))
        root.startsWith("/") && root.split("/").every((p, i, all) => (p !== "." && p !== ".." && p !== "") || i === 0 || (root === "/" && i === all.length - 1))
        expect(Result.isSuccess(decodeStandDownInput({ ...good, root }))).toBe(normal)
      }),
    )
  })

  it("refuses a run id that is not a lower-case UUID, naming the field", () => {
    for (const standDownId of ["x", "0B2F6C1E-7D4A-4C1B-9A53-2F0E8D6C4B71", ""]) {
      const bad = decodeStandDownInput({ ...good, standDownId })
      expect(Result.isFailure(bad)).toBe(true)
      expect(Result.isFailure(bad) ? bad.failure.message : "").toContain("standDownId")
    }
    expect(Result.isSuccess(decodeStandDownInput(good))).toBe(true)
  })
})
