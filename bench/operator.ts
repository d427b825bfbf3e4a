/**
 * The operator as the image runs it (the bundle, the Deployment's node flags and env) against the
 * stub API server (src/simulation/simulated-api-server.ts), through bench/operator-memory.ts's
 * `measureOperator` without its soak: idle RSS after a warm-up, then `--operator-bumps` revision
 * bumps, each waited for until ConfigMap cluster-backup-pod names it. Targets: idle RSS
 * < 100 MiB; p99 revision change -> ConfigMap < 1 s over the first 100 bumps; RSS flat across
 * the bumps (the last tenth's mean within 5 MiB of the first tenth's).
 */
import type { Benchmark } from "./harness/benchmark.ts"
import { quantile } from "./harness/stats.ts"
import { measureOperator, operatorDeployment } from "./operator-memory.ts"

/** How much the RSS may grow from the first to the last tenth of the bumps and still count as flat. */
const flatMiB = 5

export const operatorBenchmark: Benchmark = {
  name: "operator",
  title: "The operator: idle RSS, revision change to ConfigMap latency, RSS across bumps",
  reference: () => undefined,
  run: async (context) => {
    const quick = context.options.quick
    const options = {
      entry: context.cli,
      bumps: context.options.operatorBumps,
      soakMs: 0,
      warmupMs: quick ? 1000 : 20_000,
      idleMs: quick ? 2000 : 30_000,
      sampleMs: quick ? 100 : 200,
      soakBumpMs: 5000,
      dropMs: 60_000,
      compactMs: 300_000,
      nodeOptions: operatorDeployment.nodeOptions,
      nodeArgs: operatorDeployment.nodeArgs,
      heapSnapshotDir: "",
      // The smoke test runs beside everything else: on a loaded 2-core machine the first render has taken over a minute.
      firstRenderTimeoutMs: quick ? 300_000 : 60_000,
      log: context.log,
    }
    const m = await measureOperator(options)
    const first100 = m.latencies.slice(0, 100)
    const p99 = quantile(first100, 0.99)
    const growth = m.bumps.last - m.bumps.first
    const ms = (x: number) => `${x.toFixed(0)} ms`
    return {
      setup: [
        `The bundle's \`operator\` with the Deployment's env (${Object.entries(operatorDeployment.env)
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(
            ", ",
          )}), \`NODE_OPTIONS=${options.nodeOptions || "(none)"}\`, node flags \`${options.nodeArgs.join(" ") || "(none)"}\`, \`--settle 0s --min-interval 0s\`.`,
        `The stub API server over HTTP holds the OpenShift fixtures (seed 7). RSS from /proc/<pid>/status every ${options.sampleMs} ms: ${options.warmupMs / 1000} s warm-up after the first render, ${options.idleMs / 1000} s idle, then ${options.bumps} bumps of one operator CR's latestAvailableRevision, each waited for until the ConfigMap names it.`,
        "The 30-minute soak with watch drops and compactions is `node bench/operator-memory.ts` (bench/OPERATOR-MEMORY.md).",
      ],
      samples: [],
      figures: [
        `First render ${ms(m.firstRenderMs)} after start; idle RSS median **${m.idle.median.toFixed(1)} MiB** (min ${m.idle.min.toFixed(1)}, max ${m.idle.max.toFixed(1)}).`,
        `Revision change -> ConfigMap, first ${first100.length} bumps: p50 ${ms(quantile(first100, 0.5))}, p99 **${ms(p99)}**; all ${m.latencies.length}: p50 ${ms(quantile(m.latencies, 0.5))}, p99 ${ms(quantile(m.latencies, 0.99))}, max ${ms(Math.max(...m.latencies))} (${m.bumpSeconds.toFixed(0)} s).`,
        `RSS during the bumps: first tenth ${m.bumps.first.toFixed(1)} MiB, last tenth ${m.bumps.last.toFixed(1)} MiB (**${growth >= 0 ? "+" : ""}${growth.toFixed(1)} MiB**), max ${m.bumps.max.toFixed(1)} MiB; peak (VmHWM) ${m.peakMiB.toFixed(1)} MiB of the ${operatorDeployment.limitMiB} Mi limit; WARN lines ${m.warnings}.`,
      ],
      targets: [
        { text: `idle RSS < 100 MiB (${m.idle.median.toFixed(1)} MiB)`, met: m.idle.median < 100 },
        { text: `p99 revision change -> ConfigMap < 1 s over ${first100.length} bumps (${ms(p99)})`, met: p99 < 1000 },
        { text: `RSS flat across ${m.latencies.length} bumps: growth < ${flatMiB} MiB (${growth.toFixed(1)} MiB)`, met: growth < flatMiB },
      ],
    }
  },
}
