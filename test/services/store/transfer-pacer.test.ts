import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { makeTransferPacer, paced } from "../../../src/services/store/transfer-pacer.ts"

const KiB = 1024
const MiB = 1024 * KiB

describe("makeTransferPacer", () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  /** Whether `promise` has settled once the timers have run `ms` on. */
  const settledAfter = async (promise: Promise<unknown>, ms: number) => {
    let settled = false
    void promise.then(() => (settled = true))
    await vi.advanceTimersByTimeAsync(ms)
    return settled
  }

  it("lets a burst go at once, then holds each send until the rate allows it, callers queued in order", async () => {
    let now = 0
    const pacer = makeTransferPacer(MiB, () => now)
    // A tenth of a second's worth goes at once.
    const burst = Math.floor(MiB / 10)
    expect(pacer.chunkBytes).toBe(64 * KiB)
    expect(await settledAfter(pacer.take(burst), 0)).toBe(true)
    // Two more asked for at once: the first may start 250 ms on, the second 250 ms after it.
    const second = pacer.take(256 * KiB)
    const third = pacer.take(256 * KiB)
    expect(await settledAfter(second, 249)).toBe(false)
    expect(await settledAfter(second, 2)).toBe(true)
    now = 251
    expect(await settledAfter(third, 247)).toBe(false)
    expect(await settledAfter(third, 3)).toBe(true)
    // After a pause, a burst goes at once again.
    now = 10_000
    expect(await settledAfter(pacer.take(burst), 0)).toBe(true)
  })

  it("paced lets every chunk through, in order, each once the pacer gives its bytes", async () => {
    const pacer = makeTransferPacer(MiB, () => Date.now())
    async function* chunks() {
      for (let i = 0; i < 3; i++) yield new Uint8Array(512 * KiB).fill(i)
    }
    const seen: Array<number> = []
    const done = (async () => {
      for await (const chunk of paced(chunks(), pacer)) seen.push(chunk[0]!)
    })()
    await vi.advanceTimersByTimeAsync(0)
    // Each chunk is half a second's worth, all but a tenth of a second's of it waited for.
    expect(seen).toEqual([])
    await vi.advanceTimersByTimeAsync(399)
    expect(seen).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(seen).toEqual([0])
    await vi.advanceTimersByTimeAsync(499)
    expect(seen).toEqual([0])
    await vi.advanceTimersByTimeAsync(1)
    expect(seen).toEqual([0, 1])
    await vi.advanceTimersByTimeAsync(500)
    await done
    expect(seen).toEqual([0, 1, 2])
  })
})
