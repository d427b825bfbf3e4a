/**
 * The smoke test of `npm run bench`: `--quick --parallel` (small sizes, one round, the benchmarks
 * at the same time) must give every benchmark its figures, a verdict with a number on every
 * target, and the scaling chart. Whether the targets are met is not asserted: on a loaded
 * machine and at 16 MiB they mean nothing.
 */
import { execFile, execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { benchmarks } from "../../bench/run.ts"
import { tableWith } from "../../bench/harness/markdown-table.ts"
import { tempDir } from "../support/temp-dir.ts"
import { repoRoot } from "../support/tools.ts"

const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stderr: string }>((done) => {
    execFile(process.execPath, [join(repoRoot, "bench", "run.ts"), ...args], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stderr }),
    )
  })

describe("npm run bench -- --quick", () => {
  it("produces every benchmark's figures, a verdict with its number on every target, and the chart", { timeout: 15 * 60_000 }, async () => {
    const dir = tempDir("bench-quick")
    const out = join(dir, "RESULTS.md")
    const { code, stderr } = await run(["--quick", "--parallel", "--out", out])
    expect(code, stderr.slice(-5000)).toBe(0)
    const text = readFileSync(out, "utf8")
    expect(text).not.toContain("produced no figures")
    const verdicts = tableWith(text, "RESULTS.md", ["benchmark", "target", "verdict"])
    for (const b of benchmarks) {
      expect(text, b.name).toContain(`## ${b.title}`)
      const mine = verdicts.filter((v) => v.benchmark === b.name)
      expect(mine.length, b.name).toBeGreaterThan(0)
      // Every target names its measured figure: a ratio, MiB or ms, never NaN.
      for (const v of mine) expect(v.target, b.name).toMatch(/\((-?\d+(\.\d+)?(x| MiB| ms))\)$/)
      for (const v of mine) expect(["met", "**not met**"], b.name).toContain(v.verdict)
    }
    // Committed as written: `npm test` checks bench/ with Biome, which lays out markdown tables.
    const formatted = execFileSync(join(repoRoot, "node_modules", ".bin", "biome"), ["format", "--stdin-file-path=bench/RESULTS.md"], {
      cwd: repoRoot,
      input: text,
      encoding: "utf8",
    })
    expect(formatted).toBe(text)
    const svg = join(dir, "backup-init-scaling.svg")
    expect(existsSync(svg)).toBe(true)
    const chart = readFileSync(svg, "utf8")
    expect(chart).toMatch(/^<svg /)
    expect(chart).toContain("cluster-backup backup-init")
    expect(chart).toContain("etcdctl snapshot save")
    expect(chart.match(/<polyline /g)?.length).toBe(5)
  })

  it("refuses an unknown benchmark name, naming the known ones, and exits 2", async () => {
    const { code, stderr } = await run(["--only", "nonesuch"])
    expect(code).toBe(2)
    expect(stderr).toContain("--only: no benchmark named nonesuch")
    expect(stderr).toContain("backup-pod")
  })
})
