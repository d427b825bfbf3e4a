import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const dir = tempDir("hold")

const cli = (...args: Array<string>) => runCli(args)

describe("cluster-backup hold", () => {
  it("lists the backup files, waits the given time and exits 0", async () => {
    writeFileSync(join(dir, "snapshot_2026-01-02_030405.db"), "x".repeat(10))
    const started = Date.now()
    const run = await cli("--log-format", "json", "hold", "--backup-dir", dir, "--duration", "1s")
    expect(run.status).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    const lines = run.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { message: unknown; annotations: Record<string, unknown> })
    const file = lines.find((l) => l.annotations.file === "snapshot_2026-01-02_030405.db")
    expect(file?.annotations.bytes).toBe(10)
  })

  it("SIGTERM while holding (the pod deleted once the backup was copied) ends it at once, exit 0: the hold did its job", async () => {
    const run = await runCli(["hold", "--backup-dir", dir, "--duration", "1h"], {
      during: async (child) => {
        while (!child.ended() && !child.stderr().includes("holding ")) await new Promise((r) => setTimeout(r, 20))
        child.kill("SIGTERM")
      },
    })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain("hold ended before its time (the pod is being stopped): exiting")
    expect(run.stderr).not.toContain("error:")
  })

  it("refuses a malformed duration without waiting", async () => {
    const run = await cli("hold", "--backup-dir", dir, "--duration", "1 hour")
    expect(run.status).not.toBe(0)
    expect(run.stderr + run.stdout).toContain("not a duration")
  })

  it("fails when the backup directory does not exist", async () => {
    const run = await cli("hold", "--backup-dir", join(dir, "missing"), "--duration", "1s")
    expect(run.status).toBe(1)
    // The one errno mapper's words, naming the path; not effect's "NotFound: FileSystem.readDirectory".
    expect(run.stderr).toContain(`cannot list ${join(dir, "missing")}: ENOENT`)
    expect(run.stderr).not.toContain("PlatformError")
  })
})
