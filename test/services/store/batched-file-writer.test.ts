import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fc, it } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { batchedFileWriter } from "../../../src/services/store/batched-file-writer.ts"
import { tempDir } from "../../support/temp-dir.ts"

const dir = tempDir("batched-writer")

describe("batchedFileWriter", () => {
  it.prop([fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat({ max: 5000 }), { maxLength: 12 }), fc.integer({ min: 1, max: 700 }), fc.nat({ max: 300 })])(
    "whatever the chunks and the buffer's size: the bytes land at their position, nothing else changes",
    (bytes, cuts, bufferBytes, position) => {
      const path = join(dir, "f")
      const before = new Uint8Array(position + bytes.length + 50).fill(7)
      writeFileSync(path, before)
      const fd = openSync(path, "r+")
      try {
        const writer = batchedFileWriter(fd, position, new Uint8Array(bufferBytes))
        const at = [...new Set(cuts.filter((c) => c < bytes.length))].sort((a, b) => a - b)
        for (const [i, from] of [0, ...at].entries()) writer.push(bytes.subarray(from, at[i] ?? bytes.length))
        expect(writer.end()).toBe(bytes.length)
      } finally {
        closeSync(fd)
      }
      const expected = Buffer.from(before)
      expected.set(bytes, position)
      expect(readFileSync(path)).toEqual(expected)
    },
  )

  it("a write that fails throws the system's error (its errno), for the caller to name the file", () => {
    const path = join(dir, "read-only")
    writeFileSync(path, "")
    const fd = openSync(path, "r")
    try {
      const writer = batchedFileWriter(fd, 0, new Uint8Array(4))
      expect(() => writer.push(new Uint8Array(10))).toThrow(expect.objectContaining({ code: "EBADF" }))
    } finally {
      closeSync(fd)
    }
  })
})
