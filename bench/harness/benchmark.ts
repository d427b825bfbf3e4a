/** What a benchmark is to the harness, and what the harness gives it. */
import type { BenchOptions } from "./options.ts"
import type { BenchFindings } from "./report.ts"
import type { BenchScope } from "./scope.ts"

export interface BenchContext {
  readonly root: string
  readonly options: BenchOptions
  /** A scratch directory of this benchmark's own (removed after the run). */
  readonly work: string
  /** A directory for fixtures benchmarks share (the cycle's etcd and backup), removed at the end of the run. */
  readonly shared: string
  /** The built bundle's entry point (`scripts/build.ts` output), what the image runs. */
  readonly cli: string
  readonly dist: string
  /** Resources live until the whole run ends. */
  readonly scope: BenchScope
  readonly log: (line: string) => void
}

export interface Benchmark {
  /** What `--only` names. */
  readonly name: string
  readonly title: string
  /** The tool each case's ratios are to. */
  readonly reference: (caseName: string) => string | undefined
  readonly run: (context: BenchContext) => Promise<BenchFindings>
}
