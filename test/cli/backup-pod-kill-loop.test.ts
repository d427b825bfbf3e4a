/**
 * The backup pod's `backup-resources` and `backup-create` as processes, against the stub API
 * server: SIGKILLed at seeded random points of their work, then run to their end, they leave a
 * complete backup and no decoded Secret anywhere under the backup directory (no `building/`, no
 * staging area, no lock); SIGTERM in the middle of `backup-create` removes the staged Secrets.
 * KILL_LOOP_SEED replays another seed; the kill points are in the failure messages.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { type OperandName, operandNames } from "../../src/domain/operands.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { readResourcesRecord, writeResourcesRecord } from "../../src/programs/backup/resources-record.ts"
import {
  backupResourcesArgs,
  allInstallerFiles,
  revisions,
  sha256,
  stageAll,
  timestamp,
  writeFakeSnapshot,
  servedClusterForSuite,
} from "../programs/backup/backup-resources-harness.ts"
import { filesUnder, runAndKill, seededRandom } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"

const seed = Number(process.env.KILL_LOOP_SEED ?? 13)

const served = servedClusterForSuite("kill-loop")

const lockOf = (backupDir: string) => join(backupDir, ".cluster-backup", "run.lock")
const resourcesArgs = (backupDir: string, operand: OperandName) => backupResourcesArgs(backupDir, served.kubeconfig, operand)
const createArgs = (backupDir: string) => ["backup-create", "--backup-dir", backupDir, "--revisions", formatRevisionSet(revisions)]

/** Every decoded Secret value of the backup (long enough not to occur by chance) found in a file under `root`. */
const secretsUnder = (root: string) => {
  const secrets = [...allInstallerFiles(served.loaded.fixture)].filter(([p, f]) => p.includes("/secrets/") && f.bytes.length >= 20)
  expect(secrets.length).toBeGreaterThan(10)
  return [...filesUnder(root)].flatMap(([file, bytes]) => secrets.filter(([, s]) => bytes.includes(s.bytes)).map(([p]) => `${p} in ${file}`))
}

describe("the backup pod's commands under SIGKILL (stub API server)", () => {
  it(`backup-resources and backup-create killed at random points, then run to their end: a complete backup and no decoded Secret left (seed ${seed})`, async () => {
    const random = seededRandom(seed)
    const points: Array<string> = []
    const context = () => `kill points after the lock: ${points.join(", ")}`

    // Whole runs first, to spread the kill points over the time a run's work takes here.
    const warmDir = join(served.dir, "warm")
    const warmResources = await runAndKill(resourcesArgs(warmDir, "kube-apiserver"), lockOf(warmDir), 120_000)
    expect(warmResources.finished && warmResources.code, warmResources.stderr).toBe(0)
    await Effect.runPromise(stageAll(warmDir, served.loaded.cluster))
    await Effect.runPromise(writeFakeSnapshot(warmDir, revisions).pipe(Effect.provide(NodeServices.layer)))
    const warmCreate = await runAndKill(createArgs(warmDir), lockOf(warmDir), 120_000)
    expect(warmCreate.finished && warmCreate.code, warmCreate.stderr).toBe(0)

    const backupDir = join(served.dir, "backup")
    for (let i = 0; i < 6; i++) {
      const operand = operandNames[i % operandNames.length]!
      const delay = Math.round(random() * Math.max(50, warmResources.afterLockMs) * 1.1)
      const run = await runAndKill(resourcesArgs(backupDir, operand), lockOf(backupDir), delay)
      points.push(`resources ${operand} ${delay} ms${run.finished ? ` (finished, exit ${run.code})` : ""}`)
      if (run.finished) expect(run.code, run.stderr).toBe(0)
    }
    // The last one through the command, the others as the same program in this process (faster).
    const last = await runCli(resourcesArgs(backupDir, "kube-apiserver"))
    expect(last.status, `${context()}\n${last.stderr}`).toBe(0)
    expect(existsSync(join(backupDir, ".cluster-backup", "building")), context()).toBe(false)
    await Effect.runPromise(stageAll(backupDir, served.loaded.cluster))
    await Effect.runPromise(writeFakeSnapshot(backupDir, revisions).pipe(Effect.provide(NodeServices.layer)))

    for (let i = 0; i < 10; i++) {
      const delay = Math.round(random() * Math.max(50, warmCreate.afterLockMs) * 1.1)
      const run = await runAndKill(createArgs(backupDir), lockOf(backupDir), delay)
      points.push(`create ${delay} ms${run.finished ? ` (finished, exit ${run.code})` : ""}`)
      if (run.finished) expect(run.code, run.stderr).toBe(0)
    }
    const created = await runCli(createArgs(backupDir))
    expect(created.status, `${context()}\n${created.stderr}`).toBe(0)

    expect(readdirSync(backupDir).sort(), context()).toEqual([
      ".cluster-backup",
      "backup-manifest.json",
      `snapshot_${timestamp}.db`,
      `static_kuberesources_${timestamp}.tar.gz`,
    ])
    expect(readdirSync(join(backupDir, ".cluster-backup")), context()).toEqual(["snapshot.json"])
    expect(secretsUnder(backupDir), context()).toEqual([])
    const manifest = decodeBackupManifest(created.stdout)
    expect(Result.isSuccess(manifest), created.stdout).toBe(true)
    const entries = Result.isSuccess(manifest) ? manifest.success.entries : []
    const expected = allInstallerFiles(served.loaded.fixture)
    expect(entries.map((e) => e.path).sort()).toEqual([...expected.keys()].sort())
    for (const e of entries) expect(e.sha256, e.path).toBe(sha256(expected.get(e.path)!.bytes))
  }, 300_000)

  it("SIGTERM in the middle of backup-create's tarball exits non-zero and leaves no staged Secret, tarball, manifest or lock", async () => {
    const backupDir = join(served.dir, "term")
    await Effect.runPromise(stageAll(backupDir, served.loaded.cluster))
    await Effect.runPromise(writeFakeSnapshot(backupDir, revisions).pipe(Effect.provide(NodeServices.layer)))
    // 24 MiB of incompressible bytes staged (and recorded) beside etcd's: the tarball takes long
    // enough to be caught in the middle. An API object holds at most 1 MiB, hence by hand.
    const bigPath = "static-pod-resources/etcd-pod-3/configmaps/etcd-endpoints/big"
    const big = randomBytes(24 * 1024 * 1024)
    writeFileSync(join(backupDir, ".cluster-backup", "staging", bigPath), big, { mode: 0o600 })
    await Effect.runPromise(
      Effect.gen(function* () {
        const record = (yield* readResourcesRecord(backupDir, "etcd"))!
        const files = [...record.files, { path: bigPath, size: big.length, mode: 0o600, sha256: sha256(big) }].sort((a, b) => (a.path < b.path ? -1 : 1))
        yield* writeResourcesRecord(backupDir, { ...record, files })
      }).pipe(Effect.provide(NodeServices.layer)),
    )

    const part = join(backupDir, `static_kuberesources_${timestamp}.tar.gz.part`)
    const run = await runCli(createArgs(backupDir), {
      during: async (child) => {
        for (let i = 0; i < 30_000 && !existsSync(part) && !child.ended(); i++) await new Promise((r) => setTimeout(r, 2))
        expect(existsSync(part), `the tarball should be in progress\n${child.stderr()}`).toBe(true)
        child.kill("SIGTERM")
      },
    })
    expect(run.status, run.stderr).not.toBe(0)
    expect(run.stderr).toContain("interrupted")
    expect(readdirSync(backupDir).sort()).toEqual([".cluster-backup", `snapshot_${timestamp}.db`])
    expect(readdirSync(join(backupDir, ".cluster-backup"))).toEqual(["snapshot.json"])
  }, 120_000)
})
