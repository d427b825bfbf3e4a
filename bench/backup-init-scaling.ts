/**
 * backup-init against `etcdctl snapshot save` at each `--sizes` database size, one member grown
 * from size to size: the bundle as the pod runs it (its container's environment, direct I/O by
 * default) and with `--no-direct-io`, the same snapshot through the etcd3 package
 * (bench/etcd3-snapshot.ts), etcdctl, and etcd's own send rate (bench/etcd-send-rate.ts: a
 * client that discards the stream). Each a process, in an order that changes every round, after
 * one untimed snapshot per size. Targets at every size: backup-init >= 1.0x etcdctl's
 * throughput, >= 0.9x the send rate, peak RSS < 150 MiB. Draws bench/backup-init-scaling.svg.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { backupInitEnv } from "../src/domain/backup-pod-names.ts"
import { etcdToolPath } from "../src/services/local-etcd.ts"
import type { Benchmark, BenchContext } from "./harness/benchmark.ts"
import { type BenchEtcd, startBenchEtcd } from "./harness/etcd-database.ts"
import { runChecked } from "./harness/process-run.ts"
import { MiB, type Sample, summarize, summaryOf, type Target } from "./harness/report.ts"
import { measured, runRounds } from "./harness/rounds.ts"
import { lineChartSvg } from "./harness/svg-chart.ts"

const backupInit = "cluster-backup backup-init"
const noDirectIo = "backup-init --no-direct-io"
const etcd3 = "etcd3 snapshot"
const etcdctl = "etcdctl snapshot save"
const sendRate = "etcd send rate (discarding client)"
const tools = [backupInit, noDirectIo, etcd3, etcdctl, sendRate] as const
type Tool = (typeof tools)[number]

const caseOf = (sizeMiB: number) => `${sizeMiB} MiB db`

/** The command of one tool writing its snapshot into `out`. */
const commandFor = (context: BenchContext, etcd: BenchEtcd, tool: Tool, out: string): readonly [string, ReadonlyArray<string>] => {
  const { cert, key, cacert } = etcd.tls
  const backupInitArgs = [context.cli, "backup-init", "--backup-dir", out, "--etcd-endpoints", etcd.clientUrl, "--etcd-cert", cert, "--etcd-key", key]
  switch (tool) {
    case backupInit:
      return [process.execPath, [...backupInitArgs, "--etcd-cacert", cacert]]
    case noDirectIo:
      return [process.execPath, [...backupInitArgs, "--etcd-cacert", cacert, "--no-direct-io"]]
    case etcd3:
      return [process.execPath, [join(context.root, "bench", "etcd3-snapshot.ts"), out, etcd.clientUrl, cert, key, cacert]]
    case etcdctl:
      return [etcdToolPath("etcdctl"), [...etcd.etcdctlFlags, "snapshot", "save", join(out, "snapshot.db")]]
    case sendRate:
      return [process.execPath, [join(context.root, "bench", "etcd-send-rate.ts"), etcd.clientUrl, cert, key, cacert]]
  }
}

/** backup-init runs with the environment the backup pod gives its container. */
const podEnv = () => ({ ...process.env, ...Object.fromEntries(backupInitEnv.map((e) => [e.name, e.value])) })

const runTool = async (context: BenchContext, etcd: BenchEtcd, tool: Tool, out: string) => {
  mkdirSync(out, { recursive: true })
  const [command, args] = commandFor(context, etcd, tool, out)
  const run = await runChecked(tool, command, args, tool.includes("backup-init") ? { env: podEnv() } : {})
  const snapshot = readdirSync(out).find((n) => n.endsWith(".db"))
  const bytes = snapshot === undefined ? 0 : statSync(join(out, snapshot)).size
  rmSync(out, { recursive: true, force: true })
  if (tool !== sendRate) return measured(run, bytes)
  // The stream's own time: what etcd sends, without the client's start-up.
  const received = JSON.parse(run.stdout) as { bytes: number; seconds: number }
  return { ...measured(run, received.bytes), seconds: received.seconds }
}

const chart = (samples: ReadonlyArray<Sample>, sizes: ReadonlyArray<number>): string => {
  const summaries = summarize(samples, () => etcdctl)
  const series = (tool: Tool, pick: (s: ReturnType<typeof summarize>[number]) => number | undefined) => ({
    name: tool,
    points: sizes.map((x) => ({ x, y: pick(summaryOf(summaries, caseOf(x), tool)) ?? Number.NaN })),
  })
  return lineChartSvg(
    [
      {
        title: "Snapshot throughput (median)",
        yLabel: "MiB/s",
        series: ([backupInit, etcdctl, sendRate] as const).map((t) => series(t, (s) => s.medianMiBPerSecond)),
      },
      {
        title: "Peak RSS (largest run)",
        yLabel: "MiB",
        series: ([backupInit, etcdctl] as const).map((t) => series(t, (s) => s.maxPeakRssMiB)),
        limit: { y: 150, label: "target: < 150 MiB" },
      },
    ],
    "database size (MiB)",
  )
}

export const backupInitScaling: Benchmark = {
  name: "backup-init",
  title: "backup-init at each database size against etcdctl and etcd's send rate",
  reference: () => etcdctl,
  run: async (context) => {
    const etcd = await startBenchEtcd(context.scope, join(context.work, "member"), "bench-scaling")
    const samples: Array<Sample> = []
    const built: Array<string> = []
    for (const size of context.options.sizesMiB) {
      const db = await etcd.growTo(size * MiB, context.log)
      built.push(
        `${caseOf(size)}: ${db.keys} keys, ${(db.valueBytes / MiB).toFixed(0)} MiB of values, ${(db.dbBytes / MiB).toFixed(0)} MiB as the member reports it`,
      )
      // One untimed snapshot first, so that no tool pays alone for reading the grown database from disk.
      await runTool(context, etcd, etcdctl, join(context.work, "warm-up"))
      // --quick smoke-tests the harness: the two extra ways of taking the same snapshot add only time there.
      const selected = context.options.quick ? tools.filter((t) => t !== etcd3 && t !== noDirectIo) : tools
      const contenders = selected.map((tool) => ({ tool, run: (round: number) => runTool(context, etcd, tool, join(context.work, `out-${round}`)) }))
      samples.push(...(await runRounds(caseOf(size), context.options.rounds, contenders, context.log)))
    }
    const summaries = summarize(samples, () => etcdctl)
    const targets: Array<Target> = context.options.sizesMiB.flatMap((size) => {
      const ours = summaryOf(summaries, caseOf(size), backupInit)
      const vsEtcdctl = ours.throughputRatio!
      const vsSend = ours.medianMiBPerSecond! / summaryOf(summaries, caseOf(size), sendRate).medianMiBPerSecond!
      return [
        { text: `${caseOf(size)}: backup-init throughput >= 1.0x etcdctl (${vsEtcdctl.toFixed(2)}x)`, met: vsEtcdctl >= 1.0 },
        { text: `${caseOf(size)}: backup-init throughput >= 0.9x etcd's send rate (${vsSend.toFixed(2)}x)`, met: vsSend >= 0.9 },
        { text: `${caseOf(size)}: backup-init peak RSS < 150 MiB (${ours.maxPeakRssMiB.toFixed(1)} MiB)`, met: ours.maxPeakRssMiB < 150 },
      ]
    })
    return {
      setup: [
        "One etcd member on loopback, TLS with client certificates, `--quota-backend-bytes 8 GiB`, `--unsafe-no-fsync` (to build the data quickly), grown from size to size with distinct keys of 1..100 KiB:",
        ...built.map((b) => `  ${b}`),
        `Tools: \`${backupInit}\` is the bundle with the backup-init container's environment (\`${backupInitEnv.map((e) => `${e.name}=${e.value}`).join(" ")}\`), direct I/O (its default); \`${noDirectIo}\` writes through the page cache as on filesystems that refuse O_DIRECT; \`${etcd3}\` streams through the etcd3 package (bench/etcd3-snapshot.ts); \`${sendRate}\` receives the stream over HTTP/2 and discards it (bench/etcd-send-rate.ts), timed from its request to the stream's end: what etcd can send here.`,
        `${context.options.rounds} rounds per size after one untimed snapshot, in a Williams order (each tool follows each other equally often). Wall time includes start-up, the stream, the sha256 trailer check, fsync and rename.`,
      ],
      samples,
      figures: [],
      targets,
      files: [
        {
          name: "backup-init-scaling.svg",
          text: chart(samples, context.options.sizesMiB),
          caption: "backup-init and etcdctl: throughput and peak RSS against database size",
        },
      ],
    }
  },
}
