import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { encodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { backupFiles, copyBackup, fakeBackupForSuite, readManifest } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, rclone as rcloneOn, s3Endpoint, s3Env, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { keygen } from "../services/crypto/age-cli.ts"

const bucket = `cli-${process.pid}`
const clusterId = "5f1c2d3e-0000-4000-8000-00000000abcd"
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
let server: S3TestServer
const rclone = (...args: Array<string>) => rcloneOn(server, ...args)
const { backup } = fakeBackupForSuite("store-cli")
let env: Record<string, string>

beforeAll(async () => {
  server = await s3Server()
  await createBucket(server, bucket)
  env = s3Env(server)
}, 200_000)

// Each test runs several command processes and rclone: room for a loaded 2-core machine.
describe("backup-upload, list and download", { timeout: 150_000 }, () => {
  it("against Swift: uploaded under cluster-backup/<cluster-id>, listed complete, downloaded byte for byte, read by rclone", async () => {
    const up = await runCli(["backup-upload", "--store", `s3://${bucket}`, "--cluster-id", clusterId, "--backup-dir", backup], { env })
    expect(up.stderr).toMatch(/uploaded backup 2026-01-02_030405: 3 objects/)
    expect(up.status).toBe(0)
    const manifest = readManifest(backup)
    const list = await runCli(["list", `s3://${bucket}`, "--cluster-id", clusterId, "--json"], { env })
    expect(list.status).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: "2026-01-02_030405", complete: true, etcdRevision: manifest.etcd.revision, verdict: manifest.verdict }),
    ])
    const into = tempDir("store-cli-dl")
    const down = await runCli(["download", `s3://${bucket}/cluster-backup/${clusterId}`, "2026-01-02_030405", into], { env })
    expect(down.status).toBe(0)
    expect(backupFiles(into)).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
    const byRclone = tempDir("store-cli-rclone")
    await rclone("copy", `:s3:${bucket}/cluster-backup/${clusterId}/2026-01-02_030405`, byRclone)
    expect(sha256(join(byRclone, manifest.files.snapshot.name))).toBe(manifest.files.snapshot.sha256)
    expect(sha256(join(byRclone, manifest.files.resources.name))).toBe(manifest.files.resources.sha256)
  })

  it("a backup placed with rclone under its timestamp is listed complete and downloads hash-checked; one without its manifest is incomplete; one under another id is refused", async () => {
    const id = readManifest(backup).timestamp
    await rclone("copy", "--exclude=.cluster-backup/**", backup, `:s3:${bucket}/by-rclone/${id}`)
    await rclone("copy", "--exclude=.cluster-backup/**", "--exclude=backup-manifest.json", backup, `:s3:${bucket}/by-rclone/b0`)
    await rclone("copy", "--exclude=.cluster-backup/**", backup, `:s3:${bucket}/by-rclone/renamed`)
    const list = await runCli(["list", `s3://${bucket}/by-rclone`, "--json"], { env })
    expect(JSON.parse(list.stdout).map((b: { id: string; complete: boolean }) => [b.id, b.complete])).toEqual([
      [id, true],
      ["b0", false],
      ["renamed", true],
    ])
    const table = await runCli(["list", `s3://${bucket}/by-rclone`], { env })
    expect(table.stdout).toMatch(/^b0 +incomplete: no backup-manifest\.json/m)
    const into = tempDir("store-cli-dl")
    expect((await runCli(["download", `s3://${bucket}/by-rclone`, id, into], { env })).status).toBe(0)
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
    const refused = await runCli(["download", `s3://${bucket}/by-rclone`, "b0", tempDir("dl")], { env })
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toMatch(/backup b0 .* is not complete \(no backup-manifest\.json/)
    // Its manifest says it is another backup: asked for "renamed", it would restore that one.
    const renamed = await runCli(["download", `s3://${bucket}/by-rclone`, "renamed", tempDir("dl")], { env })
    expect(renamed.status).not.toBe(0)
    expect(renamed.stderr).toContain(`its manifest describes backup ${id}, not renamed`)
  })

  it("a wrong secret and a missing bucket: non-zero exit, a clear error, no secret in it", async () => {
    const wrong = await runCli(["backup-upload", "--store", `s3://${bucket}/p`, "--backup-dir", backup], {
      env: { ...env, AWS_SECRET_ACCESS_KEY: "wrong-secret-1234" },
    })
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/refused .*SignatureDoesNotMatch \(HTTP 403\)\. Check the access key and secret.*\[StoreAccessDenied\]/)
    expect(wrong.stderr + wrong.stdout).not.toContain("wrong-secret-1234")
    const missing = await runCli(["list", "s3://no-such-bucket-x/p"], { env })
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/bucket no-such-bucket-x does not exist .*\[StoreBucketMissing\]/)
  })

  it("--s3-sse on a store that cannot encrypt (Swift: 501 NotImplemented): refused at the first object, nothing stored; flags that do not combine are usage errors", async () => {
    const up = await runCli(["backup-upload", "--store", `s3://${bucket}/sse`, "--backup-dir", backup, "--s3-sse", "AES256"], { env })
    expect(up.status).toBe(1)
    expect(up.stderr).toMatch(/NotImplemented \(HTTP 501\): Server-side encryption is not supported\.; repeating the request will not help/)
    expect(await Effect.runPromise(makeS3Store(s3Endpoint(server, bucket)).listPage("sse/"))).toMatchObject({ objects: [] })
    const both = await runCli(["backup-upload", "--store", `s3://${bucket}/sse`, "--backup-dir", backup, "--s3-sse", "AES256", "--s3-sse-kms-key-id", "k1"], {
      env,
    })
    expect(both.status).toBe(2)
    expect(both.stderr).toMatch(/a KMS key goes with aws:kms \(SSE-KMS\), not AES256/)
    const directory = await runCli([
      "backup-upload",
      "--store",
      tempDir("store-cli-sse-dir"),
      "--prefix",
      "p",
      "--backup-dir",
      backup,
      "--s3-sse-kms-key-id",
      "k1",
    ])
    expect(directory.status).toBe(2)
    expect(directory.stderr).toMatch(/a directory store has no server-side encryption/)
  })

  it.each([
    ["plain", false],
    ["age-encrypted (its ciphertext ring removed, its worker stopped)", true],
  ])("SIGTERM during the upload, %s: exit by the signal, the multipart upload aborted, nothing listed", async (_, encrypted) => {
    // The fake backup with a 60 MiB snapshot (and a manifest saying so): long enough to stop it midway.
    const big = tempDir("store-cli-big")
    copyBackup(backup, big)
    const manifest = readManifest(big)
    const snapshot = randomBytes(60 * 1024 * 1024)
    writeFileSync(join(big, manifest.files.snapshot.name), snapshot)
    const sha = createHash("sha256").update(snapshot).digest("hex")
    writeFileSync(
      join(big, "backup-manifest.json"),
      encodeBackupManifest({ ...manifest, files: { ...manifest.files, snapshot: { ...manifest.files.snapshot, size: snapshot.length, sha256: sha } } }),
    )
    const store = makeS3Store(s3Endpoint(server, bucket))
    const under = encrypted ? "sigterm-age" : "sigterm"
    const recipients = join(tempDir("store-cli-keys"), "recipients")
    if (encrypted) writeFileSync(recipients, `${keygen(join(dirname(recipients), "key.txt")).recipient}\n`)
    const { signal, stderr } = await runCli(
      [
        "backup-upload",
        "--store",
        `s3://${bucket}/${under}`,
        "--backup-dir",
        big,
        "--part-size",
        "5Mi",
        "--parts-in-flight",
        "1",
        ...(encrypted ? ["--recipients-file", recipients] : []),
      ],
      {
        env,
        during: async (child) => {
          const deadline = Date.now() + 45_000
          while ((await Effect.runPromise(store.pendingUploads(`${under}/`))).length === 0) {
            if (Date.now() > deadline) throw new Error(`no multipart upload started: ${child.stderr()}`)
            await new Promise((r) => setTimeout(r, 50))
          }
          child.kill("SIGTERM")
        },
      },
    )
    expect(signal).toBe("SIGTERM")
    expect(stderr).toMatch(/interrupted before the command finished/)
    expect(await Effect.runPromise(store.pendingUploads(`${under}/`))).toEqual([])
    const list = await runCli(["list", `s3://${bucket}/${under}`, "--json"], { env })
    expect(JSON.parse(list.stdout).filter((b: { complete: boolean }) => b.complete)).toEqual([])
    expect(readdirSync(big).filter((n) => n.includes(".age"))).toEqual([])
  })

  it("a volume's root listed, its backups under cluster-backup/<cluster-id>, or another cluster ID: none listed, and a warning says where they are and which flag reaches them", async () => {
    const root = tempDir("store-cli-deeper")
    expect((await runCli(["backup-upload", "--store", root, "--cluster-id", clusterId, "--backup-dir", backup])).status).toBe(0)
    const hint = `no backup at the root of ${root}, but backups lie deeper: under cluster-backup/${clusterId}/ (1 backup manifest); give --prefix cluster-backup/${clusterId} (or --cluster-id ${clusterId}) to reach them`
    const list = await runCli(["list", root, "--json"])
    expect(list.status).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
    expect(list.stderr).toContain(hint)
    const latest = await runCli(["download", root, "latest", tempDir("store-cli-dl")])
    expect(latest.status).toBe(1)
    expect(latest.stderr).toContain(hint)
    const reached = await runCli(["list", root, "--cluster-id", clusterId, "--json"])
    expect(JSON.parse(reached.stdout)).toEqual([expect.objectContaining({ id: "2026-01-02_030405", complete: true })])
    expect(reached.stderr).not.toContain("lie deeper")
    // Another cluster ID (mistyped, or the cluster's after a reinstall): the backups beside its prefix are named.
    const other = "00000000-0000-4000-8000-000000000000"
    const beside = await runCli(["list", root, "--cluster-id", other, "--json"])
    expect(JSON.parse(beside.stdout)).toEqual([])
    expect(beside.stderr).toContain(
      `no backup under cluster-backup/${other}/ in ${root}, but backups lie beside it: under cluster-backup/${clusterId}/ (1 backup manifest); give --prefix cluster-backup/${clusterId} (or --cluster-id ${clusterId}) to reach them`,
    )
    // The backup's own directory given as the prefix, or as the store.
    const own = await runCli(["list", root, "--prefix", `cluster-backup/${clusterId}/2026-01-02_030405`, "--json"])
    expect(JSON.parse(own.stdout)).toEqual([])
    expect(own.stderr).toContain(
      `no backup under cluster-backup/${clusterId}/2026-01-02_030405/ in ${root}: it is a backup's own directory, backup 2026-01-02_030405 of the store's backups under --prefix cluster-backup/${clusterId}`,
    )
    const dir = join(root, "cluster-backup", clusterId, "2026-01-02_030405")
    const asStore = await runCli(["list", dir, "--json"])
    expect(JSON.parse(asStore.stdout)).toEqual([])
    expect(asStore.stderr).toContain(
      `no backup at the root of ${dir}: it holds a backup's own files (backup-manifest.json): it is a backup directory, not a store`,
    )
    // A backup directory as backup-create leaves it holds its work directory, which is not an upload that did not finish.
    mkdirSync(join(dir, ".cluster-backup"))
    writeFileSync(join(dir, ".cluster-backup", "snapshot.json"), "{}")
    const withWork = await runCli(["list", dir])
    expect(withWork.stdout).toMatch(
      /^\.cluster-backup +not a backup: no backup-manifest\.json, and none of its files is one backup-upload writes: not a backup \(another program's files, or a backup's own work directory\) +no /m,
    )
    expect(withWork.stdout).not.toContain("did not finish")
    expect(JSON.parse((await runCli(["list", dir, "--json"])).stdout)).toEqual([
      expect.objectContaining({ id: ".cluster-backup", foreign: true, complete: false }),
    ])
  })

  it("backup-upload given the directory above the backup: refused, naming the backup below it; given an empty one: no finished backup", async () => {
    const parent = dirname(copyBackup(backup, join(tempDir("store-cli-parent"), "b1")))
    const store = tempDir("store-cli-parent-store")
    const above = await runCli(["backup-upload", "--store", store, "--backup-dir", parent])
    expect(above.status).toBe(1)
    expect(above.stderr).toContain(
      `error: ${parent} holds no finished backup: no backup-manifest.json (backup-create writes it last); backups lie below it, in b1/: give the backup's own directory [BackupToUploadInvalid]`,
    )
    const empty = await runCli(["backup-upload", "--store", store, "--backup-dir", tempDir("store-cli-empty")])
    expect(empty.status).toBe(1)
    expect(empty.stderr).toContain("holds no finished backup: no backup-manifest.json (backup-create writes it last) [BackupToUploadInvalid]")
    expect(readdirSync(store)).toEqual([])
  })

  it("the same round trip through a directory store", async () => {
    const root = tempDir("store-cli-dir")
    expect((await runCli(["backup-upload", "--store", root, "--backup-dir", backup])).status).toBe(0)
    const list = await runCli(["list", root, "--json"])
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: "2026-01-02_030405", complete: true })])
    const into = tempDir("store-cli-dl")
    expect((await runCli(["download", root, "2026-01-02_030405", into])).status).toBe(0)
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })
})
