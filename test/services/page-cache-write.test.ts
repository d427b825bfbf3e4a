import { closeSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { writeAllSync } from "../../src/services/page-cache-write.ts"
import { tempDir } from "../support/temp-dir.ts"

const dir = tempDir("page-cache-write")

describe("writeAllSync", () => {
  it("writes exactly the slice at its position, whatever its length against the 64 KiB calls", () => {
    fc.assert(
      fc.property(fc.nat(300_000), fc.nat(1000), fc.nat(200_000), (length, offset, position) => {
        const buffer = Buffer.alloc(offset + length)
        for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 31 + 7) & 0xff
        const path = join(dir, "out")
        const fd = openSync(path, "w")
        try {
          writeAllSync(fd, buffer, offset, length, position)
        } finally {
          closeSync(fd)
        }
        const file = readFileSync(path)
        expect(file.length).toBe(length === 0 ? 0 : position + length)
        if (length > 0) expect(file.subarray(position).equals(buffer.subarray(offset))).toBe(true)
      }),
      { numRuns: 40 },
    )
  })

  it("a write that fails throws its error (a closed descriptor: EBADF)", () => {
    const fd = openSync(join(dir, "closed"), "w")
    closeSync(fd)
    expect(() => writeAllSync(fd, Buffer.alloc(10), 0, 10, 0)).toThrow(expect.objectContaining({ code: "EBADF" }))
  })
})
