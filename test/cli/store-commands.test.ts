import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { encodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { s3Request } from "../../src/services/store/s3-http.ts"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { backupFiles, copyBackup, makeFakeBackup, readManifest } from "../support/bad-backups.ts"
import { rclone as rcloneOn, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { cliEntry, runCli } from "../support/tools.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"

const bucket = `cli-${process.pid}`
const clusterId = "5f1c2d3e-0000-4000-8000-00000000abcd"
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
let server: S3TestServer
const rclone = (...args: Array<string>) => rcloneOn(server, ...args)
let backup: string
let env: Record<string, string>


beforeAll(async () => {
  server = await s3Server()
  backup = mkdtempSync(join(tmpdir(), "store-cli-backup-"))
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  await Effect.runPromise(
    s3Request(
      { url: new URL(server.endpoint), region: server.region, bucket, pathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, signPayload: true, requestTimeoutMs: 30_000 },
      { operation: "CreateBucket", method: "PUT", key: "" },
    ),
  )
  env = { AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: server.region, AWS_CA_BUNDLE: "" }
}, 200_000)

// Each test runs several command processes and rclone: room for a loaded 2-core machine.
describe("backup-upload, list and download", { timeout: 150_000 }, () => {
  it("against Swift: uploaded under cluster-backup/<cluster-id>, listed complete, downloaded byte for byte, read by rclone", async () => {
    const up = await runCli(["backup-upload", "--store", `s3://${bucket}`, "--cluster-id", clusterId, "--backup-dir", backup], env)
    expect(up.stderr).toMatch(/uploaded backup 2026-01-02_030405: 3 objects/)
    expect(up.status).toBe(0)
    const manifest = readManifest(backup)
    const list = await runCli(["list", `s3://${bucket}`, "--cluster-id", clusterId, "--json"], env)
    expect(list.status).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: "2026-01-02_030405", complete: true, etcdRevision: manifest.etcd.revision, verdict: manifest.verdict })])
    const into = mkdtempSync(join(tmpdir(), "store-cli-dl-"))
    const down = await runCli(["download", `s3://${bucket}/cluster-backup/${clusterId}`, "2026-01-02_030405", into], env)
    expect(down.status).toBe(0)
    expect(backupFiles(into)).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
    const byRclone = mkdtempSync(join(tmpdir(), "store-cli-rclone-"))
    await rclone("copy", `:s3:${bucket}/cluster-backup/${clusterId}/2026-01-02_030405`, byRclone)
    expect(sha256(join(byRclone, manifest.files.snapshot.name))).toBe(manifest.files.snapshot.sha256)
    expect(sha256(join(byRclone, manifest.files.resources.name))).toBe(manifest.files.resources.sha256)
  })

  it("a backup placed with rclone is listed complete and downloads hash-checked; one without its manifest is incomplete", async () => {
    await rclone("copy", "--exclude=.cluster-backup/**", backup, `:s3:${bucket}/by-rclone/b1`)
    await rclone("copy", "--exclude=.cluster-backup/**", "--exclude=backup-manifest.json", backup, `:s3:${bucket}/by-rclone/b0`)
    const list = await runCli(["list", `s3://${bucket}/by-rclone`, "--json"], env)
    expect(JSON.parse(list.stdout).map((b: { id: string; complete: boolean }) => [b.id, b.complete])).toEqual([
      ["b0", false],
      ["b1", true],
    ])
    const table = await runCli(["list", `s3://${bucket}/by-rclone`], env)
    expect(table.stdout).toMatch(/^b0 +incomplete: no backup-manifest\.json/m)
    const into = mkdtempSync(join(tmpdir(), "store-cli-dl-"))
    expect((await runCli(["download", `s3://${bucket}/by-rclone`, "b1", into], env)).status).toBe(0)
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
    const refused = await runCli(["download", `s3://${bucket}/by-rclone`, "b0", mkdtempSync(join(tmpdir(), "dl-"))], env)
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toMatch(/backup b0 .* is not complete \(no backup-manifest\.json/)
  })

  it("a wrong secret and a missing bucket: non-zero exit, a clear error, no secret in it", async () => {
    const wrong = await runCli(["backup-upload", "--store", `s3://${bucket}/p`, "--backup-dir", backup], { ...env, AWS_SECRET_ACCESS_KEY: "wrong-secret-1234" })
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/refused .*SignatureDoesNotMatch \(HTTP 403\)\. Check the access key and secret.*\[StoreAccessDenied\]/)
    expect(wrong.stderr + wrong.stdout).not.toContain("wrong-secret-1234")
    const missing = await runCli(["list", "s3://no-such-bucket-x/p"], env)
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/bucket no-such-bucket-x does not exist .*\[StoreBucketMissing\]/)
  })

  it("SIGTERM during the upload: exit by the signal, the multipart upload aborted, nothing listed", async () => {
    // The fake backup with a 60 MiB snapshot (and a manifest saying so): long enough to stop it midway.
    const big = mkdtempSync(join(tmpdir(), "store-cli-big-"))
    copyBackup(backup, big)
    const manifest = readManifest(big)
    const snapshot = randomBytes(60 * 1024 * 1024)
    writeFileSync(join(big, manifest.files.snapshot.name), snapshot)
    const sha = createHash("sha256").update(snapshot).digest("hex")
    writeFileSync(join(big, "backup-manifest.json"), encodeBackupManifest({ ...manifest, files: { ...manifest.files, snapshot: { ...manifest.files.snapshot, size: snapshot.length, sha256: sha } } }))
    const store = makeS3Store({ url: new URL(server.endpoint), region: server.region, bucket, pathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, signPayload: true, requestTimeoutMs: 30_000 })
    const child = spawn(process.execPath, [cliEntry, "backup-upload", "--store", `s3://${bucket}/sigterm`, "--backup-dir", big, "--part-size", "5Mi", "--parts-in-flight", "1"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
    const deadline = Date.now() + 45_000
    while ((await Effect.runPromise(store.pendingUploads("sigterm/"))).length === 0) {
      if (Date.now() > deadline) throw new Error(`no multipart upload started: ${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    child.kill("SIGTERM")
    const { signal } = await exited
    expect(signal).toBe("SIGTERM")
    expect(stderr).toMatch(/interrupted before the command finished/)
    expect(await Effect.runPromise(store.pendingUploads("sigterm/"))).toEqual([])
    const list = await runCli(["list", `s3://${bucket}/sigterm`, "--json"], env)
    expect(JSON.parse(list.stdout).filter((b: { complete: boolean }) => b.complete)).toEqual([])
  })

  it("the same round trip through a directory store", async () => {
    const root = mkdtempSync(join(tmpdir(), "store-cli-dir-"))
    expect((await runCli(["backup-upload", "--store", root, "--backup-dir", backup], {})).status).toBe(0)
    const list = await runCli(["list", root, "--json"], {})
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: "2026-01-02_030405", complete: true })])
    const into = mkdtempSync(join(tmpdir(), "store-cli-dl-"))
    expect((await runCli(["download", root, "2026-01-02_030405", into], {})).status).toBe(0)
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })
})
