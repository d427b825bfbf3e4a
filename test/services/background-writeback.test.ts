/**
 * Background writeback (background-writeback.ts): on a real file, flushes run one at a time and
 * only after `every` more bytes; a flush's failure (a handle whose fdatasync fails, as a disk's
 * EIO would make it) is thrown by `settle`, since the final fsync would no longer report it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { type FileHandle, open } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { backgroundWriteback } from "../../src/services/background-writeback.ts"

const dir = mkdtempSync(join(tmpdir(), "writeback-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The real handle of a new file, its datasync counted and checked never to overlap another. */
const countedHandle = async (name: string) => {
  const handle = await open(join(dir, name), "w")
  const calls: Array<number> = []
  let running = 0
  let overlapped = false
  const datasync = handle.datasync.bind(handle)
  const counted = Object.assign(Object.create(handle) as FileHandle, {
    datasync: async () => {
      calls.push(Date.now())
      running++
      if (running > 1) overlapped = true
      try {
        await datasync()
      } finally {
        running--
      }
    },
  })
  return { handle, counted, calls, overlapped: () => overlapped }
}

describe("backgroundWriteback", () => {
  it("starts a flush once `every` more bytes were written, never two at a time, and settles", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1000, max: 4000 }),
        async (steps, every) => {
          const file = await countedHandle("counted")
          try {
            const writeback = backgroundWriteback(file.counted, every)
            let end = 0
            let lastFlushAt = 0
            let expectedMax = 0
            for (const step of steps) {
              await file.handle.write(Buffer.alloc(step, 1), 0, step, end)
              end += step
              const before = file.calls.length
              writeback.written(end)
              if (file.calls.length > before) {
                expect(end - lastFlushAt).toBeGreaterThanOrEqual(every)
                lastFlushAt = end
              }
              expectedMax = Math.floor(end / every)
              if (step % 3 === 0) await new Promise((r) => setTimeout(r, 1))
            }
            await writeback.settle()
            expect(file.overlapped()).toBe(false)
            expect(file.calls.length).toBeLessThanOrEqual(expectedMax)
            if (end >= every) expect(file.calls.length).toBeGreaterThan(0)
          } finally {
            await file.handle.close()
          }
        },
      ),
      { numRuns: 30 },
    )
  })

  it("a failed flush is thrown by settle, and no flush is started after it", async () => {
    const failure = Object.assign(new Error("input/output error"), { code: "EIO" })
    let calls = 0
    const failing = {
      datasync: async () => {
        calls++
        throw failure
      },
    } as unknown as FileHandle
    const writeback = backgroundWriteback(failing, 10)
    writeback.written(10)
    await expect(writeback.settle()).rejects.toBe(failure)
    writeback.written(100)
    expect(calls).toBe(1)
    await expect(writeback.settle()).rejects.toBe(failure)
  })
})
