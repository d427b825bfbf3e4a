import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./support/run-cli.ts"
import { tempDir } from "./support/temp-dir.ts"
import { etcdTool, repoRoot, sourceEntry } from "./support/tools.ts"

const versionOf = (tool: "etcd" | "etcdctl" | "etcdutl") => execFileSync(etcdTool(tool), tool === "etcd" ? ["--version"] : ["version"], { encoding: "utf8" })

describe("toolchain", () => {
  it("runs on Node >= 22.19", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
    expect(major > 22 || (major === 22 && minor >= 19)).toBe(true)
  })

  it("the source tree's command run by a Node that cannot strip types says so and how to run it, instead of ERR_UNKNOWN_FILE_EXTENSION", () => {
    // The project's Node with type stripping turned off fails as the machine's Node 20 does.
    const run = spawnSync(process.execPath, ["--no-experimental-strip-types", sourceEntry, "list", "/nowhere"], { encoding: "utf8" })
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(
      `error: cluster-backup runs from its TypeScript sources, which needs Node 22.19 or later with type stripping; ${process.execPath} is Node ${process.version}, with type stripping turned off. ` +
        "Run it as `bash scripts/cluster-backup.sh ARGS` (the project's own Node, installed by scripts/setup.sh), or put Node >= 22.19 first on PATH [NodeCannotRunTypeScript]\n",
    )
    expect(run.stdout).toBe("")
  })

  it.each(["etcd", "etcdctl", "etcdutl"] as const)("%s is etcd 3.5", (tool) => {
    expect(versionOf(tool)).toMatch(/version:? 3\.5\.\d+/i)
  })

  it("etcdutl can bump the revision on restore (needed by restore)", () => {
    const help = execFileSync(etcdTool("etcdutl"), ["snapshot", "restore", "--help"], { encoding: "utf8" })
    expect(help).toContain("--bump-revision")
    expect(help).toContain("--mark-compacted")
  })

  it("a set-up interrupted between a package's binaries (age, then age-keygen) installs it again instead of taking it as complete", () => {
    // A copy of the project whose toolchain is complete but for age-keygen: the run stopped after moving age.
    const root = tempDir("setup-half")
    const tools = join(root, ".tools")
    mkdirSync(join(root, "scripts"))
    copyFileSync(join(repoRoot, "scripts", "setup.sh"), join(root, "scripts", "setup.sh"))
    copyFileSync(join(repoRoot, "package-lock.json"), join(root, "package-lock.json"))
    mkdirSync(join(root, "node_modules"))
    copyFileSync(join(repoRoot, "package-lock.json"), join(root, "node_modules", ".cb-lock-stamp"))
    // The packages set-up marks complete with a stamp of their version: taken as installed.
    for (const [name, variable] of [
      ["swift", "CB_SWIFT_VERSION"],
      ["xfs", "CB_XFSPROGS_VERSION"],
    ]) {
      mkdirSync(join(tools, name!), { recursive: true })
      const version = new RegExp(`^${variable}="([^"]+)"$`, "m").exec(readFileSync(join(repoRoot, "scripts", "setup.sh"), "utf8"))![1]
      writeFileSync(join(tools, name!, ".complete"), `${version}\n`)
    }
    for (const name of ["etcd", "rclone"]) symlinkSync(realpathSync(join(repoRoot, ".tools", name)), join(tools, name))
    mkdirSync(join(tools, "age", "bin"), { recursive: true })
    symlinkSync(realpathSync(join(repoRoot, ".tools", "age", "bin", "age")), join(tools, "age", "bin", "age"))
    // No download here: an apt-get that refuses shows whether the set-up tried to fetch age again.
    const fake = join(root, "fake-bin")
    mkdirSync(fake)
    writeFileSync(join(fake, "apt-get"), "#!/bin/sh\nexit 1\n", { mode: 0o755 })
    const run = spawnSync("bash", ["-c", `. ${join(root, "scripts", "setup.sh")}`], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${fake}:${dirname(process.execPath)}:${process.env.PATH}` },
    })
    expect(run.stderr).toMatch(/fetching age /)
    expect(run.status).not.toBe(0)
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
