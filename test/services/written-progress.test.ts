import { Effect, Fiber } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { writtenProgress } from "../../src/services/written-progress.ts"

const settled = (fiber: Fiber.Fiber<unknown>) => fiber.pollUnsafe() !== undefined

describe("writtenProgress", () => {
  it("a reader waiting for `end` bytes resumes exactly when the writer has advanced to at least `end`, whatever the order of steps", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(1000), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(1000), { maxLength: 20 }), async (waits, steps) => {
        const progress = writtenProgress()
        const fibers = waits.map((end) => ({ end, fiber: Effect.runFork(progress.until(end)) }))
        let written = 0
        for (const step of steps) {
          progress.advance(step)
          written = Math.max(written, step)
          await new Promise((r) => setTimeout(r, 1))
          for (const f of fibers) expect(settled(f.fiber)).toBe(f.end <= written)
        }
        await Promise.all(fibers.map((f) => Effect.runPromise(Fiber.interrupt(f.fiber))))
      }),
      { numRuns: 50 },
    )
  })

  it("an interrupted reader is forgotten: a later advance resumes only the others", async () => {
    const progress = writtenProgress()
    const gone = Effect.runFork(progress.until(10))
    const kept = Effect.runFork(progress.until(10))
    await Effect.runPromise(Fiber.interrupt(gone))
    progress.advance(10)
    await Effect.runPromise(Fiber.join(kept))
    expect(settled(kept)).toBe(true)
  })
})
