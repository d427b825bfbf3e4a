import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { treeFootprint } from "../../src/domain/tree-footprint.ts"

const segment = fc.constantFrom("a", "b", "c", "etcd-pod-3", "secrets", "configmaps", "tls.crt")
const file = fc.record({ path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/")), size: fc.nat(100_000) })
const tree = fc.uniqueArray(file, { selector: (f) => f.path, maxLength: 40 })

describe("treeFootprint", () => {
  it("counts whole blocks per file and one per directory, an inode each", () => {
    expect(treeFootprint([])).toEqual({ bytes: 0, inodes: 0 })
    expect(
      treeFootprint([
        { path: "a/b/f", size: 1 },
        { path: "a/g", size: 4097 },
        { path: "h", size: 0 },
      ]),
    ).toEqual({
      bytes: 4096 + 8192 + 0 + 2 * 4096,
      inodes: 3 + 2,
    })
  })

  test.prop([tree])("never less than the content, in whole blocks, at least an inode per file", (files) => {
    const f = treeFootprint(files)
    expect(f.bytes).toBeGreaterThanOrEqual(files.reduce((sum, x) => sum + x.size, 0))
    expect(f.bytes % 4096).toBe(0)
    expect(f.inodes).toBeGreaterThanOrEqual(files.length)
  })

  test.prop([tree, file])("adding a file never makes it smaller", (files, extra) => {
    fc.pre(!files.some((f) => f.path === extra.path))
    const before = treeFootprint(files)
    const after = treeFootprint([...files, extra])
    expect(after.bytes).toBeGreaterThanOrEqual(before.bytes)
    expect(after.inodes).toBeGreaterThan(before.inodes)
  })
})
