/** The copy's warning that it will outlast the pod's hold: once, at its pace, only when the pace says so. */
import { Effect, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { holdDeadlineWatch } from "../../../src/programs/backup-pod/hold-deadline-watch.ts"

const MiB = 1024 * 1024
const hour = 3_600_000

/** Feeds `steps` (wall time, bytes done) of a 4 GiB snapshot's copy to a watch of a hold ending at `holdEndsAt`; the warnings logged. */
const warningsOf = async (holdEndsAt: number | undefined, steps: ReadonlyArray<readonly [number, number]>) => {
  const lines: Array<string> = []
  const capture = Logger.layer([Logger.make((options) => void lines.push(`${options.logLevel} ${String(options.message)}`))])
  let clock = 0
  await Effect.runPromise(
    Effect.gen(function* () {
      const watch = yield* holdDeadlineWatch("cluster-backup-x7k2p", holdEndsAt, () => clock)
      for (const [at, done] of steps) {
        clock = at
        watch("/backup/snapshot_2026-12-08_010000.db", done, 4096 * MiB)
      }
      yield* Effect.sleep(10)
    }).pipe(Effect.provide(capture)),
  )
  return lines.filter((l) => l.startsWith("Warn"))
}

describe("holdDeadlineWatch", () => {
  it("warns once when the copy at its pace ends after the hold, naming both times and what to do", async () => {
    // 64 MiB/s from the start would take 64 s; 1 MiB/s takes ~68 minutes, past a hold ending in an hour.
    const slow = await warningsOf(hour, [
      [0, 1 * MiB],
      [30_000, 31 * MiB],
      [60_000, 61 * MiB],
      [90_000, 91 * MiB],
    ])
    expect(slow).toHaveLength(1)
    expect(slow[0]).toContain("at its pace so far (1.0 MiB/s)")
    expect(slow[0]).toContain("after pod cluster-backup-x7k2p's hold ends at 1970-01-01T01:00:00Z")
    expect(slow[0]).toContain("--hold-duration")
  })

  it("says nothing for a copy that ends in time, before it has a pace, or without a hold's end", async () => {
    const fast = [
      [0, 1 * MiB],
      [30_000, 2048 * MiB],
      [60_000, 4096 * MiB],
    ] as const
    expect(await warningsOf(hour, fast)).toEqual([])
    expect(
      await warningsOf(hour, [
        [0, 1 * MiB],
        [10_000, 2 * MiB],
      ]),
    ).toEqual([])
    expect(
      await warningsOf(undefined, [
        [0, 1 * MiB],
        [90_000, 91 * MiB],
      ]),
    ).toEqual([])
  })
})
