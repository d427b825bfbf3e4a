import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { defaultBlockBytes } from "../../src/domain/tree-footprint.ts"
import { allocatedBytes, bytesToCopy, contentBytes, type TreeEntry } from "../../src/domain/tree-measure.ts"

const entryArb: fc.Arbitrary<TreeEntry> = fc.record({
  kind: fc.constantFrom("File" as const, "Directory" as const, "Other" as const),
  size: fc.integer({ min: 0, max: 2 ** 40 }),
  blocks: fc.integer({ min: 0, max: 2 ** 31 }),
  identity: fc.option(fc.string(), { nil: undefined }),
})

describe("tree measures", () => {
  test.prop([entryArb])("allocated bytes are the 512-byte blocks, whatever the entry's length", (e) => {
    expect(allocatedBytes(e)).toBe(e.blocks * 512)
  })

  test.prop([entryArb])("a copy takes at least the allocated blocks, and a file's whole length in 4 KiB blocks (holes written out)", (e) => {
    const copied = bytesToCopy(e)
    expect(copied).toBeGreaterThanOrEqual(allocatedBytes(e))
    if (e.kind === "File") {
      expect(copied).toBeGreaterThanOrEqual(e.size)
      expect(copied - Math.max(e.size, allocatedBytes(e))).toBeLessThan(defaultBlockBytes)
    } else expect(copied).toBe(allocatedBytes(e))
  })

  test.prop([entryArb])("content is a file's length and nothing for a directory, a link or a device", (e) => {
    expect(contentBytes(e)).toBe(e.kind === "File" ? e.size : 0)
  })
})
