/**
 * What one benchmark reports and how the results file shows it: each run's figures, the medians
 * per case and tool, the ratios to the case's reference tool, and whether each target is met.
 */
import { median } from "./stats.ts"

export const MiB = 1024 * 1024

/** One measured run of one tool on one case (a database size, an operation). */
export interface Sample {
  readonly case: string
  readonly tool: string
  readonly round: number
  readonly seconds: number
  /** The bytes the run moved (throughput = bytes / seconds); undefined where throughput means nothing. */
  readonly bytes: number | undefined
  readonly peakRssMiB: number
  readonly cpuSeconds: number
}

export interface Summary {
  readonly case: string
  readonly tool: string
  readonly runs: number
  readonly medianSeconds: number
  readonly medianMiBPerSecond: number | undefined
  readonly maxPeakRssMiB: number
  readonly medianCpuSeconds: number
  /** Median wall time over the reference's (lower is better); undefined for the reference itself. */
  readonly wallRatio: number | undefined
  /** Median throughput over the reference's (higher is better). */
  readonly throughputRatio: number | undefined
}

export interface Target {
  readonly text: string
  readonly met: boolean
}

/** A benchmark's part of the results: what `Benchmark.run` returns. */
export interface BenchFindings {
  /** How the benchmark was set up: one bullet each. */
  readonly setup: ReadonlyArray<string>
  readonly samples: ReadonlyArray<Sample>
  /** Figures that are not runs of a tool (the operator's latencies, ...): one bullet each. */
  readonly figures: ReadonlyArray<string>
  readonly targets: ReadonlyArray<Target>
  /** Files written beside the results file (a chart) and linked from the section. */
  readonly files?: ReadonlyArray<{ readonly name: string; readonly text: string; readonly caption: string }>
}

export interface BenchSection extends BenchFindings {
  readonly name: string
  readonly title: string
  readonly loadBefore: string
  readonly loadAfter: string
  readonly seconds: number
}

const throughput = (s: Sample) => (s.bytes === undefined ? undefined : s.bytes / MiB / s.seconds)

/** Medians per case and tool, in the samples' order of first appearance; `reference(case)` names the tool ratios are to. */
export const summarize = (samples: ReadonlyArray<Sample>, reference: (caseName: string) => string | undefined): ReadonlyArray<Summary> => {
  const cases = [...new Set(samples.map((s) => s.case))]
  const keys = [...new Map(samples.map((s) => [`${s.case}\u0000${s.tool}`, s])).values()]
    .map((s) => [s.case, s.tool] as const)
    .sort((a, b) => cases.indexOf(a[0]) - cases.indexOf(b[0]))
  const base = keys.map(([caseName, tool]) => {
    const of = samples.filter((s) => s.case === caseName && s.tool === tool)
    const rates = of.map(throughput).filter((r): r is number => r !== undefined)
    return {
      case: caseName,
      tool,
      runs: of.length,
      medianSeconds: median(of.map((s) => s.seconds)),
      medianMiBPerSecond: rates.length === 0 ? undefined : median(rates),
      maxPeakRssMiB: Math.max(...of.map((s) => s.peakRssMiB)),
      medianCpuSeconds: median(of.map((s) => s.cpuSeconds)),
    }
  })
  return base.map((b) => {
    const refTool = reference(b.case)
    const ref = base.find((r) => r.case === b.case && r.tool === refTool)
    const mine = ref === undefined || b.tool === refTool
    return {
      ...b,
      wallRatio: mine ? undefined : b.medianSeconds / ref.medianSeconds,
      throughputRatio:
        mine || b.medianMiBPerSecond === undefined || ref.medianMiBPerSecond === undefined ? undefined : b.medianMiBPerSecond / ref.medianMiBPerSecond,
    }
  })
}

/** The summary of `tool` on `caseName` (throws when the benchmark did not produce it: a harness bug). */
export const summaryOf = (summaries: ReadonlyArray<Summary>, caseName: string, tool: string): Summary => {
  const s = summaries.find((x) => x.case === caseName && x.tool === tool)
  if (s === undefined) throw new Error(`no runs of ${tool} on ${caseName}`)
  return s
}

const fixed = (x: number | undefined, digits = 1) => (x === undefined || Number.isNaN(x) ? "—" : x.toFixed(digits))
const ratioText = (x: number | undefined) => (x === undefined ? "reference" : `${x.toFixed(2)}x`)
const verdict = (t: Target) => `- ${t.met ? "target met" : "**target not met**"}: ${t.text}`

/** The markdown of one benchmark; `reference` as given to `summarize`. */
export const sectionMarkdown = (section: BenchSection, reference: (caseName: string) => string | undefined): string => {
  const summaries = summarize(section.samples, reference)
  const lines = [
    `## ${section.title}`,
    "",
    `\`--only ${section.name}\`; ${section.seconds.toFixed(0)} s. Load average (1, 5, 15 min) before: ${section.loadBefore}; after: ${section.loadAfter}.`,
    "",
    ...section.setup.map((s) => `- ${s}`),
    "",
  ]
  if (section.samples.length > 0) {
    lines.push(
      "| case | tool | runs | median s | median MiB/s | wall vs reference | throughput vs reference | median CPU s | peak RSS MiB (max) |",
      "|---|---|---|---|---|---|---|---|---|",
      ...summaries.map(
        (s) =>
          `| ${s.case} | ${s.tool} | ${s.runs} | ${fixed(s.medianSeconds, 2)} | ${fixed(s.medianMiBPerSecond)} | ${s.wallRatio === undefined ? ratioText(undefined) : ratioText(s.wallRatio)} | ${s.throughputRatio === undefined ? "—" : ratioText(s.throughputRatio)} | ${fixed(s.medianCpuSeconds, 2)} | ${fixed(s.maxPeakRssMiB)} |`,
      ),
      "",
    )
  }
  lines.push(...section.figures.map((f) => `- ${f}`), ...(section.figures.length > 0 ? [""] : []), ...section.targets.map(verdict), "")
  for (const file of section.files ?? []) lines.push(`![${file.caption}](${file.name})`, "")
  if (section.samples.length > 0) {
    lines.push(
      "<details><summary>Each run</summary>",
      "",
      "| # | round | case | tool | seconds | MiB/s | CPU s | peak RSS MiB |",
      "|---|---|---|---|---|---|---|---|",
      ...section.samples.map(
        (s, i) =>
          `| ${i + 1} | ${s.round} | ${s.case} | ${s.tool} | ${s.seconds.toFixed(2)} | ${fixed(throughput(s))} | ${fixed(s.cpuSeconds, 2)} | ${fixed(s.peakRssMiB)} |`,
      ),
      "",
      "</details>",
      "",
    )
  }
  return lines.join("\n")
}
