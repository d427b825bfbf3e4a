import { posix } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { isWithin, pathInside } from "../../src/domain/path-inside.ts"

/** Plain names, dotted ones (`..x`, `.x`, `x..`) included; never `.` or `..` themselves. */
const nameArb = fc
  .tuple(fc.constantFrom("", ".", ".."), fc.stringMatching(/^[a-z0-9._-]{1,6}$/))
  .map(([dots, rest]) => dots + rest)
  .filter((n) => n !== "." && n !== "..")
const pathArb = fc.array(nameArb, { maxLength: 4 }).map((names) => posix.join("/", ...names))

describe("pathInside", () => {
  it("keeps names that only start with two dots, and refuses the parent's parent and siblings", () => {
    expect(pathInside("/host", "/host/..backups/b1")).toBe("..backups/b1")
    expect(pathInside("/host", "/host")).toBe("")
    expect(pathInside("/host", "/")).toBeUndefined()
    expect(pathInside("/host", "/hostile/b1")).toBeUndefined()
    expect(pathInside("/host/a", "/host/b")).toBeUndefined()
  })

  test.prop([pathArb, fc.array(nameArb, { maxLength: 4 })], { numRuns: 500 })(
    "whatever lies below the parent is inside, as the names joined",
    (parent, names) => {
      expect(pathInside(parent, posix.join(parent, ...names))).toBe(names.length === 0 ? "" : posix.join(...names))
    },
  )

  test.prop([pathArb, pathArb], { numRuns: 500 })("a path is inside exactly when the parent is one of its leading segments", (parent, child) => {
    const split = (p: string) => p.split("/").filter((s) => s !== "")
    const [ps, cs] = [split(parent), split(child)]
    const below = ps.length <= cs.length && ps.every((s, i) => cs[i] === s)
    expect(pathInside(parent, child) !== undefined).toBe(below)
    if (below) expect(posix.join(parent, pathInside(parent, child) ?? "")).toBe(posix.join(child))
  })

  test.prop([pathArb, pathArb], { numRuns: 500 })("isWithin agrees with pathInside on resolved paths", (dir, path) => {
    expect(isWithin(dir, path)).toBe(pathInside(dir, path) !== undefined)
  })

  it("isWithin compares whole segments", () => {
    expect(isWithin("/var/lib/etcd", "/var/lib/etcd-backup/x")).toBe(false)
    expect(isWithin("/var/lib/etcd", "/var/lib/etcd/member")).toBe(true)
    expect(isWithin("/", "/anything")).toBe(true)
  })
})
