/**
 * The built command (`npm run build`: the bundle the image runs, see deploy/Containerfile) does
 * what the sources do, from a directory outside the repository (no node_modules, as in the image)
 * and with Node's type stripping turned off: every subcommand loads, backup-init takes a snapshot
 * from a real etcd 3.5 over TLS, and backup-resources and backup-create make a backup through the
 * stub API server.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { beforeAll, describe, expect, it } from "vitest"
import { Effect, Result, Schema } from "effect"
import { subcommandNames } from "../src/cli/root-command.ts"
import { decodeBackupManifest } from "../src/domain/backup-manifest.ts"
import { formatRevisionSet } from "../src/domain/revisions.ts"
import { SnapshotRecord } from "../src/programs/backup-dir/snapshot-record.ts"
import {
  allInstallerFiles,
  backupResourcesArgs,
  loadedCluster,
  revisions,
  serveWithKubeconfig,
  writeFakeSnapshot,
} from "./programs/backup/backup-resources-harness.ts"
import { backupInitArgs, TestEtcd } from "./support/etcd-fixture.ts"
import { runCli } from "./support/run-cli.ts"
import { tempDir } from "./support/temp-dir.ts"
import { repoRoot, sourceEntry } from "./support/tools.ts"

// Outside the repository: the bundle must run without node_modules, as in the image.
const outDir = tempDir("build-test")
const builtEntry = join(outDir, "cluster-backup.js")
const withoutTypeStripping = { NODE_OPTIONS: "--no-experimental-strip-types" }
const runBuilt = (args: ReadonlyArray<string>) => runCli(args, { env: withoutTypeStripping, entry: builtEntry })

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [relative(outDir, join(dir, e.name))]))

beforeAll(() => {
  execFileSync(process.execPath, [join(repoRoot, "scripts", "build.ts"), "--outdir", outDir], { cwd: repoRoot })
}, 120_000)

describe("npm run build", () => {
  it("bundles the command into one entry, chunks loaded on demand, and package.json", () => {
    const files = filesUnder(outDir)
    // And etcd3's gRPC definitions, which it reads at run time (the demo seeds its etcd with it).
    expect(files.filter((f) => !f.startsWith("chunks/")).sort()).toEqual([
      "cluster-backup.js",
      "package.json",
      "proto/auth.proto",
      "proto/kv.proto",
      "proto/rpc.proto",
    ])
    // The image links it into PATH as `cluster-backup`.
    expect(statSync(builtEntry).mode & 0o111).toBe(0o111)
    // One chunk per subcommand, so a process loads only the one it runs.
    expect(files.some((f) => /^chunks\/backup-init-command-\w+\.js$/.test(f))).toBe(true)
    // Besides code only the licence comments of bundled packages (esbuild's legalComments).
    expect(files.filter((f) => !f.endsWith(".js") && !f.endsWith(".js.LEGAL.txt") && !f.startsWith("proto/"))).toEqual(["package.json"])
  })

  it("leaves out client-node's generated models, which its config module imports through its index", () => {
    const chunks = filesUnder(outDir)
      .filter((f) => f.endsWith(".js"))
      .map((f) => ({ f, code: readFileSync(join(outDir, f), "utf8") }))
    // esbuild names each bundled module in a comment: KubeConfig is in, none of ~760 models is
    // (they were half the operator's Kubernetes chunk and ~10 MiB of its idle RSS).
    expect(chunks.some(({ code }) => code.includes("// node_modules/@kubernetes/client-node/dist/config.js"))).toBe(true)
    expect(chunks.filter(({ code }) => code.includes("// node_modules/@kubernetes/client-node/dist/gen/models/")).map(({ f }) => f)).toEqual([])
  })

  it("carries the simulation only in what the demo loads: no other subcommand's chunks hold it", () => {
    const code = new Map(
      filesUnder(outDir)
        .filter((f) => f.endsWith(".js"))
        .map((f) => [f, readFileSync(join(outDir, f), "utf8")]),
    )
    // Chunks load each other by relative path, statically and with import("...").
    const loads = (chunk: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(chunk) || !code.has(chunk)) return seen
      seen.add(chunk)
      for (const m of code.get(chunk)!.matchAll(/(?:from|import)\s*\(?\s*"(\.\/[^"]+\.js)"/g)) loads(join(dirname(chunk), m[1]!), seen)
      return seen
    }
    const simulationIn = (chunk: string) => [...loads(chunk)].filter((f) => code.get(f)!.includes("\n// src/simulation/"))
    const commands = [...code.keys()].filter((f) => /^chunks\/[\w-]+-command-\w+\.js$/.test(f))
    expect(commands.some((f) => f.startsWith("chunks/operator-command-"))).toBe(true)
    for (const chunk of commands) {
      if (chunk.startsWith("chunks/demo-command-")) expect(simulationIn(chunk), chunk).not.toEqual([])
      else expect(simulationIn(chunk), chunk).toEqual([])
    }
  })

  it("loads the demo, with etcd3 and the gRPC definitions it reads at run time", async () => {
    // The demo's modules load before its flags are acted on: a bundle without etcd3's proto files failed here.
    const aFile = join(outDir, "package.json")
    const run = await runBuilt(["demo", "--work-dir", aFile])
    expect(run.stderr).toContain(`error: --work-dir: cannot create directory ${aFile}: ${aFile} exists and is not a directory`)
    expect(run.status).toBe(1)
  })

  it("--version and the help of the command and of every subcommand are what the sources print", async () => {
    const argvs = [["--version"], ["--help"], ...subcommandNames.map((name) => [name, "--help"])]
    // A few at a time: dozens of Node start-ups at once on 2 cores only queue behind each other.
    const pending = [...argvs]
    const check = async (): Promise<void> => {
      for (let argv = pending.shift(); argv !== undefined; argv = pending.shift()) {
        const [built, source] = await Promise.all([runBuilt(argv), runCli(argv, { entry: sourceEntry })])
        expect(built.stderr, argv.join(" ")).toBe("")
        expect(built.status, argv.join(" ")).toBe(0)
        expect(built.stdout, argv.join(" ")).toBe(source.stdout)
      }
    }
    await Promise.all([check(), check()])
  }, 180_000)
})

layer(TestEtcd.layer(), { excludeTestServices: true })("the built backup-init", (it) => {
  it.effect("takes a snapshot from etcd over TLS as the sources do", () =>
    Effect.gen(function* () {
      const etcd = yield* TestEtcd
      const backupDir = join(etcd.workDir, "built")
      const run = yield* Effect.promise(() => runBuilt(backupInitArgs(backupDir, etcd.member.clientUrl, etcd.tls)))
      assert.strictEqual(run.status, 0, run.stderr)
      const record = Schema.decodeUnknownSync(SnapshotRecord)(JSON.parse(run.stdout))
      assert.strictEqual(statSync(join(backupDir, record.snapshotFile)).size, record.size)
      assert.include(run.stderr, `snapshot ${record.snapshotFile} complete`)
    }),
  )
})

describe("the built backup-resources and backup-create", () => {
  it("make a consistent backup through the stub API server", async () => {
    const loaded = loadedCluster()
    const work = tempDir("build-test-backup")
    const { server, kubeconfig } = await serveWithKubeconfig(loaded.cluster, work)
    try {
      const backupDir = join(work, "backup")
      for (const operand of Object.keys(revisions) as Array<keyof typeof revisions>) {
        const run = await runBuilt(backupResourcesArgs(backupDir, kubeconfig, operand))
        expect(run.status, run.stderr).toBe(0)
      }
      await Effect.runPromise(writeFakeSnapshot(backupDir, revisions).pipe(Effect.provide(NodeServices.layer)))
      const created = await runBuilt(["backup-create", "--backup-dir", backupDir, "--revisions", formatRevisionSet(revisions)])
      expect(created.status, created.stderr).toBe(0)
      const manifest = decodeBackupManifest(created.stdout)
      assert.isTrue(Result.isSuccess(manifest), created.stdout)
      const { verdict, entries } = Result.isSuccess(manifest) ? manifest.success : { verdict: undefined, entries: [] }
      expect(verdict).toBe("consistent")
      // Every file the installer would have written, with its content's hash.
      const expected = allInstallerFiles(loaded.fixture)
      expect(entries.map((e) => e.path).sort()).toEqual([...expected.keys()].sort())
      for (const e of entries) expect(e.sha256, e.path).toBe(createHash("sha256").update(expected.get(e.path)!.bytes).digest("hex"))
    } finally {
      await server.close()
    }
  }, 60_000)
})
