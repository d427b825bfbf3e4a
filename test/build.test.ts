/**
 * The built command (`npm run build`: the JavaScript tree the image runs, see deploy/Containerfile)
 * does what the sources do, with Node's type stripping turned off: every subcommand loads, and
 * backup-init takes a snapshot from a real etcd 3.5 over TLS.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, rmSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { assert, layer } from "@effect/vitest"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { subcommandNames } from "../src/cli/root-command.ts"
import { SnapshotRecord } from "../src/programs/snapshot-record.ts"
import { TestEtcd } from "./support/etcd-fixture.ts"
import { repoRoot, runCli } from "./support/tools.ts"

// Inside the repository, so that packages resolve from its node_modules as they do in the image.
const outDir = join(repoRoot, ".tmp", `build-test-${process.pid}`)
const builtEntry = join(outDir, "bin", "cluster-backup.js")
const withoutTypeStripping = { NODE_OPTIONS: "--no-experimental-strip-types" }
const runBuilt = (args: ReadonlyArray<string>) => runCli(args, withoutTypeStripping, builtEntry)

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [relative(outDir, join(dir, e.name))]))

beforeAll(() => {
  execFileSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", outDir], { cwd: repoRoot })
}, 120_000)
afterAll(() => rmSync(outDir, { recursive: true, force: true }))

describe("npm run build", () => {
  it("emits the command and its sources as JavaScript, and package.json for the version", () => {
    const files = filesUnder(outDir)
    expect(files).toContain("bin/cluster-backup.js")
    expect(files).toContain("src/cli/backup-init-command.js")
    expect(files.filter((f) => !f.endsWith(".js"))).toEqual(["package.json"])
  })

  it("--version and the help of the command and of every subcommand are what the sources print", async () => {
    const argvs = [["--version"], ["--help"], ...subcommandNames.map((name) => [name, "--help"])]
    const runs = await Promise.all(argvs.map(async (argv) => ({ argv, built: await runBuilt(argv), source: await runCli(argv) })))
    for (const { argv, built, source } of runs) {
      expect(built.stderr, argv.join(" ")).toBe("")
      expect(built.status, argv.join(" ")).toBe(0)
      expect(built.stdout, argv.join(" ")).toBe(source.stdout)
    }
  }, 60_000)
})

layer(TestEtcd.layer(), { excludeTestServices: true })("the built backup-init", (it) => {
  it.effect("takes a snapshot from etcd over TLS as the sources do", () =>
    Effect.gen(function* () {
      const { member, tls, workDir } = yield* TestEtcd
      const backupDir = join(workDir, "built")
      const run = yield* Effect.promise(() =>
        runBuilt(["backup-init", "--backup-dir", backupDir, "--etcd-endpoints", member.clientUrl, "--etcd-cert", tls.clientCert, "--etcd-key", tls.clientKey, "--etcd-cacert", tls.caCert]),
      )
      assert.strictEqual(run.status, 0, run.stderr)
      const record = Schema.decodeUnknownSync(SnapshotRecord)(JSON.parse(run.stdout))
      assert.strictEqual(statSync(join(backupDir, record.snapshotFile)).size, record.size)
      assert.include(run.stderr, `snapshot ${record.snapshotFile} complete`)
    }),
  )
})
