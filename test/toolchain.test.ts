import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./support/run-cli.ts"
import { etcdTool, repoRoot } from "./support/tools.ts"

const versionOf = (tool: "etcd" | "etcdctl" | "etcdutl") => execFileSync(etcdTool(tool), tool === "etcd" ? ["--version"] : ["version"], { encoding: "utf8" })

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

describe("npm scripts on a machine whose own Node is too old", () => {
  // The machine's Node (20 here), first on PATH, as on a fresh machine: every script must reach
  // the project's Node 24 through scripts/with-toolchain.sh, not run `node` directly.
  const machineNode = ["/usr/local/bin/node", "/usr/bin/node"].find((p) => existsSync(p))
  const npm = (...args: Array<string>) =>
    spawnSync("npm", ["run", "--silent", ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, PATH: `${dirname(machineNode!)}:/usr/bin:/bin` },
      timeout: 120_000,
    })

  it("the machine's node is older than the project needs (else this proves nothing)", () => {
    const version = execFileSync(machineNode!, ["--version"], { encoding: "utf8" }).trim()
    expect(version).toMatch(/^v(?:1\d|20|21|22\.(?:1[0-8]|\d))\./)
  })

  it.each([
    ["build", "--help", /usage: npm run build/],
    ["demo", "--help", /--work-dir/],
    ["typecheck", "--version", /Version/],
  ])("npm run %s -- %s runs on the project's Node", (script, arg, expected) => {
    const run = npm(script, "--", arg)
    expect(run.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|SyntaxError/)
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(expected)
  })

  it("every npm script goes through the toolchain", () => {
    const scripts = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).scripts as Record<string, string>
    for (const command of Object.values(scripts)) expect(command).toMatch(/^bash scripts\/(?:with-toolchain|test|cluster-backup)\.sh\b/)
  })
})

describe("cluster-backup command", () => {
  const cli = (...args: Array<string>) => runCli(args)

  it("--version prints the package version", async () => {
    const run = await cli("--version")
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toBe("cluster-backup v0.1.0")
  })

  it("--help documents the logging flags", async () => {
    const run = await cli("--help")
    expect(run.status).toBe(0)
    expect(run.stdout).toContain("--log-format")
    expect(run.stdout).toContain("--log-level")
  })

  it("an unknown argument exits non-zero with the reason", async () => {
    const run = await cli("no-such-command")
    expect(run.status).not.toBe(0)
    expect(run.stderr + run.stdout).toContain("no-such-command")
  })
})
