/** The bench harness's pure parts: statistics, samples to medians and ratios, the command line, table reading, the chart. */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { alignTables, markdownTables, tableWith } from "../../bench/harness/markdown-table.ts"
import { parseBenchArgs } from "../../bench/harness/options.ts"
import { scriptArg } from "../../bench/harness/script-args.ts"
import { MiB, type Sample, sectionMarkdown, summarize } from "../../bench/harness/report.ts"
import { firstAndLastTenth, median, quantile, slope, williamsOrder } from "../../bench/harness/stats.ts"
import { lineChartSvg } from "../../bench/harness/svg-chart.ts"

const values = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 })

describe("stats", () => {
  test.prop([values, fc.double({ min: 0, max: 1, noNaN: true })])("a quantile other than the even median is one of the values", (xs, q) => {
    fc.pre(q !== 0.5)
    expect(xs).toContain(quantile(xs, q))
  })
  test.prop([values])("the median lies between the smallest and the largest value and ignores the order", (xs) => {
    const m = median(xs)
    expect(m).toBeGreaterThanOrEqual(Math.min(...xs))
    expect(m).toBeLessThanOrEqual(Math.max(...xs))
    // == rather than Object.is: a list holding both 0 and -0 may put either in the middle, and they are the same figure.
    expect(median([...xs].reverse()) === m).toBe(true)
  })
  it("medians of odd and even counts; empty gives NaN", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
    expect(quantile([5, 1, 4, 2, 3], 0.99)).toBe(5)
  })
  test.prop([fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true })])(
    "the slope of points on a line is the line's",
    (a, b) => {
      const xs = [0, 1, 2, 3, 4]
      expect(
        slope(
          xs,
          xs.map((x) => a * x + b),
        ),
      ).toBeCloseTo(a, 6)
    },
  )
  it("the first and last tenth", () => {
    expect(firstAndLastTenth(Array.from({ length: 20 }, (_, i) => i))).toEqual({ first: 0.5, last: 18.5 })
    expect(firstAndLastTenth([7])).toEqual({ first: 7, last: 7 })
  })
  test.prop([fc.integer({ min: 1, max: 8 }), fc.nat(20)])("every round runs every tool once", (n, round) => {
    expect([...williamsOrder(n, round)].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
  })
  it("over n rounds (n even) each tool follows each other tool exactly once", () => {
    const n = 4
    const pairs = new Set<string>()
    for (let r = 0; r < n; r++) {
      const order = williamsOrder(n, r)
      for (let i = 1; i < n; i++) pairs.add(`${order[i - 1]}>${order[i]}`)
    }
    expect(pairs.size).toBe(n * (n - 1))
  })
})

const sample = (tool: string, seconds: number, overrides: Partial<Sample> = {}): Sample => ({
  case: "1024 MiB db",
  tool,
  round: 1,
  seconds,
  bytes: 1024 * MiB,
  peakRssMiB: 100,
  cpuSeconds: 1,
  ...overrides,
})

describe("summarize", () => {
  it("medians per case and tool, ratios to the reference: of the median walls, and of the median throughputs", () => {
    const samples = [sample("ours", 4), sample("ref", 8), sample("ours", 6, { round: 2, peakRssMiB: 120 }), sample("ref", 10, { round: 2 })]
    const [ours, ref] = summarize(samples, () => "ref")
    expect(ours).toMatchObject({ tool: "ours", runs: 2, medianSeconds: 5, maxPeakRssMiB: 120, wallRatio: 5 / 9 })
    expect(ours!.throughputRatio).toBeCloseTo((1024 / 4 + 1024 / 6) / (1024 / 8 + 1024 / 10), 9)
    expect(ref).toMatchObject({ tool: "ref", wallRatio: undefined, throughputRatio: undefined })
  })
  it("groups by case in the order cases first appear, and leaves throughput out where no bytes were counted", () => {
    const samples = [sample("a", 1, { case: "upload" }), sample("a", 1, { case: "download", bytes: undefined }), sample("b", 2, { case: "upload" })]
    const s = summarize(samples, () => "b")
    expect(s.map((x) => `${x.case}/${x.tool}`)).toEqual(["upload/a", "upload/b", "download/a"])
    expect(s[2]).toMatchObject({ medianMiBPerSecond: undefined, wallRatio: undefined })
  })
  it("a section shows the medians, each run and every verdict", () => {
    const text = sectionMarkdown(
      {
        name: "x",
        title: "X against Y",
        loadBefore: "1.00, 1.00, 1.00",
        loadAfter: "2.00, 1.00, 1.00",
        seconds: 3,
        setup: ["set up"],
        samples: [sample("ours", 4), sample("ref", 8)],
        figures: ["a figure"],
        targets: [
          { text: "wall <= 1.0x (0.50x)", met: true },
          { text: "memory", met: false },
        ],
      },
      () => "ref",
    )
    expect(text).toContain("## X against Y")
    expect(text).toContain("| 1024 MiB db | ours | 1 | 4.00 | 256.0 | 0.50x | 2.00x | 1.00 | 100.0 |")
    expect(text).toContain("| 1024 MiB db | ref | 1 | 8.00 | 128.0 | reference | — |")
    expect(text).toContain("- target met: wall <= 1.0x (0.50x)")
    expect(text).toContain("- **target not met**: memory")
    expect(text).toContain("| 2 | 1 | 1024 MiB db | ref | 8.00 | 128.0 | 1.00 | 100.0 |")
  })
})

describe("parseBenchArgs", () => {
  const names = ["backup-pod", "age"]
  const parse = (argv: ReadonlyArray<string>) => parseBenchArgs(argv, names, "bench/RESULTS.md")
  it("full sizes by default, small ones and one round with --quick, flags over both", () => {
    expect(Result.getOrThrow(parse([]))).toMatchObject({ quick: false, sizesMiB: [256, 1024, 4096], cycleMiB: 1024, rounds: 3, only: undefined })
    expect(Result.getOrThrow(parse(["--quick"]))).toMatchObject({ quick: true, sizesMiB: [16, 32], cycleMiB: 16, rounds: 1 })
    expect(Result.getOrThrow(parse(["--quick", "--sizes", "64,8,64", "--rounds", "2", "--only", "age", "--out", "x.md"]))).toMatchObject({
      sizesMiB: [8, 64],
      rounds: 2,
      only: ["age"],
      out: "x.md",
    })
  })
  it("refuses what it cannot use, saying what it takes", () => {
    expect(parse(["--rounds", "0"])).toEqual(Result.fail('--rounds takes a positive whole number, not "0"'))
    expect(parse(["--sizes", "256,x"])).toEqual(Result.fail('--sizes takes a positive whole number, not "x"'))
    expect(Result.isFailure(parse(["--out"]))).toBe(true)
    expect(parse(["--only", "age,nope"])).toEqual(Result.fail("--only: no benchmark named nope; the benchmarks: backup-pod, age"))
    expect(String(Result.merge(parse(["--fast"])))).toMatch(/^unknown argument "--fast"; usage: npm run bench/)
  })
})

describe("markdown tables", () => {
  const text = ["# t", "", "| a | b |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |", "", "| c |", "| --- |", "| x |", ""].join("\n")
  it("reads every table, and rows by header name", () => {
    expect(markdownTables(text)).toEqual([
      {
        header: ["a", "b"],
        rows: [
          ["1", "2"],
          ["3", "4"],
        ],
      },
      { header: ["c"], rows: [["x"]] },
    ])
    expect(tableWith(text, "t.md", ["b", "a"])).toEqual([
      { a: "1", b: "2" },
      { a: "3", b: "4" },
    ])
  })
  it("a missing column is an error naming the source and the columns", () => {
    expect(() => tableWith(text, "t.md", ["a", "z"])).toThrow('t.md wrote no table with the columns "a", "z"')
  })
  it("lays tables out as Biome does: columns as wide as their widest cell (at least 3), the rule as wide", () => {
    expect(alignTables(["x", "| tool | s |", "|---|---|", "| age — CLI | 12.5 |", "| ours | 9 |", "", "| c |", "| --- |"].join("\n"))).toBe(
      ["x", "| tool      | s    |", "| --------- | ---- |", "| age — CLI | 12.5 |", "| ours      | 9    |", "", "| c   |", "| --- |"].join("\n"),
    )
  })
  const cell = fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", "-", "—", "é", "*", "."), maxLength: 12 }).map((c) => c.trim() || "x")
  const table = fc
    .integer({ min: 1, max: 4 })
    .chain((columns) =>
      fc.tuple(
        fc.array(cell, { minLength: columns, maxLength: columns }),
        fc.array(fc.array(cell, { minLength: columns, maxLength: columns }), { maxLength: 5 }),
      ),
    )
  const tableText = ([header, rows]: [ReadonlyArray<string>, ReadonlyArray<ReadonlyArray<string>>]) =>
    [`|${header.join("|")}|`, `|${header.map(() => "-").join("|")}|`, ...rows.map((r) => `|${r.join("|")}|`)].join("\n")
  test.prop([fc.array(fc.oneof(table.map(tableText), fc.constantFrom("# heading", "", "- a line | with a bar", "text")), { maxLength: 6 })])(
    "keeps every cell and every other line, aligns every column, and is idempotent",
    (blocks) => {
      const source = blocks.join("\n\n")
      const aligned = alignTables(source)
      expect(markdownTables(aligned)).toEqual(markdownTables(source))
      expect(alignTables(aligned)).toBe(aligned)
      expect(aligned.split("\n").filter((l) => !l.startsWith("|"))).toEqual(source.split("\n").filter((l) => !l.startsWith("|")))
      for (const t of aligned.split("\n\n").filter((b) => b.startsWith("|"))) {
        const bars = t.split("\n").map((l) => [...l].flatMap((ch, i) => (ch === "|" ? [[...l.slice(0, i)].length] : [])).join(","))
        expect(new Set(bars).size).toBe(1)
      }
    },
  )
})

describe("lineChartSvg", () => {
  it("one polyline per series with two or more points, a legend entry each, the limit dashed", () => {
    const svg = lineChartSvg(
      [
        {
          title: "T",
          yLabel: "MiB/s",
          series: [
            {
              name: "a <b>",
              points: [
                { x: 256, y: 100 },
                { x: 1024, y: 150 },
              ],
            },
            { name: "c", points: [{ x: 256, y: Number.NaN }] },
          ],
          limit: { y: 120, label: "limit" },
        },
      ],
      "size",
    )
    expect(svg.match(/<polyline /g)).toHaveLength(1)
    expect(svg).toContain("a &lt;b&gt;")
    expect(svg).toContain('stroke-dasharray="6 4"')
    expect(svg).not.toContain("NaN")
    // An SVG without a title has no alternative text (and fails the linter, which checks the committed chart).
    expect(svg).toMatch(/^<svg [^\n]*>\n<title>[^<]+<\/title>/)
  })
})

describe("a standalone script's arguments", () => {
  test.prop([fc.stringMatching(/^[a-z][a-z-]{0,10}$/), fc.string(), fc.string()])("the value after --name, else the fallback", (name, value, fallback) => {
    expect(scriptArg(name, fallback, ["node", "script.ts", `--${name}`, value])).toBe(value)
    expect(scriptArg(name, fallback, ["node", "script.ts", `--${name}`])).toBe(fallback)
    expect(scriptArg(name, fallback, ["node", "script.ts", `--${name}x`, value])).toBe(fallback)
  })
})
