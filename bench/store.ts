/**
 * Store transfers: bench/store-vs-rclone.ts (backup-upload and download of the bundle against
 * `rclone copyto` with the same part size and parts in flight, to the project's own Swift),
 * run as its own process at `--transfer-mib` and `--rounds`, its per-run table read back.
 * Target: throughput >= 1.0x rclone's, both ways.
 */
import type { Benchmark } from "./harness/benchmark.ts"
import { MiB, type Sample, summarize, summaryOf } from "./harness/report.ts"
import { scriptTable } from "./harness/script-table.ts"

const reference = "rclone copyto"
const columns = ["round", "tool", "op", "seconds", "peak RSS MiB", "CPU s"]

export const storeBenchmark: Benchmark = {
  name: "store",
  title: "backup-upload and download against rclone copyto (local Swift)",
  reference: () => reference,
  run: async (context) => {
    const size = context.options.transferMiB
    const rows = await scriptTable(context, "store-vs-rclone.ts", true, columns)
    const samples: ReadonlyArray<Sample> = rows.map((r) => ({
      case: r.op!,
      tool: r.tool === "rclone" ? reference : `cluster-backup ${r.op === "upload" ? "backup-upload" : "download"}`,
      round: Number(r.round),
      seconds: Number(r.seconds),
      bytes: size * MiB,
      peakRssMiB: Number(r["peak RSS MiB"]),
      cpuSeconds: Number(r["CPU s"]),
    }))
    const summaries = summarize(samples, () => reference)
    const ratio = (op: "upload" | "download") => summaryOf(summaries, op, `cluster-backup ${op === "upload" ? "backup-upload" : "download"}`).throughputRatio!
    return {
      setup: [
        `\`node bench/store-vs-rclone.ts --size-mib ${size} --rounds ${context.options.rounds}\` with this run's bundle: a backup whose snapshot is ${size} MiB of random bytes, to Swift with s3api on loopback (scripts/s3-server.sh).`,
        "Both tools with bench/store-vs-rclone.ts's part size and parts in flight; every download's sha256 is compared with the snapshot's.",
        "Throughput counts the snapshot's bytes; the command also sends and checks the tarball and the manifest.",
      ],
      samples,
      figures: [],
      targets: (["upload", "download"] as const).map((op) => ({
        text: `${op} throughput >= 1.0x rclone copyto (${ratio(op).toFixed(2)}x)`,
        met: ratio(op) >= 1.0,
      })),
    }
  },
}
