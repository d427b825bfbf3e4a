import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { keyOfPart, ownPartOf, removeParts } from "../../../src/services/store/directory-part.ts"

const nameArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,40}$/).filter((n) => !n.endsWith(".part"))

describe("a directory store's parts", () => {
  test.prop([nameArb])("each put's own part names its file, as the part an earlier version wrote does; no two puts share one", (name) => {
    const a = ownPartOf(`c/id/${name}`)
    expect(keyOfPart(a)).toBe(`c/id/${name}`)
    expect(keyOfPart(`c/id/${name}.part`)).toBe(`c/id/${name}`)
    expect(ownPartOf(`c/id/${name}`)).not.toBe(a)
  })

  it("removing a file's parts takes its own only: not another file's, not a directory named as one", () => {
    const dir = mkdtempSync(join(tmpdir(), "directory-part-"))
    const own = [ownPartOf(join(dir, "snap.db")), join(dir, "snap.db.part")]
    for (const p of [...own, join(dir, "snap.db"), join(dir, "snap.db.x.part"), ownPartOf(join(dir, "snap.dbx")), join(dir, "other.part")])
      writeFileSync(p, "x")
    mkdirSync(join(dir, `${ownPartOf("snap.db")}`))
    return removeParts(join(dir, "snap.db")).then(() => {
      const left = readdirSync(dir)
      expect(left.filter((n) => own.some((p) => p.endsWith(n)))).toEqual([])
      expect(left).toHaveLength(5)
      expect(left).toContain("snap.db")
      expect(left).toContain("snap.db.x.part")
      expect(left).toContain("other.part")
    })
  })
})
