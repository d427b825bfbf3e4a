import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../src/services/disk-space.ts"
/**
 * `verify STORE --backup-id ID` and `restore STORE --backup-id ID`: the backup downloaded (hash-
 * checked) into a work directory and checked there; a restore only of a download that verifies.
 * A directory store for the cheap cases, Swift for verify.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { readRecipientsFile } from "../../src/services/crypto/recipients-file.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { s3StoreLayer } from "../../src/services/store/s3-store.ts"
import { backupFiles, copyBackup, fakeBackupForSuite, makeHostTree, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, type S3TestServer, s3Endpoint, s3Env, s3Server } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { keygen } from "../services/crypto/age-cli.ts"

const id = "2026-01-02_030405"
const restoreId = "0b2f6c1e-7d4a-4c1b-9a53-2f0e8d6c4b71"
const { work, backup } = fakeBackupForSuite("store-verify-restore")
let etcdutl: string

const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => runCli(args, { env, timeoutMs: 90_000 })

/** A directory store holding the fake backup at its root. */
const directoryStore = async () => {
  const root = tempDir("store", work)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(root), NodeServices.layer, DiskSpace.live))))
  return root
}

/** Damages the stored snapshot, keeping its size (only the sha256 tells). */
const damageSnapshot = (store: string) => {
  const path = join(store, id, readManifest(backup).files.snapshot.name)
  const bytes = readFileSync(path)
  bytes[100] = bytes[100]! ^ 0xff
  writeFileSync(path, bytes)
}

beforeAll(() => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
})

describe("verify and restore from a store", { timeout: 150_000 }, () => {
  it("verify: downloads into --work-dir and passes; a damaged stored copy fails with the file named; an s3:// URL needs --backup-id", async () => {
    const store = await directoryStore()
    const into = join(work, "verify-work")
    const ok = await cli(["verify", store, "--backup-id", id, "--work-dir", into, "--etcdutl", etcdutl])
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/PASS|pass/)
    expect(backupFiles(into)).toEqual(backupFiles(backup))

    // Without --work-dir: a temporary directory, removed afterwards.
    const temp = tempDir("tmp", work)
    expect((await cli(["verify", store, "--backup-id", id, "--etcdutl", etcdutl], { TMPDIR: temp })).status).toBe(0)
    expect(readdirSync(temp)).toEqual([])

    damageSnapshot(store)
    const bad = await cli(["verify", store, "--backup-id", id, "--etcdutl", etcdutl], { TMPDIR: temp })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/snapshot_2026-01-02_030405\.db .* the stored copy is damaged.*\[StoreIntegrityFailed\]/)
    expect(readdirSync(temp)).toEqual([])

    const noId = await cli(["verify", "s3://some-bucket/p", "--etcdutl", etcdutl])
    expect(noId.status).toBe(1)
    expect(noId.stderr).toContain("s3://some-bucket/p is a store, not a backup directory: give the backup with --backup-id ID")
    const idInUrl = await cli(["verify", `s3://some-bucket/p/${id}`, "--etcdutl", etcdutl])
    expect(idInUrl.status).toBe(1)
    expect(idInUrl.stderr).toContain(
      `s3://some-bucket/p/${id} is a store, not a backup directory: name the backup with --backup-id and the store without it: s3://some-bucket/p --backup-id ${id}`,
    )
  })

  it("restore onto a --root that is no control-plane host's (no etc/kubernetes): refused before the backup is downloaded into it", async () => {
    const store = await directoryStore()
    const root = tempDir("not-a-host", work)
    mkdirSync(join(root, "var/lib"), { recursive: true })
    const before = snapshotTree(root)
    const run = await cli(["restore", store, "--backup-id", id, "--root", root, "--member-name", "master-0", "--dry-run", "--etcdutl", etcdutl])
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`--root ${root} is not a control-plane host's root: ${root}/etc/kubernetes does not exist`)
    expect(run.stderr).not.toContain("downloading")
    expect(snapshotTree(root)).toEqual(before)
  })

  it("restore: downloads into <root>/var/lib/etcd-backup/downloads/<id> and restores; a damaged stored copy changes nothing on the host", async () => {
    const store = await directoryStore()
    const host = makeHostTree(work, backup)
    const args = ["restore", store, "--backup-id", id, "--root", host.root, "--member-name", "master-0", "--restore-id", restoreId, "--etcdutl", etcdutl]
    const real = await cli(args)
    expect(real.status, real.stderr + real.stdout).toBe(0)
    expect(real.stdout).toContain(`Restore restore-${restoreId} complete: 13 steps ran.`)
    expect(backupFiles(join(host.root, "var/lib/etcd-backup/downloads", id))).toEqual(backupFiles(backup))
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])

    const damaged = await directoryStore()
    damageSnapshot(damaged)
    const other = makeHostTree(work, backup)
    const before = snapshotTree(other.root)
    const refused = await cli([
      "restore",
      damaged,
      "--backup-id",
      id,
      "--root",
      other.root,
      "--member-name",
      "master-0",
      "--restore-id",
      restoreId,
      "--etcdutl",
      etcdutl,
    ])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/the stored copy is damaged.*\[StoreIntegrityFailed\]/)
    // Only the download directory (no file of the damaged copy kept in it) may have appeared; nothing of the host changed.
    expect(snapshotTree(other.root).filter((e) => !e.includes("var/lib/etcd-backup"))).toEqual(before)
    expect(existsSync(join(other.root, "var/lib/etcd-backup/downloads", id, readManifest(backup).files.snapshot.name))).toBe(false)
  })

  // Before, the whole backup (a snapshot of GiBs, an encrypted one's keys decrypted) was downloaded there, then refused as "not inside --root".
  it("restore: a --work-dir outside --root, or no --member-name with --root, is a usage error before anything is downloaded", async () => {
    const store = await directoryStore()
    const host = makeHostTree(work, backup)
    const outside = join(work, "outside-root")
    const refused = await cli(["restore", store, "--backup-id", id, "--root", host.root, "--member-name", "master-0", "--work-dir", outside, "--dry-run"])
    expect(refused.status, refused.output).toBe(2)
    expect(refused.stderr).toContain(`Invalid value for flag --work-dir: "${outside}". Expected: a directory inside --root ${host.root}`)
    expect(existsSync(outside)).toBe(false)
    const noMember = await cli(["restore", store, "--backup-id", id, "--root", host.root, "--dry-run"])
    expect(noMember.status, noMember.output).toBe(2)
    expect(noMember.stderr).toContain("Missing value for flag --member-name")
    expect(existsSync(join(host.root, "var/lib/etcd-backup/downloads"))).toBe(false)
    // A name starting with two dots is inside the root: it used to be taken for a path leading out of it.
    const inside = join(host.root, "..downloads", "core", "download")
    const ok = await cli([
      "restore",
      store,
      "--backup-id",
      id,
      "--root",
      host.root,
      "--member-name",
      "master-0",
      "--work-dir",
      inside,
      "--dry-run",
      "--etcdutl",
      etcdutl,
    ])
    expect(ok.status, ok.output).toBe(0)
    expect(backupFiles(inside)).toEqual(backupFiles(backup))
    // It said "Nothing was changed." while the download (GiBs, an encrypted backup's keys decrypted) stayed there.
    expect(ok.stdout).toContain(
      `a real run would start. Nothing on the host was changed; the backup downloaded for it is kept in ${inside} (a rerun reuses it; remove it when no longer needed).`,
    )
  })

  // Before, the download went into the store's own backup directory: an encrypted backup's plaintext was written beside its
  // .age objects, which the decryption then removed as its ciphertext, leaving the stored backup incomplete (and plain).
  it("download DIR, verify/restore --work-dir: a directory inside the directory store (its backup's own directory) is a usage error, and the store is left whole", async () => {
    // Inside the host's root, where restore may read a --work-dir.
    const host = makeHostTree(work, backup)
    const store = join(host.root, "home", "core", "store")
    mkdirSync(store, { recursive: true })
    const key = join(work, "work-dir-store.key")
    execFileSync(join(process.cwd(), ".tools/age/bin/age-keygen"), ["-o", key], { stdio: "ignore" })
    chmodSync(key, 0o600)
    writeFileSync(join(work, "work-dir-store.recipients"), execFileSync(join(process.cwd(), ".tools/age/bin/age-keygen"), ["-y", key]))
    const recipients = await Effect.runPromise(readRecipientsFile(join(work, "work-dir-store.recipients")))
    await Effect.runPromise(
      uploadBackup(backup, "", undefined, { recipients: { snapshot: recipients, resources: recipients } }).pipe(
        Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live)),
      ),
    )
    const stored = readdirSync(join(store, id)).sort()
    for (const [command, extra] of [
      ["verify", ["--etcdutl", etcdutl]],
      ["restore", ["--root", host.root, "--member-name", "master-0", "--dry-run", "--etcdutl", etcdutl]],
    ] as const) {
      for (const into of [join(store, id), join(store, id, "work")]) {
        const refused = await cli([command, store, "--backup-id", id, "--identity", key, "--work-dir", into, ...extra])
        expect(refused.status, refused.output).toBe(2)
        expect(refused.stderr).toContain(`Invalid value for flag --work-dir: "${into}"`)
        expect(readdirSync(join(store, id)).sort()).toEqual(stored)
      }
    }
    const download = await cli(["download", store, id, join(store, id), "--identity", key])
    expect(download.status, download.output).toBe(2)
    expect(download.stderr).toContain(`Invalid value for argument <dir>: "${join(store, id)}"`)
    expect(readdirSync(join(store, id)).sort()).toEqual(stored)
    // Outside the store, the same download decrypts the backup.
    const outside = join(work, "work-dir-store-download")
    const ok = await cli(["download", store, id, outside, "--identity", key])
    expect(ok.status, ok.output).toBe(0)
    expect(backupFiles(outside)).toEqual(backupFiles(backup))
    // With a prefix, the store's backups are under it: a directory beside it is no part of them, one in it is refused.
    await Effect.runPromise(
      uploadBackup(backup, "p/c1", undefined, { recipients: { snapshot: recipients, resources: recipients } }).pipe(
        Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live)),
      ),
    )
    const inPrefix = await cli(["download", store, id, join(store, "p", "c1", id), "--prefix", "p/c1", "--identity", key])
    expect(inPrefix.status, inPrefix.output).toBe(2)
    const beside = await cli(["download", store, id, join(store, "downloads"), "--prefix", "p/c1", "--identity", key])
    expect(beside.status, beside.output).toBe(0)
    expect(backupFiles(join(store, "downloads"))).toEqual(backupFiles(backup))
  })
})

describe("verify from Swift", { timeout: 150_000 }, () => {
  const bucket = `verify-${process.pid}`
  let server: S3TestServer
  // The run's first S3 test starts Swift: as in the other S3 files, the start has its own 200 s, not the test's.
  beforeAll(async () => {
    server = await s3Server()
    await createBucket(server, bucket)
  }, 200_000)

  it("verify against Swift: s3://bucket/prefix --backup-id", async () => {
    await Effect.runPromise(
      uploadBackup(backup, "cluster-backup/c1").pipe(
        Effect.provide(Layer.mergeAll(s3StoreLayer(s3Endpoint(server, bucket)), NodeServices.layer, DiskSpace.live)),
      ),
    )
    const env = s3Env(server)
    const ok = await cli(["verify", `s3://${bucket}/cluster-backup/c1`, "--backup-id", id, "--etcdutl", etcdutl], env)
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stderr).toMatch(/downloaded backup 2026-01-02_030405/)
    const missing = await cli(["verify", `s3://${bucket}/cluster-backup/c1`, "--backup-id", "2026-01-01_000000", "--etcdutl", etcdutl], env)
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/there is no backup 2026-01-01_000000 in s3:\/\/.*\[StoredBackupIncomplete\]/)
  })
})

describe("backup-upload from a directory store's own place", { timeout: 150_000 }, () => {
  // Before, the upload wrote the store's objects over the files it read: encrypting, it then removed the plaintext (the
  // form it does not store) and the ciphertext (as its own temporary file), and nothing of the backup was left.
  it("a --backup-dir that is where the store keeps a backup is a usage error, nothing changed; one deeper in the store is uploaded", async () => {
    const store = tempDir("store-own-place", work)
    const key = keygen(join(work, "own-place.key"))
    writeFileSync(join(work, "own-place.recipients"), `${key.recipient}\n`)
    const inPlace = copyBackup(backup, join(store, id))
    const before = readdirSync(inPlace).sort()
    const refused = await cli(["backup-upload", "--store", store, "--backup-dir", inPlace, "--recipients-file", join(work, "own-place.recipients")])
    expect(refused.status, refused.output).toBe(2)
    expect(refused.stderr).toContain(`Invalid value for flag --backup-dir: "${inPlace}"`)
    expect(readdirSync(inPlace).sort()).toEqual(before)
    expect(backupFiles(inPlace)).toEqual(backupFiles(backup))
    const other = tempDir("store-staging-inside", work)
    const deeper = copyBackup(backup, join(other, "staging", "current"))
    const ok = await cli(["backup-upload", "--store", other, "--backup-dir", deeper, "--recipients-file", join(work, "own-place.recipients")])
    expect(ok.status, ok.output).toBe(0)
    expect(readdirSync(join(other, id)).sort()).toEqual(
      [`${readManifest(backup).files.snapshot.name}.age`, `${readManifest(backup).files.resources.name}.age`, "backup-manifest.json"].sort(),
    )
  })

  it("a --store that is the backup directory, or inside it, is a usage error: the backup is not copied into its own directory", async () => {
    const dir = copyBackup(backup, join(tempDir("store-in-backup", work), "backup"))
    const before = readdirSync(dir).sort()
    for (const store of [dir, join(dir, "store")]) {
      const refused = await cli(["backup-upload", "--store", store, "--backup-dir", dir, "--cluster-id", "c1"])
      expect(refused.status, refused.output).toBe(2)
      expect(refused.stderr).toContain(`Invalid value for flag --store: "${store}". Expected: a store outside the backup directory ${dir}`)
      expect(readdirSync(dir).sort()).toEqual(before)
    }
  })
})
