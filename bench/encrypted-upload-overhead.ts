/**
 * What age encryption adds to backup-upload: bench/encrypted-upload.ts (the bundle uploading the
 * same backup to the local Swift plain and with --recipients-file, alternating) run as its own
 * process at `--transfer-mib` and `--rounds`, its per-run table read back. Target (issue 17): an
 * encrypted upload costs <= 10 % more wall time than a plain one.
 */
import type { Benchmark } from "./harness/benchmark.ts"
import { MiB, type Sample, summarize, summaryOf } from "./harness/report.ts"
import { scriptTable } from "./harness/script-table.ts"

const plain = "backup-upload (plain)"
const encrypted = "backup-upload --recipients-file"
const caseName = "upload"

export const encryptedUploadBenchmark: Benchmark = {
  name: "encrypted-upload",
  title: "backup-upload encrypted against plain (local Swift)",
  reference: () => plain,
  run: async (context) => {
    const size = context.options.transferMiB
    const rows = await scriptTable(context, "encrypted-upload.ts", true, ["round", "mode", "seconds", "peak RSS MiB", "CPU s"])
    const samples: ReadonlyArray<Sample> = rows.map((r) => ({
      case: caseName,
      tool: r.mode === "encrypted" ? encrypted : plain,
      round: Number(r.round),
      seconds: Number(r.seconds),
      bytes: size * MiB,
      peakRssMiB: Number(r["peak RSS MiB"]),
      cpuSeconds: Number(r["CPU s"]),
    }))
    const ratio = summaryOf(
      summarize(samples, () => plain),
      caseName,
      encrypted,
    ).wallRatio!
    return {
      setup: [
        `\`node bench/encrypted-upload.ts --size-mib ${size} --rounds ${context.options.rounds}\` with this run's bundle: a backup whose snapshot is ${size} MiB of random bytes, uploaded plain and encrypted to one X25519 recipient, the order alternating; the script downloads the last encrypted upload with the identity and compares the snapshot.`,
      ],
      samples,
      figures: [],
      targets: [{ text: `encrypted upload wall <= 1.1x a plain one (${ratio.toFixed(2)}x)`, met: ratio <= 1.1 }],
    }
  },
}
