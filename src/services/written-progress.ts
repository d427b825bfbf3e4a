/**
 * How far a file is written, for a reader that follows the writer (encrypted-upload.ts): the
 * writer advances it from a callback, a reader's fiber waits until the bytes it needs are there.
 */
import { Effect } from "effect"

export interface WrittenProgress {
  /** The first `end` bytes are written (a smaller `end` than before changes nothing). */
  readonly advance: (end: number) => void
  /** Succeeds once the first `end` bytes are written. */
  readonly until: (end: number) => Effect.Effect<void>
  /** The same for code outside effect: resolves once the first `end` bytes are written, rejects when `signal` aborts first. */
  readonly reached: (end: number, signal: AbortSignal) => Promise<void>
}

export const writtenProgress = (): WrittenProgress => {
  let written = 0
  const waiting = new Set<{ readonly end: number; readonly resume: () => void }>()
  const wait = (end: number, resume: () => void) => {
    const w = { end, resume }
    waiting.add(w)
    return () => waiting.delete(w)
  }
  return {
    advance: (end) => {
      written = Math.max(written, end)
      for (const w of waiting) {
        if (w.end > written) continue
        waiting.delete(w)
        w.resume()
      }
    },
    until: (end) =>
      Effect.suspend(() =>
        end <= written
          ? Effect.void
          : Effect.callback<void>((resume) => {
              const forget = wait(end, () => resume(Effect.void))
              return Effect.sync(forget)
            }),
      ),
    reached: (end, signal) =>
      end <= written
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            if (signal.aborted) return reject(signal.reason)
            const aborted = () => {
              forget()
              reject(signal.reason)
            }
            const forget = wait(end, () => {
              signal.removeEventListener("abort", aborted)
              resolve()
            })
            signal.addEventListener("abort", aborted, { once: true })
          }),
  }
}
