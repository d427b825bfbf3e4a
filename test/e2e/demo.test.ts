import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cliEntry } from "../support/tools.ts"

const root = mkdtempSync(join(tmpdir(), "demo-e2e-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Processes whose command line mentions `text` (etcd, the pod's containers, verify's etcd). */
const processesMentioning = (text: string): Array<string> =>
  readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ")
        return cmd.includes(text) ? [`${p}: ${cmd}`] : []
      } catch {
        return []
      }
    })

const runDemo = (args: ReadonlyArray<string>, onOutput?: (text: string, kill: () => void) => void) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliEntry, "demo", "--keys", "2000", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      onOutput?.(stdout, () => child.kill("SIGINT"))
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

describe("cluster-backup demo", () => {
  it("runs the whole cycle: backup files, verify passed, a re-render naming the bumped revision, nothing left running", async () => {
    const work = join(root, "full")
    const run = await runDemo(["--work-dir", work, "--keep"])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const backup = join(work, "backup")
    const files = readdirSync(backup).filter((f) => !f.startsWith("."))
    expect(files.some((f) => /^snapshot_\d{4}-\d\d-\d\d_\d{6}\.db$/.test(f))).toBe(true)
    expect(files.some((f) => /^static_kuberesources_\d{4}-\d\d-\d\d_\d{6}\.tar\.gz$/.test(f))).toBe(true)
    expect(files).toContain("backup-manifest.json")
    expect(run.stdout).toContain("verify: every check passed")
    expect(run.stdout).toMatch(/verify --test-restore\s+passed/)
    expect(run.stdout).toMatch(/revision pairing\s+consistent/)
    const bump = /the revision controller made kube-apiserver revision (\d+)/.exec(run.stdout)
    expect(bump).not.toBeNull()
    expect(run.stdout).toContain(`kube-apiserver ${Number(bump![1]) - 1} -> ${bump![1]}`)
    // Only the kept backup remains; nothing the demo started runs on.
    expect(readdirSync(work)).toEqual(["backup"])
    expect(processesMentioning(work)).toEqual([])
  })

  it("on Ctrl-C in the middle, stops everything it started and removes what it made", async () => {
    const work = join(root, "interrupted")
    let sent = false
    const run = await runDemo(["--work-dir", work], (out, kill) => {
      if (!sent && out.includes("==> 5/7")) {
        sent = true
        setTimeout(kill, 300)
      }
    })
    expect(sent).toBe(true)
    expect(run.code).not.toBe(0)
    expect(existsSync(work)).toBe(false)
    expect(processesMentioning(work)).toEqual([])
  })
})
