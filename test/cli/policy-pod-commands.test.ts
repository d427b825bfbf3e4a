/**
 * What a policy's backup pod runs after backup-create, command by command against a directory
 * store: `verify --report-out` leaves verification.json in the backup directory (pass or fail),
 * `backup-upload --report-file` stores it beside the manifest and writes the report the operator
 * reads from the termination message, only once the upload (and the prune) are over, and `list`
 * shows the backup verified.
 */
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { parseBackupPodReport } from "../../src/domain/backup-pod-report.ts"
import { decodeVerifyReport } from "../../src/programs/verify/verify-report.ts"
import { copyBackup, fakeBackupForSuite, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 90_000 })
const { work, backup } = fakeBackupForSuite("policy-pod-cli")
let etcdutl: string

beforeAll(() => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
})

/** A copy of the backup whose snapshot is not the one the manifest describes. */
const torn = (name: string) => {
  const dir = copyBackup(backup, join(tempDir(name, work), "backup"))
  writeFileSync(join(dir, readManifest(dir).files.snapshot.name), "truncated")
  return dir
}

const report = (path: string) => {
  const r = parseBackupPodReport(readFileSync(path, "utf8"))
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("a policy pod's verify, upload and report", { timeout: 200_000 }, () => {
  it("verify --report-out writes the JSON report; backup-upload stores it and reports the backup verified; list shows it", async () => {
    const dir = copyBackup(backup, join(tempDir("verified", work), "backup"))
    const out = join(dir, "verification.json")
    const verify = await cli("verify", dir, "--etcdutl", etcdutl, "--report-out", out)
    expect(verify.status, verify.stderr).toBe(0)
    const written = Result.getOrThrow(decodeVerifyReport(readFileSync(out, "utf8")))
    expect(written.passed).toBe(true)

    const store = tempDir("verified-store", work)
    const termination = join(work, "termination-log-verified")
    const up = await cli("backup-upload", "--store", store, "--backup-dir", dir, "--report-file", termination, "--keep-last", "3")
    expect(up.status, up.stderr).toBe(0)
    const manifest = readManifest(dir)
    expect(report(termination)).toEqual({
      id: manifest.timestamp,
      location: `${store}/${manifest.timestamp}/`,
      time: manifest.createdAt,
      revisions: manifest.revisions.requested,
      etcdRevision: manifest.etcd.revision,
      snapshotBytes: manifest.files.snapshot.size,
      resourcesBytes: manifest.files.resources.size,
      totalBytes: manifest.files.snapshot.size + manifest.files.resources.size,
      bytesUploaded: expect.any(Number),
      verdict: manifest.verdict,
      verified: true,
      verifyMode: "Full",
      pruned: 0,
    })
    expect(readFileSync(join(store, manifest.timestamp, "verification.json"), "utf8")).toBe(readFileSync(out, "utf8"))

    const list = await cli("list", store, "--json")
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: manifest.timestamp, complete: true, verified: true, verifyMode: "Full" })])
    const table = await cli("list", store)
    expect(table.stdout.split("\n")[1]).toMatch(/complete\s+full\s/)
  })

  it("a backup without verify's record is reported and listed unverified, and pruned is absent without a retention rule", async () => {
    const store = tempDir("unverified-store", work)
    const termination = join(work, "termination-log-unverified")
    const up = await cli("backup-upload", "--store", store, "--backup-dir", backup, "--report-file", termination)
    expect(up.status, up.stderr).toBe(0)
    const r = report(termination)
    expect(r).toMatchObject({ verified: false, verifyMode: "None" })
    expect(r.pruned).toBeUndefined()
    const list = await cli("list", store, "--json")
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ verified: false, verifyMode: null })])
  })

  it("verify --report-out records a failed verification too, and exits 1", async () => {
    const dir = torn("bad")
    const out = join(dir, "verification.json")
    const verify = await cli("verify", dir, "--etcdutl", etcdutl, "--report-out", out)
    expect(verify.status).toBe(1)
    expect(Result.getOrThrow(decodeVerifyReport(readFileSync(out, "utf8"))).passed).toBe(false)
  })

  it("backup-upload of a backup whose verification.json records a failure: stored unverified, with a warning saying so", async () => {
    const bad = torn("failed-record")
    expect((await cli("verify", bad, "--etcdutl", etcdutl, "--report-out", join(bad, "verification.json"))).status).toBe(1)
    const dir = copyBackup(backup, join(tempDir("failed-verification", work), "backup"))
    writeFileSync(join(dir, "verification.json"), readFileSync(join(bad, "verification.json")))
    const store = tempDir("failed-verification-store", work)
    const up = await cli("backup-upload", "--store", store, "--backup-dir", dir)
    expect(up.status, up.stderr).toBe(0)
    expect(up.stderr).toContain(`${join(dir, "verification.json")} does not vouch for backup `)
    expect(up.stderr).toContain("it is stored as unverified")
    const list = await cli("list", store, "--json")
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ verified: false })])
  })

  it("verify --report-out where no report can be written: exit 1 before any check, and no temporary file left where one could", async () => {
    const dir = copyBackup(backup, join(tempDir("unwritable", work), "backup"))
    for (const out of [join(dir, "missing", "verification.json"), dir]) {
      const verify = await cli("verify", dir, "--etcdutl", etcdutl, "--report-out", out)
      expect(verify.status).toBe(1)
      expect(verify.stderr).toContain(`error: cannot write ${out}: `)
      expect(verify.stdout).not.toContain("PASS")
    }
    const before = readdirSync(dir).sort()
    const ok = await cli("verify", dir, "--etcdutl", etcdutl, "--report-out", join(dir, "verification.json"))
    expect(ok.status, ok.stderr).toBe(0)
    expect(readdirSync(dir).sort()).toEqual([...before, "verification.json"].sort())
  })

  it("verify --report-out removes the temp files killed runs left beside the report (a minute old), not a fresh one nor another file's", async () => {
    const reports = tempDir("reports", work)
    const out = join(reports, "verification.json")
    const left = { killed: `${out}.tmp-4242`, fresh: `${out}.tmp-4243`, other: join(reports, "other.json.tmp-4244"), notPid: `${out}.tmp-keep` }
    for (const file of Object.values(left)) writeFileSync(file, "{")
    const twoMinutesAgo = new Date(Date.now() - 120_000)
    for (const file of [left.killed, left.other, left.notPid]) utimesSync(file, twoMinutesAgo, twoMinutesAgo)
    const verify = await cli("verify", backup, "--etcdutl", etcdutl, "--report-out", out)
    expect(verify.status, verify.stderr).toBe(0)
    expect(readdirSync(reports).sort()).toEqual(["other.json.tmp-4244", "verification.json", "verification.json.tmp-4243", "verification.json.tmp-keep"])
  })

  it("writes no report when the upload fails, and exits non-zero", async () => {
    const dir = torn("torn")
    const termination = join(work, "termination-log-failed")
    const up = await cli("backup-upload", "--store", tempDir("failed-store", work), "--backup-dir", dir, "--report-file", termination)
    expect(up.status).not.toBe(0)
    expect(existsSync(termination)).toBe(false)
  })
})
