/**
 * A FIFO, a symbolic link to /dev/zero or /dev/urandom, or a directory in place of a backup's
 * snapshot, tarball or manifest: `verify` and `restore --dry-run` refuse it at once, naming the
 * path and what is there, and change nothing. Before, a FIFO blocked `open` in libuv's thread pool
 * and kept verify alive through SIGTERM. Every case runs through the programs in-process; the FIFO
 * cases (the ones that hung through signals) also run through the real command in a child process,
 * with a deadline.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, rmSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { verifyBackup } from "../../src/programs/verify/verify.ts"
import { renderVerifyReport } from "../../src/programs/verify/verify-report.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { Etcdutl } from "../../src/services/etcdutl.ts"
import { Tarball } from "../../src/services/tarball/tarball.ts"
import { fakeBackupForSuite, makeHostTree, readManifest, restoreOnHost, writeScriptedEtcdutl, type HostTree } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { runCli } from "../support/run-cli.ts"

/** Far more than a refusal takes (about a second; many on a loaded machine), far less than a hang (forever). */
const deadlineMs = 90_000

/** Runs the command; a run past the deadline is killed (SIGKILL: a blocked open ignores SIGTERM) and reported as status null. */
const cli = (args: ReadonlyArray<string>) => runCli(args, { timeoutMs: deadlineMs, killSignal: "SIGKILL" })

interface Kind {
  readonly name: string
  readonly make: (path: string) => void
  readonly found: RegExp
}

const fifo: Kind = { name: "a FIFO", make: (p) => execFileSync("mkfifo", [p]), found: /is a FIFO \(named pipe\), not a regular file/ }
const kinds: ReadonlyArray<Kind> = [
  fifo,
  {
    name: "a symbolic link to /dev/zero",
    make: (p) => symlinkSync("/dev/zero", p),
    found: /is a symbolic link to \/dev\/zero \(a character device\), not a regular file/,
  },
  {
    name: "a symbolic link to /dev/urandom",
    make: (p) => symlinkSync("/dev/urandom", p),
    found: /is a symbolic link to \/dev\/urandom \(a character device\), not a regular file/,
  },
  { name: "a directory", make: (p) => mkdirSync(p), found: /is a directory, not a regular file/ },
]
const files = ["snapshot", "resources", "manifest"] as const
type BackupFile = (typeof files)[number]

const { work, backup } = fakeBackupForSuite("cli-special")

/** A host tree whose backup has `kind` in place of `file`; returns that path. */
const spoiled = (file: BackupFile, kind: Kind): HostTree & { readonly path: string; readonly etcdutl: string } => {
  const host = makeHostTree(work, backup)
  const etcdutl = writeScriptedEtcdutl(join(host.root, "usr/local/bin/etcdutl"))
  const manifest = readManifest(host.backupDir)
  const path = join(host.backupDir, file === "manifest" ? "backup-manifest.json" : manifest.files[file].name)
  rmSync(path)
  kind.make(path)
  return { ...host, path, etcdutl }
}

const restoreId = "5d0c4c3e-2f8b-4a51-9f0e-7b6a1c2d3e4f"

describe("a special file in place of a backup file (the programs)", () => {
  for (const file of files) {
    for (const kind of kinds) {
      it(`${kind.name} as the ${file}: verify and restore --dry-run refuse it at once, naming it, and change nothing`, async () => {
        const host = spoiled(file, kind)
        const before = snapshotTree(host.root)
        const layer = Layer.mergeAll(Etcdutl.live({ binary: host.etcdutl }), DiskSpace.live, Tarball.live, NodeServices.layer)
        const started = Date.now()

        const report = await Effect.runPromise(verifyBackup({ backupDir: host.backupDir }).pipe(Effect.provide(layer)))
        const text = renderVerifyReport(report)
        expect(report.passed, text).toBe(false)
        const failed = report.checks.filter((c) => c.verdict === "FAIL")
        expect(
          failed.some((c) => c.found.includes(host.path) && kind.found.test(c.found)),
          text,
        ).toBe(true)

        const out: Array<string> = []
        const exit = await Effect.runPromiseExit(restoreOnHost(host, out, { restoreId, dryRun: true }).pipe(Effect.provide(layer)))
        expect(Exit.isFailure(exit), out.join("")).toBe(true)
        const said = Exit.isFailure(exit) ? Cause.pretty(exit.cause) + out.join("") : ""
        expect(said).toContain(host.path)
        expect(said).toMatch(kind.found)

        expect(Date.now() - started).toBeLessThan(10_000)
        expect(snapshotTree(host.root)).toEqual(before)
      })
    }
  }
})

describe("a FIFO in place of a backup file (the command)", () => {
  for (const file of files) {
    it(`as the ${file}: verify and restore --dry-run exit non-zero, naming it`, { timeout: 3 * deadlineMs }, async () => {
      const host = spoiled(file, fifo)
      const verify = await cli(["verify", host.backupDir, "--etcdutl", host.etcdutl])
      expect(verify.status, `${verify.ms} ms: ${verify.output}`).toBe(1)
      expect(verify.output).toContain(host.path)
      expect(verify.output).toMatch(fifo.found)

      const dry = await cli(["restore", host.backupDir, "--dry-run", "--root", host.root, "--member-name", "master-0", "--etcdutl", host.etcdutl])
      expect(dry.status, `${dry.ms} ms: ${dry.output}`).not.toBeNull()
      expect(dry.status, dry.output).not.toBe(0)
      expect(dry.output).toContain(host.path)
      expect(dry.output).toMatch(fifo.found)
    })
  }
})
