import { Effect, Logger } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { progressEveryMs, transferProgress } from "../../src/cli/transfer-progress.ts"

afterEach(() => void vi.useRealTimers())

describe("a store transfer's progress lines", () => {
  it("at most one every 10 s, naming the object, what is done of its size and the share, through the caller's logger", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_000_000 })
    const lines: Array<string> = []
    const progress = await Effect.runPromise(
      transferProgress("downloaded").pipe(
        Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])),
      ),
    )
    const MiB = 1024 * 1024
    const at = (ms: number, done: number) => {
      vi.setSystemTime(1_000_000 + ms)
      progress("p/id/snapshot.db", done * MiB, 40 * MiB)
    }
    at(progressEveryMs - 1, 5)
    expect(lines).toEqual([])
    at(progressEveryMs, 10)
    at(progressEveryMs + 5_000, 15)
    at(2 * progressEveryMs, 30)
    expect(lines).toEqual(["Info p/id/snapshot.db: 10.0 MiB of 40.0 MiB downloaded (25%)", "Info p/id/snapshot.db: 30.0 MiB of 40.0 MiB downloaded (75%)"])
  })
})
