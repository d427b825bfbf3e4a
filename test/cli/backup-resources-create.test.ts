/**
 * The commands as the backup pod runs them: `node bin/cluster-backup.js backup-resources
 * --kubeconfig <file>` against the stub API server (the live Kube layer over HTTP) for the four
 * operands, then `backup-create`; and their failures' exit codes and messages.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { decodeResourcesRecord } from "../../src/programs/backup/resources-record.ts"
import {
  backupResourcesArgs,
  allInstallerFiles,
  gnuTarExtract,
  revisions,
  timestamp,
  walk,
  writeFakeSnapshot,
  servedClusterForSuite,
} from "../programs/backup/backup-resources-harness.ts"
import { runCli } from "../support/run-cli.ts"

const cli = (...args: Array<string>) => runCli(args)

const served = servedClusterForSuite("cli-backup")

describe("cluster-backup backup-resources and backup-create (stub API server)", () => {
  it("stage the four revisions over the API, one after another as the pod runs them, and finish a backup GNU tar extracts byte for byte", async () => {
    const backupDir = join(served.dir, "backup")
    // One at a time: each run holds the backup directory's lock (a second one at once is refused).
    const runs = []
    for (const operand of Object.keys(revisions) as Array<keyof typeof revisions>) {
      runs.push(await runCli(backupResourcesArgs(backupDir, served.kubeconfig, operand)))
    }
    for (const run of runs) expect(run.status, run.stderr).toBe(0)
    // stdout is the record, as written to the staging area.
    const etcdRecord = decodeResourcesRecord(runs[0]!.stdout, "stdout")
    expect(Result.isSuccess(etcdRecord) && etcdRecord.success.operand === "etcd").toBe(true)
    // Each operand's reads went through the HTTP server.
    expect(served.server.httpRequests.some((r) => r.path === "/api/v1/namespaces/openshift-kube-scheduler/secrets/localhost-recovery-client-token-6")).toBe(
      true,
    )

    await Effect.runPromise(writeFakeSnapshot(backupDir, revisions).pipe(Effect.provide(NodeServices.layer)))
    const report = join(served.dir, "termination-log")
    const create = (reportFile: string, ...global: ReadonlyArray<string>) =>
      cli(...global, "backup-create", "--backup-dir", backupDir, "--revisions", formatRevisionSet(revisions), "--report-file", reportFile)
    const created = await create(report, "--log-format", "json")
    expect(created.status, created.stderr).toBe(0)
    // What backup-pod reads from the pod's status: the backup and its verdict.
    expect(JSON.parse(readFileSync(report, "utf8"))).toEqual({ id: timestamp, verdict: "consistent", reasons: [] })
    // A report that cannot be written does not fail a complete backup (the pod would lose it): it is said.
    const again = await create(join(served.dir, "absent", "log"))
    expect(again.status, again.stderr).toBe(0)
    expect(again.stderr).toContain(`backup ${timestamp} is complete, but`)
    expect(readdirSync(backupDir).sort()).toEqual([
      ".cluster-backup",
      "backup-manifest.json",
      `snapshot_${timestamp}.db`,
      `static_kuberesources_${timestamp}.tar.gz`,
    ])
    expect(created.stdout).toBe(readFileSync(join(backupDir, "backup-manifest.json"), "utf8"))
    const manifest = decodeBackupManifest(created.stdout)
    expect(Result.isSuccess(manifest) && manifest.success.verdict).toBe("consistent")

    const expected = allInstallerFiles(served.loaded.fixture)
    const extracted = [...walk(gnuTarExtract(join(backupDir, `static_kuberesources_${timestamp}.tar.gz`), served.dir))].filter(([, e]) => e.kind === "file")
    expect(extracted.map(([p]) => p).sort()).toEqual([...expected.keys()].sort())
    for (const [p, e] of extracted) expect(e.bytes!.equals(expected.get(p)!.bytes), p).toBe(true)
  }, 180_000)

  it("exit non-zero with the reason: a revision that does not exist, a backup without its inputs", async () => {
    const backupDir = join(served.dir, "failing")
    const missing = await cli(
      "backup-resources",
      "--backup-dir",
      backupDir,
      "--kubeconfig",
      served.kubeconfig,
      "--operand",
      "kube-apiserver",
      "--revision",
      "99",
    )
    expect(missing.status).not.toBe(0)
    expect(missing.stderr).toContain("ConfigMap openshift-kube-apiserver/revision-status-99 was not found")
    expect(missing.stderr).toContain("[RevisionNotFound]")
    expect(missing.stdout).toBe("")

    const created = await cli("backup-create", "--backup-dir", backupDir, "--revisions", formatRevisionSet(revisions))
    expect(created.status).not.toBe(0)
    expect(created.stderr).toContain("backup-resources for kube-scheduler revision 6 did not run or failed")
    expect(created.stderr).toContain("[BackupInputsMissing]")
    expect(readdirSync(backupDir)).toEqual([".cluster-backup"])
  })
})
