/**
 * Benchmark: the operator's memory (and render latency) as the image runs it. Builds the bundle
 * (`npm run build` -> dist/), serves a simulated OpenShift cluster (the OpenShift fixtures) over
 * the stub API server in this process, runs `node dist/cluster-backup.js operator` against it with
 * the Deployment's node flags, `NODE_OPTIONS` and env values (deploy/deployment.yaml) and samples the child's RSS from
 * /proc/<pid>/status (VmRSS, VmHWM) every `--sample-ms`. Phases:
 *
 *   1. warm-up, then idle: RSS with nothing happening (after the first render);
 *   2. bumps: `--bumps` revision bumps (an operator CR's status.latestAvailableRevision), each
 *      waited for until ConfigMap cluster-backup-pod names it: peak RSS and the latency
 *      revision change -> ConfigMap written (p50/p99);
 *   3. soak: `--soak-minutes` of a bump every `--soak-bump-seconds`, every watch connection cut
 *      every `--drop-seconds` (an API server restart), and the watch history compacted every
 *      `--compact-seconds` (resuming answers 410 Gone, the operator lists again): peak RSS and
 *      the slope of RSS over time (least squares over the soak's samples).
 *
 *   node bench/operator-memory.ts [--bumps 1000] [--soak-minutes 30] [--out bench/OPERATOR-MEMORY.md]
 *                                 [--node-options "..."] [--no-build] [--heap-snapshot DIR]
 *
 * Appends a results section to `--out`. Not part of the test suite: it takes over half an hour.
 * `npm run bench` (bench/operator.ts) runs `measureOperator` with shorter phases and no soak.
 */
import { execFileSync, spawn } from "node:child_process"
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, totalmem, tmpdir, release } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Result } from "effect"
import { parse } from "yaml"
import { operandNames, type OperandName } from "../src/domain/operands.ts"
import { openShiftFixture } from "../src/simulation/openshift-fixtures.ts"
import { configMapType, operatorTypes } from "../src/services/kube/resources.ts"
import { startSimulatedApiServer, writeKubeconfig } from "../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster } from "../src/simulation/simulated-cluster.ts"
import { alignTables } from "./harness/markdown-table.ts"
import { firstAndLastTenth, median, quantile, slope } from "./harness/stats.ts"
import { scriptArg } from "./harness/script-args.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const namespace = "openshift-etcd"
const MiB = 1024

/** The Deployment's memory limit (MiB) and the operator container's NODE_OPTIONS. */
export const operatorDeployment = (() => {
  const doc = parse(readFileSync(join(root, "deploy", "deployment.yaml"), "utf8")) as {
    spec: {
      template: {
        spec: {
          containers: Array<{
            name: string
            command: Array<string>
            env?: Array<{ name: string; value?: string }>
            resources: { limits: { memory: string }; requests: { memory: string } }
          }>
        }
      }
    }
  }
  const container = doc.spec.template.spec.containers.find((c) => c.name === "operator")!
  const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN)
  return {
    limitMiB: mib(container.resources.limits.memory),
    requestMiB: mib(container.resources.requests.memory),
    nodeOptions: container.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "",
    /** The container's other literal env values (MALLOC_ARENA_MAX, ...), given to the operator too. */
    env: Object.fromEntries((container.env ?? []).flatMap((e) => (e.value === undefined || e.name === "NODE_OPTIONS" ? [] : [[e.name, e.value]]))),
    // `node <flags> <entry> ...`: the flags before the entry point.
    nodeArgs:
      container.command[0] === "node"
        ? container.command.slice(
            1,
            container.command.findIndex((a, i) => i > 0 && !a.startsWith("--")),
          )
        : [],
  }
})()

export interface OperatorMeasureOptions {
  /** The bundle's entry point (dist/cluster-backup.js). */
  readonly entry: string
  readonly bumps: number
  readonly soakMs: number
  readonly warmupMs: number
  readonly idleMs: number
  readonly sampleMs: number
  readonly soakBumpMs: number
  readonly dropMs: number
  readonly compactMs: number
  readonly nodeOptions: string
  /** V8 flags that NODE_OPTIONS refuses (the Deployment passes them to node on its command line). */
  readonly nodeArgs: ReadonlyArray<string>
  /** Where the operator writes heap snapshots (SIGUSR2 after each phase); "" for none. */
  readonly heapSnapshotDir: string
  /** How long the first render may take (start-up included) before the measurement gives up. */
  readonly firstRenderTimeoutMs: number
  readonly log: (line: string) => void
}

export interface RssSample {
  readonly t: number
  readonly rssKiB: number
  readonly hwmKiB: number
}

export interface RssSummary {
  readonly n: number
  readonly min: number
  readonly median: number
  readonly max: number
  /** Mean of the first and of the last tenth of the samples. */
  readonly first: number
  readonly last: number
}

export interface OperatorMeasurement {
  readonly firstRenderMs: number
  readonly idle: RssSummary
  readonly bumps: RssSummary
  readonly bumpSeconds: number
  /** ms from each revision bump to the ConfigMap naming it, in bump order. */
  readonly latencies: ReadonlyArray<number>
  readonly soak: RssSummary
  readonly soakLatencies: ReadonlyArray<number>
  readonly soakBumps: number
  readonly drops: number
  readonly compactions: number
  /** RSS slope (MiB/h) after the warm-up (idle + bumps + soak), and over the soak alone. */
  readonly slopeAfterWarmup: number
  readonly slopeSoak: number
  /** VmHWM over the whole run (MiB). */
  readonly peakMiB: number
  readonly warnings: number
}

const readStatus = (pid: number): { rssKiB: number; hwmKiB: number } | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8")
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN)
    return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") }
  } catch {
    return undefined
  }
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))
/** Least-squares slope of RSS (MiB) per hour. */
const slopeMiBPerHour = (samples: ReadonlyArray<RssSample>): number =>
  slope(
    samples.map((s) => s.t / 3_600_000),
    samples.map((s) => s.rssKiB / MiB),
  )
const summary = (samples: ReadonlyArray<RssSample>): RssSummary => {
  const rss = samples.map((s) => s.rssKiB / MiB)
  return { n: samples.length, min: Math.min(...rss), median: median(rss), max: Math.max(...rss), ...firstAndLastTenth(rss) }
}
const f1 = (x: number) => x.toFixed(1)

/** Runs the operator (the bundle) against a stub API server through the phases of `o`, sampling its RSS. */
export const measureOperator = async (o: OperatorMeasureOptions): Promise<OperatorMeasurement> => {
  const work = mkdtempSync(join(tmpdir(), "operator-memory-"))
  const cluster = makeSimulatedCluster()
  const fixture = openShiftFixture({ seed: 7 })
  Result.getOrThrow(fixture.load(cluster))
  const server = await startSimulatedApiServer(cluster)
  const kubeconfig = join(work, "kubeconfig")
  await Effect.runPromise(writeKubeconfig(kubeconfig, server))

  const revision: Record<OperandName, number> = { ...fixture.revisions }
  /** The revision ConfigMap cluster-backup-pod was rendered for (its revisions annotation). */
  const renderedLabel = (operand: OperandName): string | undefined => {
    const cm = cluster.get(configMapType, namespace, "cluster-backup-pod")
    const annotations = (cm?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations
    return new RegExp(`(?:^|,)${operand}=(\\d+)`).exec(annotations?.["backup.openshift.io/revisions"] ?? "")?.[1]
  }
  const waitFor = async (what: string, done: () => boolean, timeoutMs = 60_000): Promise<number> => {
    const t0 = performance.now()
    while (!done()) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}: ${stderrTail()}`)
      if (child.exitCode !== null) throw new Error(`the operator exited (${child.exitCode}) while waiting for ${what}: ${stderrTail()}`)
      await new Promise<void>((r) => setImmediate(r))
      await sleep(1)
    }
    return performance.now() - t0
  }
  let bumpIndex = 0
  /** Bumps one operand's latestAvailableRevision; resolves with the ms until the ConfigMap names it. */
  const bump = async (): Promise<number> => {
    const operand = operandNames[bumpIndex++ % operandNames.length]!
    const next = ++revision[operand]
    const status = fixture.operatorCr(operand, next, "complete").status
    const t0 = performance.now()
    Result.getOrThrow(cluster.updateStatus(operatorTypes[operand], undefined, "cluster", status))
    await waitFor(`the render of ${operand} ${next}`, () => renderedLabel(operand) === String(next))
    return performance.now() - t0
  }

  const args = [
    ...o.nodeArgs,
    ...(o.heapSnapshotDir === "" ? [] : ["--heapsnapshot-signal=SIGUSR2"]),
    o.entry,
    "--log-format",
    "json",
    "--log-level",
    "info",
    "operator",
    "--kubeconfig",
    kubeconfig,
    "--namespace",
    namespace,
    "--identity",
    "bench",
    "--settle",
    "0s",
    "--min-interval",
    "0s",
    "--metrics-port",
    "0",
  ]
  o.log(
    `operator: ${Object.entries(operatorDeployment.env)
      .map(([k, v]) => `${k}=${v} `)
      .join("")}NODE_OPTIONS=${JSON.stringify(o.nodeOptions)} node ${args.join(" ")}`,
  )
  const child = spawn(process.execPath, args, {
    cwd: o.heapSnapshotDir === "" ? work : resolve(o.heapSnapshotDir),
    env: { ...operatorDeployment.env, ...process.env, NODE_OPTIONS: o.nodeOptions },
    stdio: ["ignore", "ignore", "pipe"],
  })
  let stderr = ""
  let warnings = 0
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000)
    warnings += (chunk.match(/"level":"WARN/gi) ?? []).length
  })
  const stderrTail = () => stderr.slice(-2000)

  const samples: Array<RssSample & { phase: string }> = []
  let phase = "start"
  const started = performance.now()
  const sampler = setInterval(() => {
    const s = readStatus(child.pid!)
    if (s !== undefined) samples.push({ t: performance.now() - started, phase, ...s })
  }, o.sampleMs)
  const phaseSamples = (name: string) => samples.filter((s) => s.phase === name)
  const heapSnapshot = async () => {
    if (o.heapSnapshotDir === "") return
    child.kill("SIGUSR2")
    await sleep(3000)
  }

  try {
    await waitFor("the first render", () => renderedLabel("etcd") !== undefined, o.firstRenderTimeoutMs)
    const firstRenderMs = performance.now() - started
    o.log(`first render after ${f1(firstRenderMs)} ms; warm-up ${o.warmupMs / 1000} s`)
    phase = "warmup"
    await sleep(o.warmupMs)
    phase = "idle"
    await sleep(o.idleMs)
    const idle = summary(phaseSamples("idle"))
    o.log(`idle: median ${f1(idle.median)} MiB, max ${f1(idle.max)} MiB`)
    await heapSnapshot()

    phase = "bumps"
    const latencies: Array<number> = []
    const bumpsStarted = performance.now()
    for (let i = 0; i < o.bumps; i++) {
      latencies.push(await bump())
      if ((i + 1) % 100 === 0) o.log(`  ${i + 1} bumps, RSS ${f1((samples.at(-1)?.rssKiB ?? 0) / MiB)} MiB`)
    }
    const bumpSeconds = (performance.now() - bumpsStarted) / 1000
    const bumps = summary(phaseSamples("bumps"))
    o.log(`bumps: max ${f1(bumps.max)} MiB, p99 latency ${f1(quantile(latencies, 0.99))} ms`)
    await heapSnapshot()

    phase = "soak"
    const soakStarted = performance.now()
    let drops = 0
    let compactions = 0
    let soakBumps = 0
    let nextDrop = o.dropMs
    let nextCompact = o.compactMs
    const soakLatencies: Array<number> = []
    while (performance.now() - soakStarted < o.soakMs) {
      const elapsed = performance.now() - soakStarted
      if (elapsed >= nextCompact) {
        cluster.compact()
        cluster.dropWatches(true)
        compactions++
        nextCompact += o.compactMs
      } else if (elapsed >= nextDrop) {
        cluster.dropWatches(drops % 2 === 0)
        drops++
        nextDrop += o.dropMs
      }
      soakLatencies.push(await bump())
      soakBumps++
      await sleep(o.soakBumpMs)
      if (soakBumps % 60 === 0) o.log(`  soak ${f1((performance.now() - soakStarted) / 60_000)} min, RSS ${f1((samples.at(-1)?.rssKiB ?? 0) / MiB)} MiB`)
    }
    const soakAll = phaseSamples("soak")
    const afterWarmup = samples.filter((s) => s.phase === "idle" || s.phase === "bumps" || s.phase === "soak")
    await heapSnapshot()
    return {
      firstRenderMs,
      idle,
      bumps,
      bumpSeconds,
      latencies,
      soak: summary(soakAll),
      soakLatencies,
      soakBumps,
      drops,
      compactions,
      slopeAfterWarmup: slopeMiBPerHour(afterWarmup),
      slopeSoak: slopeMiBPerHour(soakAll),
      peakMiB: Math.max(...samples.map((s) => s.hwmKiB)) / MiB,
      warnings,
    }
  } finally {
    clearInterval(sampler)
    child.kill("SIGTERM")
    await new Promise<void>((done) => (child.exitCode !== null ? done() : child.once("exit", () => done())))
    await server.close()
    rmSync(work, { recursive: true, force: true })
  }
}

/** The results section the standalone script appends to its --out file. */
const resultsSection = (m: OperatorMeasurement, o: OperatorMeasureOptions): string => {
  const limit = operatorDeployment.limitMiB
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }
  return [
    `\n## Operator memory: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}\n`,
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${f1(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}; Node ${process.version};` +
      ` effect ${version.dependencies.effect}, @kubernetes/client-node ${version.dependencies["@kubernetes/client-node"]}, prom-client ${version.dependencies["prom-client"]}.`,
    `Operator: the bundle (dist/), ${Object.entries(operatorDeployment.env)
      .map(([k, v]) => `\`${k}=${v}\`, `)
      .join(
        "",
      )}\`NODE_OPTIONS=${o.nodeOptions === "" ? "(none)" : o.nodeOptions}\`, node flags \`${o.nodeArgs.join(" ") || "(none)"}\`, \`--settle 0s --min-interval 0s\`, against the stub API server`,
    `(OpenShift fixtures, seed 7) over HTTP. Deployment: requests ${operatorDeployment.requestMiB} Mi, limit ${limit} Mi (75 %: ${f1(limit * 0.75)} MiB). Samples every ${o.sampleMs} ms.\n`,
    `| phase | what | samples | RSS min | median | max | first 10 % | last 10 % |`,
    `|---|---|---|---|---|---|---|---|`,
    `| idle | ${o.warmupMs / 1000} s warm-up after the first render (${f1(m.firstRenderMs / 1000)} s), then ${o.idleMs / 1000} s idle | ${m.idle.n} | ${f1(m.idle.min)} | ${f1(m.idle.median)} | ${f1(m.idle.max)} | ${f1(m.idle.first)} | ${f1(m.idle.last)} |`,
    `| bumps | ${o.bumps} revision bumps, each until rendered (${f1(m.bumpSeconds)} s) | ${m.bumps.n} | ${f1(m.bumps.min)} | ${f1(m.bumps.median)} | ${f1(m.bumps.max)} | ${f1(m.bumps.first)} | ${f1(m.bumps.last)} |`,
    `| soak | ${f1(o.soakMs / 60_000)} min: ${m.soakBumps} bumps, ${m.drops} watch drops, ${m.compactions} compactions (410 Gone) | ${m.soak.n} | ${f1(m.soak.min)} | ${f1(m.soak.median)} | ${f1(m.soak.max)} | ${f1(m.soak.first)} | ${f1(m.soak.last)} |`,
    ``,
    `- Peak RSS (VmHWM, whole run): **${f1(m.peakMiB)} MiB** = ${f1((100 * m.peakMiB) / limit)} % of the ${limit} Mi limit (target < 75 %).`,
    `- Idle RSS (median): **${f1(m.idle.median)} MiB** (target < 100 MiB).`,
    `- RSS slope after warm-up (idle + bumps + soak, least squares): **${m.slopeAfterWarmup.toFixed(2)} MiB/h**; over the soak alone: ${m.slopeSoak.toFixed(2)} MiB/h.`,
    `- Latency revision change -> ConfigMap written, ${m.latencies.length} bumps: p50 ${f1(quantile(m.latencies, 0.5))} ms, p99 ${f1(quantile(m.latencies, 0.99))} ms, max ${f1(Math.max(...m.latencies))} ms;` +
      ` during the soak (${m.soakLatencies.length}): p50 ${f1(quantile(m.soakLatencies, 0.5))} ms, p99 ${f1(quantile(m.soakLatencies, 0.99))} ms, max ${f1(Math.max(...m.soakLatencies))} ms.`,
    `- WARN lines logged by the operator: ${m.warnings}.`,
    ``,
  ].join("\n")
}

if (import.meta.main) {
  const flag = (name: string) => process.argv.includes(`--${name}`)
  if (!flag("no-build")) {
    process.stderr.write("building dist/ (npm run build)...\n")
    execFileSync(process.execPath, [join(root, "scripts", "build.ts")], { cwd: root, stdio: "inherit" })
  }
  const entry = join(root, "dist", "cluster-backup.js")
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`)
  const options: OperatorMeasureOptions = {
    entry,
    bumps: Number(scriptArg("bumps", "1000")),
    soakMs: Number(scriptArg("soak-minutes", "30")) * 60_000,
    warmupMs: Number(scriptArg("warmup-seconds", "20")) * 1000,
    idleMs: Number(scriptArg("idle-seconds", "30")) * 1000,
    sampleMs: Number(scriptArg("sample-ms", "200")),
    soakBumpMs: Number(scriptArg("soak-bump-seconds", "5")) * 1000,
    dropMs: Number(scriptArg("drop-seconds", "60")) * 1000,
    compactMs: Number(scriptArg("compact-seconds", "300")) * 1000,
    nodeOptions: scriptArg("node-options", operatorDeployment.nodeOptions),
    nodeArgs: scriptArg("node-args", operatorDeployment.nodeArgs.join(" "))
      .split(" ")
      .filter((a) => a !== ""),
    heapSnapshotDir: scriptArg("heap-snapshot", ""),
    firstRenderTimeoutMs: 60_000,
    log: (line) => process.stderr.write(`${line}\n`),
  }
  const section = resultsSection(await measureOperator(options), options)
  process.stdout.write(section)
  if (!flag("no-write")) appendFileSync(resolve(scriptArg("out", join(root, "bench", "OPERATOR-MEMORY.md"))), alignTables(section))
}
