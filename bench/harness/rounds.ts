/** Rounds of runs, the tools' order changing from round to round (a Williams design), into samples. */
import type { ProcessRun } from "./process-run.ts"
import type { Sample } from "./report.ts"
import { williamsOrder } from "./stats.ts"

export interface Measured {
  readonly seconds: number
  readonly peakRssMiB: number
  readonly cpuSeconds: number
  readonly bytes: number | undefined
}

export interface Contender {
  readonly tool: string
  /** One timed run (set-up and clean-up around it are the contender's, untimed). */
  readonly run: (round: number) => Promise<Measured>
}

/** A process run as a measurement of `bytes`. */
export const measured = (run: ProcessRun, bytes: number | undefined): Measured => ({
  seconds: run.seconds,
  peakRssMiB: run.peakRssMiB,
  cpuSeconds: run.cpuSeconds,
  bytes,
})

/** Several process runs one after another (the pod's containers) as one measurement: walls and CPU add up, the peak is the largest. */
export const sequence = (runs: ReadonlyArray<ProcessRun>, bytes: number | undefined): Measured => ({
  seconds: runs.reduce((a, r) => a + r.seconds, 0),
  peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
  cpuSeconds: runs.reduce((a, r) => a + r.cpuSeconds, 0),
  bytes,
})

export const runRounds = async (
  caseName: string,
  rounds: number,
  contenders: ReadonlyArray<Contender>,
  log: (line: string) => void,
): Promise<ReadonlyArray<Sample>> => {
  const samples: Array<Sample> = []
  for (let round = 1; round <= rounds; round++) {
    for (const i of williamsOrder(contenders.length, round - 1)) {
      const c = contenders[i]!
      const m = await c.run(round)
      samples.push({ case: caseName, tool: c.tool, round, ...m })
      log(`${caseName} round ${round} ${c.tool}: ${m.seconds.toFixed(2)} s, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`)
    }
  }
  return samples
}
