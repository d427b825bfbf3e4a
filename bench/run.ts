/**
 * `npm run bench`: every benchmark of the backup cycle against the shell and the reference tools,
 * one after another, into one results file (bench/RESULTS.md) with the machine, the versions,
 * the load around each benchmark, each run, the medians, the ratios and the targets; the
 * backup-init scaling chart goes beside it. Exits non-zero when a benchmark could not produce
 * its figures (the others are still written). How to read it: bench/README.md.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { ageBenchmark } from "./age.ts"
import { backupInitScaling } from "./backup-init-scaling.ts"
import { backupPodBenchmark } from "./backup-pod.ts"
import { encryptedUploadBenchmark } from "./encrypted-upload-overhead.ts"
import type { Benchmark } from "./harness/benchmark.ts"
import { loadAverage, machineFacts } from "./harness/machine.ts"
import { alignTables } from "./harness/markdown-table.ts"
import { parseBenchArgs } from "./harness/options.ts"
import { type BenchSection, sectionMarkdown } from "./harness/report.ts"
import { makeBenchScope } from "./harness/scope.ts"
import { operatorBenchmark } from "./operator.ts"
import { restoreBenchmark } from "./restore.ts"
import { storeBenchmark } from "./store.ts"
import { testRestoreBenchmark, verifyBenchmark } from "./verify.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

export const benchmarks: ReadonlyArray<Benchmark> = [
  backupPodBenchmark,
  verifyBenchmark,
  testRestoreBenchmark,
  restoreBenchmark,
  storeBenchmark,
  encryptedUploadBenchmark,
  ageBenchmark,
  operatorBenchmark,
  backupInitScaling,
]

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

/** Runs the benchmarks `argv` selects; resolves to the exit code. */
export const runBench = async (argv: ReadonlyArray<string>): Promise<number> => {
  const parsed = parseBenchArgs(
    argv,
    benchmarks.map((b) => b.name),
    join(root, "bench", "RESULTS.md"),
  )
  if (Result.isFailure(parsed)) {
    process.stderr.write(`${parsed.failure}\n`)
    return 2
  }
  const options = parsed.success
  // The bundle runs from a scratch directory, so the project's etcd and age must come first on PATH for it and the shell scripts.
  const tools = ["etcd", "age", "rclone"].map((t) => join(root, ".tools", t, "bin"))
  process.env.PATH = [...tools, process.env.PATH ?? ""].join(":")
  const out = resolve(options.out)
  const work = mkdtempSync(join(tmpdir(), "cb-bench-"))
  const scope = makeBenchScope()
  const started = new Date()
  const sections: Array<{ section: BenchSection; benchmark: Benchmark }> = []
  const failures: Array<string> = []
  try {
    const dist = options.dist === undefined ? join(work, "dist") : resolve(options.dist)
    if (options.dist === undefined) {
      log(`building the bundle into ${dist}`)
      const built = spawnSync(process.execPath, [join(root, "scripts", "build.ts"), "--outdir", dist], { cwd: root, stdio: ["ignore", "ignore", "inherit"] })
      if (built.status !== 0) {
        log(`scripts/build.ts exited with ${built.status ?? built.signal}: nothing was measured; fix what it printed above (or give --dist DIR)`)
        return 1
      }
    }
    const cli = join(dist, "cluster-backup.js")
    const shared = join(work, "shared")
    mkdirSync(shared)
    const machine = machineFacts(root, work, cli)
    const runOne = async (benchmark: Benchmark) => {
      const benchWork = join(work, benchmark.name)
      mkdirSync(benchWork)
      const loadBefore = loadAverage()
      const t0 = performance.now()
      log(`${benchmark.name}: ${benchmark.title}`)
      try {
        const findings = await benchmark.run({ root, options, work: benchWork, shared, cli, dist, scope, log: (line) => log(`${benchmark.name}: ${line}`) })
        for (const t of findings.targets) log(`${benchmark.name}: ${t.met ? "met" : "NOT MET"}: ${t.text}`)
        return { ...findings, name: benchmark.name, title: benchmark.title, loadBefore, loadAfter: loadAverage(), seconds: (performance.now() - t0) / 1000 }
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e)
        log(`${benchmark.name} FAILED: ${message}`)
        return `- **${benchmark.name}** produced no figures: ${message.split("\n").join("\n  ")}`
      } finally {
        rmSync(benchWork, { recursive: true, force: true })
      }
    }
    const selected = benchmarks.filter((b) => options.only === undefined || options.only.includes(b.name))
    const outcomes: Array<BenchSection | string> = []
    if (options.parallel) outcomes.push(...(await Promise.all(selected.map(runOne))))
    else for (const benchmark of selected) outcomes.push(await runOne(benchmark))
    selected.forEach((benchmark, i) => {
      const outcome = outcomes[i]!
      if (typeof outcome === "string") failures.push(outcome)
      else sections.push({ section: outcome, benchmark })
    })
    const flags = argv.length === 0 ? "" : ` -- ${argv.join(" ")}`
    const text = [
      "# Benchmarks: the backup cycle against the shell and the reference tools",
      "",
      `Written by \`npm run bench${flags}\`, started ${started.toISOString().replace(/\.\d+Z$/, "Z")}${options.quick || options.parallel ? " (**--quick** or **--parallel**: a smoke test of the harness, not a measurement)" : ""}.`,
      "What each benchmark compares, how to read it and where the time goes: `bench/README.md`.",
      "The machine is shared: compare the ratios within one run (tools alternate round by round), never single figures across runs.",
      "",
      "## Machine and versions",
      "",
      ...machine.map((m) => `- ${m}`),
      "",
      "## Summary",
      "",
      "| benchmark | target | verdict |",
      "|---|---|---|",
      ...sections.flatMap(({ section }) => section.targets.map((t) => `| ${section.name} | ${t.text} | ${t.met ? "met" : "**not met**"} |`)),
      ...failures.map((f) => `| ${f.slice(4, f.indexOf("**", 4))} | — | **no figures** |`),
      "",
      ...(failures.length === 0 ? [] : ["## Benchmarks that failed", "", ...failures, ""]),
      ...sections.map(({ section, benchmark }) => sectionMarkdown(section, benchmark.reference)),
    ].join("\n")
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, alignTables(text))
    for (const { section } of sections) for (const file of section.files ?? []) writeFileSync(join(dirname(out), file.name), file.text)
    log(`wrote ${out}`)
  } finally {
    await scope.close()
    rmSync(work, { recursive: true, force: true })
  }
  return failures.length === 0 ? 0 : 1
}

if (import.meta.main) process.exitCode = await runBench(process.argv.slice(2))
