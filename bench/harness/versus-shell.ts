/** The shape of the cycle's benchmarks: one command of ours against the shell's, on the cycle's database, one wall-time target. */
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
}

export const cycleCase = (cycle: Cycle): string => `${(cycle.database.dbBytes / MiB).toFixed(0)} MiB db`

export const versusShell = async (context: BenchContext, cycle: Cycle, v: VersusShell): Promise<BenchFindings> => {
  const caseName = cycleCase(cycle)
  const samples = await runRounds(caseName, context.options.rounds, [v.ours, v.shell], context.log)
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
