/**
 * age encryption and decryption: bench/age-vs-cli.ts (the project's implementation through
 * encryptFile/decryptFile, bundled, against the `age` CLI) run as its own process at
 * `--transfer-mib` and `--rounds`, its table read back. Target: throughput >= 1.0x the CLI's.
 */
import type { Benchmark } from "./harness/benchmark.ts"
import { MiB, type Sample, summarize, summaryOf } from "./harness/report.ts"
import { scriptTable } from "./harness/script-table.ts"

const columns = ["tool", "operation", "wall seconds per round", "CPU (median)", "peak RSS (max)"]
/** The plain CLI's row (not "age CLI + sha256sum ..."). */
const isCli = (tool: string) => /^age CLI [\d.]+$/.test(tool)
const ours = "cluster-backup (node:crypto)"
const number = (cell: string) => Number(/[\d.]+/.exec(cell)?.[0] ?? Number.NaN)

export const ageBenchmark: Benchmark = {
  name: "age",
  title: "age encryption and decryption against the age CLI",
  reference: () => "age CLI",
  run: async (context) => {
    const size = context.options.transferMiB
    const rows = await scriptTable(context, "age-vs-cli.ts", false, columns)
    // The script reports each round's wall time, and the CPU median and RSS maximum over the rounds.
    const samples: ReadonlyArray<Sample> = rows.flatMap((r) =>
      r["wall seconds per round"]!.split(",").map((s, i) => ({
        case: r.operation!,
        tool: isCli(r.tool!) ? "age CLI" : r.tool!,
        round: i + 1,
        seconds: Number(s),
        bytes: size * MiB,
        peakRssMiB: number(r["peak RSS (max)"]!),
        cpuSeconds: number(r["CPU (median)"]!),
      })),
    )
    const summaries = summarize(samples, () => "age CLI")
    const ratio = (op: string) => summaryOf(summaries, op, ours).throughputRatio!
    return {
      setup: [
        `\`node bench/age-vs-cli.ts --size-mib ${size} --rounds ${context.options.rounds}\`: ${size} MiB of incompressible plaintext; each run its own process, the order rotating; every output checked by the age CLI.`,
        "The script gives each round's wall time but only the median CPU and the largest peak RSS over the rounds: the per-run table repeats those.",
      ],
      samples,
      figures: [],
      targets: ["encrypt", "decrypt"].map((op) => ({ text: `${op} throughput >= 1.0x the age CLI (${ratio(op).toFixed(2)}x)`, met: ratio(op) >= 1.0 })),
    }
  },
}
