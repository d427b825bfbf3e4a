/**
 * verify on backups made by the backup pod's real programs against etcd 3.5 over TLS: a good
 * backup passes every check (and a test restore); every backup of the bad corpus fails the checks
 * that name its fault; a dirty backup fails its pairing unless allowed; the selection of the
 * backup in a directory; the test restore leaves nothing behind, also when it fails.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Fiber, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BackupManifest } from "../../../src/domain/backup-manifest.ts"
import { verifyBackup, verifyBackupWithEvidence, type VerifyOptions } from "../../../src/programs/verify/verify.ts"
import { renderVerifyReport, type VerifyReport } from "../../../src/programs/verify/verify-report.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { startTicksOf } from "../../../src/services/run-lock.ts"
import { badBackups, copyBackup, makeBackup, readManifest, revisions, seedCluster, startSharedEtcd, type SharedEtcd } from "../../support/bad-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"
import { etcdTool } from "../../support/tools.ts"

const verify = (options: VerifyOptions): Promise<VerifyReport> =>
  Effect.runPromise(verifyBackup(options).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(), NodeServices.layer))))

const staticChecks = [
  "backup-files",
  "manifest",
  "manifest-describes-files",
  "manifest-signature",
  "snapshot-trailer",
  "snapshot-size",
  "snapshot-sha256",
  "snapshot-status",
  "snapshot-revision",
  "snapshot-db-size",
  "tarball-size",
  "tarball-sha256",
  "tarball-readable",
  "tarball-operands",
  "tarball-layout",
  "tarball-entries",
  "revision-pairing",
  "versions",
  "bundle-decryption",
  "certificates",
]
const restoreChecks = [
  "test-restore",
  "test-restore-revision",
  "test-restore-keys",
  "test-restore-operator-revisions",
  "test-restore-key-counts",
  "test-restore-decryption",
]

const check = (report: VerifyReport, id: string) => {
  const found = report.checks.find((c) => c.id === id)
  if (found === undefined) throw new Error(`no check ${id} in ${renderVerifyReport(report)}`)
  return found
}

let etcd: SharedEtcd
let good: string
let manifest: BackupManifest

beforeAll(async () => {
  etcd = await startSharedEtcd("verify")
  good = join(etcd.workDir, "good")
  manifest = await Effect.runPromise(makeBackup(good, etcd.member.connection, loadedCluster()))
})

afterAll(async () => {
  await etcd?.close()
})

describe("verify", () => {
  it("reports what it verified for a caller that goes on to use the backup: the manifest as decoded, the snapshot's size and its trailer as hashed", async () => {
    const { report, evidence } = await Effect.runPromise(
      verifyBackupWithEvidence({ backupDir: good }).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(), NodeServices.layer))),
    )
    expect(report.passed).toBe(true)
    expect(evidence.manifest).toEqual(manifest)
    const snapshot = readFileSync(join(good, manifest.files.snapshot.name))
    expect(evidence.snapshot?.size).toBe(snapshot.length)
    expect(Buffer.from(evidence.snapshot!.trailer).equals(snapshot.subarray(snapshot.length - 32))).toBe(true)
  })

  it("reports no snapshot evidence when the trailer does not verify", async () => {
    const dir = join(etcd.workDir, "evidence-bad-trailer")
    copyBackup(good, dir)
    const path = join(dir, manifest.files.snapshot.name)
    const bytes = readFileSync(path)
    bytes[bytes.length - 1]! ^= 1
    writeFileSync(path, bytes)
    const { report, evidence } = await Effect.runPromise(
      verifyBackupWithEvidence({ backupDir: dir }).pipe(Effect.provide(Layer.mergeAll(Etcdutl.live(), NodeServices.layer))),
    )
    expect(report.passed).toBe(false)
    expect(evidence.snapshot).toBeUndefined()
  })

  it("passes every check of a backup made by backup-init, backup-resources and backup-create", async () => {
    const report = await verify({ backupDir: good })
    expect(report.checks.map((c) => c.id)).toEqual(staticChecks)
    // Without --trusted-key the backup is unauthenticated: a warning, not a failure.
    expect(
      report.checks.filter((c) => c.verdict !== "PASS").map((c) => [c.id, c.verdict]),
      renderVerifyReport(report),
    ).toEqual([["manifest-signature", "WARN"]])
    expect(report.passed).toBe(true)
    expect(report.timestamp).toBe(manifest.timestamp)
    expect(check(report, "snapshot-sha256").found).toBe(manifest.files.snapshot.sha256)
    expect(check(report, "tarball-sha256").found).toBe(manifest.files.resources.sha256)
    expect(check(report, "tarball-entries").found).toBe(`${manifest.entries.length} files, all equal`)
    expect(check(report, "tarball-operands").found).toBe(
      "static-pod-resources/etcd-pod-3, static-pod-resources/kube-apiserver-pod-7, static-pod-resources/kube-controller-manager-pod-5, static-pod-resources/kube-scheduler-pod-6",
    )
    expect(check(report, "snapshot-status").found).toMatch(/^hash \d+, revision \d+, \d+ keys \(all revisions\), \d+ bytes$/)
    const text = renderVerifyReport(report)
    expect(text).toMatch(
      /^PASS snapshot-trailer +the snapshot's database hashes to etcd's 32-byte sha256 trailer: expected trailer [0-9a-f]{64}; found sha256 [0-9a-f]{64} of \d+ database bytes$/m,
    )
    expect(text.trimEnd().split("\n").at(-1)).toBe(`verify: PASS (${staticChecks.length} checks)`)
  })

  it("with a test restore, reads the operator CRs back from a throwaway member and removes it (in a scratch directory it makes)", async () => {
    // Not there yet: made, as a work directory is (the free-space read failed on it).
    const scratch = join(mkdtempSync(join(etcd.workDir, "scratch-")), "new", "scratch")
    const report = await verify({ backupDir: good, testRestore: true, scratchDir: scratch })
    expect(report.checks.map((c) => c.id)).toEqual([...staticChecks, ...restoreChecks])
    // Without --trusted-key the backup is unauthenticated: a warning, not a failure.
    expect(
      report.checks.filter((c) => c.verdict !== "PASS").map((c) => [c.id, c.verdict]),
      renderVerifyReport(report),
    ).toEqual([["manifest-signature", "WARN"]])
    expect(check(report, "test-restore-operator-revisions").found).toBe("etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6")
    expect(Number(/^(\d+) keys$/.exec(check(report, "test-restore-keys").found)?.[1])).toBeGreaterThanOrEqual(504)
    expect(check(report, "test-restore-revision").found).toBe(`revision ${manifest.etcd.revision}`)
    expect(readdirSync(scratch)).toEqual([])
  })

  it("no room in the scratch directory: the test restore is not checked (the backup is not blamed), the run does not pass, and says where to restore instead", async () => {
    const scratch = mkdtempSync(join(etcd.workDir, "scratch-"))
    // etcdutl as on a full scratch volume: its real version and help, and the error its restore gives at ENOSPC.
    const full = join(etcd.workDir, "etcdutl-full")
    writeFileSync(
      full,
      [
        "#!/bin/sh",
        'if [ "$1 $2" = "snapshot restore" ] && [ "$3" != "--help" ]; then echo "Error: write data/member/snap/db: no space left on device" >&2; exit 1; fi',
        `exec ${JSON.stringify(etcdTool("etcdutl"))} "$@"`,
      ].join("\n"),
      { mode: 0o755 },
    )
    const report = await Effect.runPromise(
      verifyBackup({ backupDir: good, testRestore: true, scratchDir: scratch }).pipe(
        Effect.provide(Layer.mergeAll(Etcdutl.live({ binary: full }), NodeServices.layer)),
      ),
    )
    const restored = check(report, "test-restore")
    expect(restored.verdict).toBe("SKIP")
    expect(restored.found).toContain(`${scratch} has no room for the test restore`)
    expect(restored.found).toContain("--scratch-dir")
    expect(report.checks.filter((c) => c.verdict === "FAIL").map((c) => c.id)).toEqual([])
    expect(renderVerifyReport(report).trimEnd().split("\n").at(-1)).not.toMatch(/PASS/)
    expect(readdirSync(scratch)).toEqual([])
  })

  it("a scratch directory without room for the restored member is found before anything is written there, not by filling its file system", async () => {
    const scratch = mkdtempSync(join(etcd.workDir, "scratch-"))
    // The real etcdutl, recording every restore it is asked for.
    const restores = join(etcd.workDir, "restores-asked")
    const recording = join(etcd.workDir, "etcdutl-recording")
    writeFileSync(
      recording,
      [
        "#!/bin/sh",
        `if [ "$1 $2" = "snapshot restore" ]; then echo "$@" >> ${JSON.stringify(restores)}; fi`,
        `exec ${JSON.stringify(etcdTool("etcdutl"))} "$@"`,
      ].join("\n"),
      { mode: 0o755 },
    )
    const snapshotBytes = manifest.files.snapshot.size
    // Room for the database, not for etcd's 64 MiB write-ahead log beside it.
    const tight = DiskSpace.inMemory({ availableBytes: snapshotBytes + 1024 * 1024, totalBytes: 1024 ** 3 })
    const report = await Effect.runPromise(
      verifyBackup({ backupDir: good, testRestore: true, scratchDir: scratch }).pipe(
        Effect.provide(Layer.mergeAll(Etcdutl.live({ binary: recording }), NodeServices.layer, tight)),
      ),
    )
    const restored = check(report, "test-restore")
    expect(restored.verdict, renderVerifyReport(report)).toBe("SKIP")
    expect(restored.found).toContain(`${scratch} has no room for the test restore`)
    expect(restored.found).toContain("needed")
    expect(existsSync(restores)).toBe(false)
    expect(readdirSync(scratch)).toEqual([])
    expect(report.passed).toBe(false)
  })

  it("removes the scratch data a killed test restore left (its process gone), and no one else's", async () => {
    const scratch = mkdtempSync(join(etcd.workDir, "scratch-"))
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!
    const ticks = await startTicksOf(process.pid)
    const left = {
      killed: `cluster-backup-test-restore-p${gone}t12345-AbCdEf`,
      running: `cluster-backup-test-restore-p${process.pid}t${ticks}-GhIjKl`,
      unnamed: "cluster-backup-test-restore-MnOpQr",
    }
    for (const name of Object.values(left)) {
      mkdirSync(join(scratch, name, "data", "member"), { recursive: true })
      writeFileSync(join(scratch, name, "data", "member", "db"), "x")
    }
    const report = await verify({ backupDir: good, testRestore: true, scratchDir: scratch })
    expect(check(report, "test-restore").verdict).toBe("PASS")
    expect(readdirSync(scratch).sort()).toEqual([left.running, left.unnamed].sort())
  })

  it("an interrupted test restore stops what it started and removes its scratch data", async () => {
    const scratch = mkdtempSync(join(etcd.workDir, "scratch-"))
    const marker = join(etcd.workDir, "member-pid")
    // An "etcd" that records its pid and never becomes healthy: the test restore is caught waiting for it.
    const slowEtcd = join(etcd.workDir, "slow-etcd")
    writeFileSync(slowEtcd, `#!/bin/bash\necho $$ > ${JSON.stringify(marker)}\nexec sleep 60\n`, { mode: 0o755 })
    const fiber = Effect.runFork(
      verifyBackup({ backupDir: good, testRestore: true, scratchDir: scratch, etcdBinary: slowEtcd }).pipe(
        Effect.provide(Layer.mergeAll(Etcdutl.live(), NodeServices.layer)),
      ),
    )
    const deadline = Date.now() + 20_000
    while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const pid = Number(readFileSync(marker, "utf8"))
    expect(readdirSync(scratch)).toHaveLength(1)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(readdirSync(scratch)).toEqual([])
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] : "gone"
    expect(["gone", "Z"]).toContain(state)
  })

  for (const bad of badBackups) {
    it(`rejects ${bad.name}`, async () => {
      const dir = copyBackup(good, join(mkdtempSync(join(etcd.workDir, "bad-")), "backup"))
      await Effect.runPromise(bad.spoil(dir).pipe(Effect.provide(NodeServices.layer)))
      const report = await verify({ backupDir: dir })
      expect(report.passed).toBe(false)
      const text = renderVerifyReport(report)
      for (const { id, found } of bad.failing) {
        const c = check(report, id)
        expect(c.verdict, `${id} in\n${text}`).toBe("FAIL")
        if (typeof found === "string") expect(c.found).toContain(found)
        else expect(c.found).toMatch(found)
      }
      expect(text).toMatch(/^verify: FAIL \(\d+ of \d+ checks did not pass: /m)
    })
  }

  it("a test restore of a damaged snapshot fails and still leaves no scratch data", async () => {
    const dir = copyBackup(good, join(mkdtempSync(join(etcd.workDir, "bad-restore-")), "backup"))
    await Effect.runPromise(badBackups[0]!.spoil(dir).pipe(Effect.provide(NodeServices.layer)))
    const scratch = mkdtempSync(join(etcd.workDir, "scratch-"))
    const report = await verify({ backupDir: dir, testRestore: true, scratchDir: scratch })
    expect(check(report, "test-restore").verdict).toBe("FAIL")
    expect(check(report, "test-restore").found).toMatch(/sha256|hash/i)
    expect(check(report, "test-restore-operator-revisions").verdict).toBe("SKIP")
    expect(readdirSync(scratch)).toEqual([])
  })

  it("picks the newest backup of a directory, refuses an incomplete one, and takes --timestamp", async () => {
    const dir = copyBackup(good, join(mkdtempSync(join(etcd.workDir, "select-")), "backup"))
    writeFileSync(join(dir, "snapshot_2099-01-01_000000.db"), "partial")
    const newest = await verify({ backupDir: dir })
    expect(newest.checks.map((c) => [c.id, c.verdict])).toEqual([["backup-files", "FAIL"]])
    expect(newest.checks[0]!.found).toContain(
      `backup 2099-01-01_000000 is incomplete or ambiguous: expected one snapshot_2099-01-01_000000[__POSSIBLY_DIRTY__].db and one static_kuberesources_2099-01-01_000000[__POSSIBLY_DIRTY__].tar.gz, found snapshot snapshot_2099-01-01_000000.db, tarball none; pick another backup with --timestamp (${manifest.timestamp})`,
    )
    const chosen = await verify({ backupDir: dir, timestamp: manifest.timestamp })
    expect(chosen.passed).toBe(true)
    const absent = await verify({ backupDir: dir, timestamp: "2001-02-03_040506" })
    expect(absent.checks[0]!.found).toContain("no backup with timestamp 2001-02-03_040506; the directory holds 2099-01-01_000000")
    const empty = join(etcd.workDir, "empty")
    mkdirSync(empty)
    expect((await verify({ backupDir: empty })).checks[0]!.found).toContain("no backup files")
    expect((await verify({ backupDir: join(etcd.workDir, "nowhere") })).checks[0]!.found).toContain("cannot read the directory")
  })

  it("a possibly dirty backup fails its pairing check with the reasons, unless allowed", async () => {
    await Effect.runPromise(seedCluster(etcd.member.connection, 1, { ...revisions, "kube-apiserver": 8 }))
    try {
      const dir = join(etcd.workDir, "dirty")
      const dirty = await Effect.runPromise(makeBackup(dir, etcd.member.connection, loadedCluster()))
      expect(dirty.verdict).toBe("dirty")
      const report = await verify({ backupDir: dir })
      expect(report.checks.filter((c) => c.verdict === "FAIL" || c.verdict === "SKIP").map((c) => c.id)).toEqual(["revision-pairing"])
      expect(check(report, "revision-pairing").found).toBe(
        "dirty: kube-apiserver: the resources are revision 7 but kubeapiservers.operator.openshift.io/cluster in the snapshot reports revision 8",
      )
      expect(check(report, "revision-pairing").expected).toContain("pass --allow-dirty")
      const allowed = await verify({ backupDir: dir, allowDirty: true })
      expect(allowed.passed).toBe(true)
      expect(readManifest(dir).files.snapshot.name).toContain("__POSSIBLY_DIRTY__")
    } finally {
      await Effect.runPromise(seedCluster(etcd.member.connection, 1))
    }
  })
})
