import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { cliEntry } from "../support/tools.ts"

let dir = ""
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "prune-"))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const cli = (...args: Array<string>) => spawnSync(process.execPath, [cliEntry, ...args], { encoding: "utf8" })
const pair = (where: string, ts: string, suffix = "") => {
  writeFileSync(join(where, `snapshot_${ts}${suffix}.db`), "s".repeat(100))
  writeFileSync(join(where, `static_kuberesources_${ts}${suffix}.tar.gz`), "r".repeat(10))
}

describe("cluster-backup prune", () => {
  it("keeps the newest N backups, removes older ones and superseded leftovers, across both layouts", () => {
    pair(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000", "__POSSIBLY_DIRTY__")
    writeFileSync(join(dir, "snapshot_2026-01-03_000000.db.part"), "partial")
    for (const ts of ["2026-01-04_000000", "2026-01-05_000000"]) {
      const sub = join(dir, `backup-${ts}`)
      mkdirSync(sub)
      pair(sub, ts)
      writeFileSync(join(sub, "backup-manifest.json"), "{}")
    }
    writeFileSync(join(dir, "notes.txt"), "not a backup")
    mkdirSync(join(dir, "unrelated"))

    const dry = cli("prune", dir, "--keep-last", "2", "--dry-run")
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain("2 kept, 3 would be removed")
    expect(readdirSync(dir)).toHaveLength(9)

    const real = cli("prune", dir, "--keep-last", "2")
    expect(real.status).toBe(0)
    expect(real.stdout).toContain("2 kept, 3 removed")
    expect(readdirSync(dir).sort()).toEqual(["backup-2026-01-04_000000", "backup-2026-01-05_000000", "notes.txt", "unrelated"])
    expect(real.stderr).toContain("superseded")
  })

  it("always keeps the newest complete backup, even when it alone is over the size limit", () => {
    pair(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000")
    const run = cli("prune", dir, "--max-total-size", "10")
    expect(run.status).toBe(0)
    expect(existsSync(join(dir, "snapshot_2026-01-02_000000.db"))).toBe(true)
    expect(existsSync(join(dir, "snapshot_2026-01-01_000000.db"))).toBe(false)
  })

  it("refuses to run without a rule, and on a bad size, deleting nothing", () => {
    pair(dir, "2026-01-01_000000")
    pair(dir, "2026-01-02_000000")
    const none = cli("prune", dir)
    expect(none.status).not.toBe(0)
    expect(none.stderr).toContain("no retention rule given")
    const bad = cli("prune", dir, "--max-total-size", "lots")
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('"lots" is not a size')
    expect(readdirSync(dir)).toHaveLength(4)
  })
})
