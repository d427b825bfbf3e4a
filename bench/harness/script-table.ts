/**
 * Runs another benchmark script of bench/ as its own process at the run's `--transfer-mib` and
 * `--rounds` (and the run's bundle when it takes `--dist`), with `--out` into the benchmark's
 * scratch directory, and reads back its per-run table by column name (the scripts' owners keep
 * them runnable alone, with their own results files).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { BenchContext } from "./benchmark.ts"
import { tableWith } from "./markdown-table.ts"
import { runChecked } from "./process-run.ts"

export const scriptTable = async (
  context: BenchContext,
  script: string,
  takesDist: boolean,
  columns: ReadonlyArray<string>,
): Promise<ReadonlyArray<Readonly<Record<string, string>>>> => {
  const out = join(context.work, "script-results.md")
  const { transferMiB, rounds } = context.options
  const args = ["--size-mib", String(transferMiB), "--rounds", String(rounds), ...(takesDist ? ["--dist", context.dist] : []), "--out", out]
  context.log(`node bench/${script} ${args.join(" ")}`)
  await runChecked(`bench/${script}`, process.execPath, [join(context.root, "bench", script), ...args])
  return tableWith(readFileSync(out, "utf8"), `bench/${script}`, columns)
}
