import { execFileSync, spawnSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { cliEntry, etcdTool, repoRoot } from "./support/tools.ts"

const versionOf = (tool: "etcd" | "etcdctl" | "etcdutl") =>
  execFileSync(etcdTool(tool), tool === "etcd" ? ["--version"] : ["version"], { encoding: "utf8" })

describe("toolchain", () => {
  it("runs on Node >= 22.19", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
    expect(major > 22 || (major === 22 && minor >= 19)).toBe(true)
  })

  it.each(["etcd", "etcdctl", "etcdutl"] as const)("%s is etcd 3.5", (tool) => {
    expect(versionOf(tool)).toMatch(/version:? 3\.5\.\d+/i)
  })

  it("etcdutl can bump the revision on restore (needed by restore)", () => {
    const help = execFileSync(etcdTool("etcdutl"), ["snapshot", "restore", "--help"], { encoding: "utf8" })
    expect(help).toContain("--bump-revision")
    expect(help).toContain("--mark-compacted")
  })

  it("a second set-up run installs nothing", () => {
    const run = spawnSync("bash", ["-c", `. ${join(repoRoot, "scripts", "setup.sh")}`], { encoding: "utf8" })
    expect(run.status).toBe(0)
    expect(run.stderr).not.toMatch(/installing|fetching/)
  })
})

describe("cluster-backup command", () => {
  const cli = (...args: Array<string>) => spawnSync(process.execPath, [cliEntry, ...args], { encoding: "utf8" })

  it("--version prints the package version", () => {
    const run = cli("--version")
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toBe("cluster-backup v0.1.0")
  })

  it("--help documents the logging flags", () => {
    const run = cli("--help")
    expect(run.status).toBe(0)
    expect(run.stdout).toContain("--log-format")
    expect(run.stdout).toContain("--log-level")
  })

  it("an unknown argument exits non-zero with the reason", () => {
    const run = cli("no-such-command")
    expect(run.status).not.toBe(0)
    expect(run.stderr + run.stdout).toContain("no-such-command")
  })
})
