/**
 * `cluster-backup verify` as a person or a script runs it: the text report and exit 0 for a good
 * backup, one JSON document with `--json`, exit 1 with the failing checks named on stderr for a
 * bad one, and flag errors. The backup is the deterministic fake one with a scripted etcdutl
 * (verify's checks against real etcd are in test/programs/verify.test.ts).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeVerifyReport } from "../../src/programs/verify/verify-report.ts"
import { copyBackup, fakeBackupForSuite, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { cliOnFilledTmpfs, volumeListing } from "../support/filled-tmpfs.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 60_000 })

const { work, backup } = fakeBackupForSuite("cli-verify")
let etcdutl: string

beforeAll(() => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
})

describe("cluster-backup verify", () => {
  it("prints one line per check and exits 0 when every check passes", async () => {
    const run = await cli("verify", backup, "--etcdutl", etcdutl)
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe(`backup 2026-01-02_030405 in ${backup}: snapshot_2026-01-02_030405.db, static_kuberesources_2026-01-02_030405.tar.gz`)
    // Without --trusted-key the backup is unauthenticated: a warning, not a failure.
    expect(
      lines
        .slice(1, -1)
        .filter((l) => !l.startsWith("PASS "))
        .map((l) => l.split(/ +/).slice(0, 2).join(" ")),
    ).toEqual(["WARN manifest-signature"])
    expect(lines.at(-1)).toBe("verify: PASS (18 checks)")
    expect(run.stdout).toContain(
      `PASS snapshot-sha256           the snapshot's sha256 is the manifest's: expected ${readManifest(backup).files.snapshot.sha256}`,
    )
  })

  it("a directory with no backup of its own but backups below it (a parent of several, a directory store's root): the failure names them", async () => {
    const parent = tempDir("cli-verify-parent")
    copyBackup(backup, join(parent, "b1"))
    copyBackup(backup, join(parent, "cluster-backup", "abc", "2026-01-02_030405"))
    const run = await cli("verify", parent, "--etcdutl", etcdutl)
    expect(run.status).toBe(1)
    expect(run.stdout).toContain("backups lie below it, in b1/, cluster-backup/abc/2026-01-02_030405/: give one of those directories")
  })

  it("--json prints one document with every check", async () => {
    const run = await cli("verify", "--json", backup, "--etcdutl", etcdutl, "--timestamp", "2026-01-02_030405")
    expect(run.status, run.stderr).toBe(0)
    const report = Result.getOrThrow(decodeVerifyReport(run.stdout))
    expect(report.passed).toBe(true)
    expect(report.checks).toHaveLength(18)
    expect(report.checks.find((c) => c.id === "snapshot-revision")).toEqual({
      id: "snapshot-revision",
      title: "the snapshot's etcd revision is at least the member's revision recorded just before the snapshot",
      verdict: "PASS",
      expected: "at least 4242",
      found: "4242",
    })
  })

  it("exits 1 and names the failed checks when the backup is damaged", async () => {
    const dir = copyBackup(backup, join(tempDir("bad", work), "backup"))
    const tarball = join(dir, readManifest(dir).files.resources.name)
    const bytes = readFileSync(tarball)
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    writeFileSync(tarball, bytes)
    const run = await cli("verify", dir, "--etcdutl", etcdutl)
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/^FAIL tarball-sha256 /m)
    expect(run.stdout).toMatch(/^FAIL tarball-readable /m)
    expect(run.stderr).toContain(
      `error: backup 2026-01-02_030405 in ${dir} did not pass 6 of 18 checks: tarball-sha256, tarball-readable, tarball-operands, tarball-layout, tarball-entries, certificates [BackupVerificationFailed]`,
    )
    const json = await cli("verify", dir, "--json", "--etcdutl", etcdutl)
    expect(json.status).toBe(1)
    expect(Result.getOrThrow(decodeVerifyReport(json.stdout)).passed).toBe(false)
  })

  it("a test restore with no room in --scratch-dir: the run is incomplete, not a failed backup, and says what to do", () => {
    const run = cliOnFilledTmpfs(1024 * 1024, ["verify", backup, "--etcdutl", etcdutl, "--test-restore", "--scratch-dir", "scratch"])
    expect(run.status, run.stderr).toBe(1)
    expect(run.stdout).toMatch(/^SKIP test-restore +.*: not checked: \S*scratch has no room for the test restore/m)
    expect(run.stdout).not.toMatch(/^FAIL /m)
    expect(run.stdout).toMatch(
      /^verify: INCOMPLETE \(\d+ of \d+ checks could not run: test-restore, test-restore-revision, test-restore-keys, test-restore-operator-revisions.*; none failed\)$/m,
    )
    expect(run.stdout).toMatch(/^SKIP test-restore-keys +.*: not checked: the test restore could not run$/m)
    expect(run.stderr).toMatch(
      /error: backup 2026-01-02_030405 in \S+ is not verified: \d+ of \d+ checks could not run \(test-restore, .*\), and none failed\. test-restore: not checked: \S*scratch has no room for the test restore .*give --scratch-dir on a volume with that much free \[BackupVerificationIncomplete\]/,
    )
    expect(run.stderr).not.toContain("BackupVerificationFailed")
    expect(volumeListing(run.stdout)).toEqual(["filler", "scratch"])
  })

  it("refuses a malformed --timestamp and reports a missing directory as a failed check", async () => {
    const bad = await cli("verify", backup, "--timestamp", "2026-02-30_000000")
    expect(bad.status).not.toBe(0)
    expect(bad.stderr + bad.stdout).toMatch(/timestamp/)
    const missing = await cli("verify", join(work, "nowhere"), "--etcdutl", etcdutl)
    expect(missing.status).toBe(1)
    expect(missing.stdout).toMatch(/^FAIL backup-files .*cannot read the directory/m)
    const manifest = join(backup, "backup-manifest.json")
    const file = await cli("verify", manifest, "--etcdutl", etcdutl)
    expect(file.status).toBe(1)
    expect(file.stdout).toContain(`found ${manifest} is a file, not a backup directory: give the directory that holds it, ${backup}\n`)
  })
})
