/** The shape of the cycle's benchmarks: one command of ours against the shell's, on the cycle's database, one wall-time target. */
import { closeSync, openSync, readSync } from "node:fs"
import type { BenchContext } from "./benchmark.ts"
import type { Cycle } from "./cycle.ts"
import { type BenchFindings, MiB, summarize, summaryOf } from "./report.ts"
import { type Contender, runRounds } from "./rounds.ts"

export interface VersusShell {
  readonly ours: Contender
  readonly shell: Contender
  /** The largest wall ratio (ours / the shell's) that meets the target. */
  readonly maxWallRatio: number
  readonly setup: ReadonlyArray<string>
  /** Read after the rounds (figures the contenders gathered while running). */
  readonly figures?: () => ReadonlyArray<string>
  /**
   * Files read through (untimed) before every run, so that each tool finds them in the page cache: backup-init writes
   * the snapshot with direct I/O, and whichever tool ran first would otherwise pay for reading it from disk.
   */
  readonly warm?: ReadonlyArray<string>
}

const buffer = Buffer.alloc(4 * 1024 * 1024)
const readThrough = (path: string): void => {
  const fd = openSync(path, "r")
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0) {}
  } finally {
    closeSync(fd)
  }
}

const warmed = (contender: Contender, files: ReadonlyArray<string>): Contender => ({
  ...contender,
  run: (round) => {
    for (const file of files) readThrough(file)
    return contender.run(round)
  },
})

export const cycleCase = (cycle: Cycle): string => `${(cycle.database.dbBytes / MiB).toFixed(0)} MiB db`

export const versusShell = async (context: BenchContext, cycle: Cycle, v: VersusShell): Promise<BenchFindings> => {
  const caseName = cycleCase(cycle)
  const contenders = [v.ours, v.shell].map((c) => warmed(c, v.warm ?? []))
  const samples = await runRounds(caseName, context.options.rounds, contenders, context.log)
  const ratio = summaryOf(
    summarize(samples, () => v.shell.tool),
    caseName,
    v.ours.tool,
  ).wallRatio!
  return {
    setup: [...v.setup, `Rounds: ${context.options.rounds}, the order alternating.`],
    samples,
    figures: v.figures?.() ?? [],
    targets: [{ text: `${v.ours.tool} wall <= ${v.maxWallRatio.toFixed(1)}x ${v.shell.tool} (${ratio.toFixed(2)}x)`, met: ratio <= v.maxWallRatio }],
  }
}
