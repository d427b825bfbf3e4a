/**
 * age-encrypted backups through the commands (issue 17), end to end with Swift and a real etcd:
 * a signed backup uploaded encrypted (the tarball to its own recipients), downloaded with the
 * identities, verified with --test-restore and --trusted-key, restored into a --root tree; the
 * tarball cannot be opened with the snapshot's identity; rotation; the identity refusals.
 */
import { execFileSync } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { signatureFileName } from "../../src/domain/manifest-signature-file.ts"
import { parseSigningKey, signManifest } from "../../src/services/crypto/manifest-signature.ts"
import { backupFiles, makeBackup, makeHostTree, readManifest, startSharedEtcd, type SharedEtcd } from "../support/bad-backups.ts"
import { type CliRun, runCli } from "../support/run-cli.ts"
import { createBucket, s3Env, s3Server } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"
import { keygen } from "../services/crypto/age-cli.ts"

const restoreId = "3c1b2a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
let etcd: SharedEtcd
let backup: string
let work: string
let id: string
let env: Record<string, string>
let store: string
const keys = {} as Record<"snapshot" | "resources" | "rotated" | "signingKey" | "trustedKey" | "recipients" | "resourcesRecipients", string>
const cli = (args: ReadonlyArray<string>) => runCli(args, { env, timeoutMs: 120_000 })

beforeAll(async () => {
  etcd = await startSharedEtcd("cli-encrypted", 200)
  work = etcd.workDir
  backup = join(work, "backup")
  await Effect.runPromise(makeBackup(backup, etcd.member.connection, loadedCluster()))
  id = readManifest(backup).timestamp
  const k = tempDir("keys", work)
  keys.snapshot = keygen(join(k, "snapshot.key")).path
  keys.resources = keygen(join(k, "resources.key")).path
  keys.rotated = keygen(join(k, "rotated.key")).path
  const recipientOf = (path: string) => readFileSync(path, "utf8").match(/public key: (age1\w+)/)![1]!
  keys.recipients = join(k, "recipients")
  writeFileSync(keys.recipients, `# the snapshot's\n${recipientOf(keys.snapshot)}\n`)
  keys.resourcesRecipients = join(k, "resources-recipients")
  writeFileSync(keys.resourcesRecipients, `${recipientOf(keys.resources)}\n`)
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  keys.signingKey = join(k, "signing.key")
  writeFileSync(keys.signingKey, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 })
  keys.trustedKey = join(k, "trusted.pub")
  writeFileSync(keys.trustedKey, publicKey.export({ format: "pem", type: "spki" }))
  // Signed as backup-create --signing-key signs it.
  const key = Result.getOrThrow(parseSigningKey(readFileSync(keys.signingKey)))
  writeFileSync(join(backup, signatureFileName), signManifest(readFileSync(join(backup, "backup-manifest.json")), key))
  const server = await s3Server()
  env = s3Env(server)
  const bucket = `encrypted-${process.pid}`
  await createBucket(server, bucket)
  store = `s3://${bucket}/cluster-backup/c1`
}, 240_000)

afterAll(async () => {
  await etcd?.close()
})

const upload = (storeUrl: string, recipients: ReadonlyArray<string>) =>
  cli(["backup-upload", "--backup-dir", backup, "--store", storeUrl, ...recipients, "--signing-key", keys.signingKey])

/** The signed, encrypted upload into `store` that the tests read: made once, by whichever test runs first. */
let uploaded: Promise<CliRun> | undefined
const uploadedToStore = async () => {
  uploaded ??= upload(store, ["--recipients-file", keys.recipients, "--resources-recipients-file", keys.resourcesRecipients])
  const up = await uploaded
  expect(up.status, up.stderr).toBe(0)
  return up
}

describe("age-encrypted backups through the commands", { timeout: 600_000 }, () => {
  it("a signed, encrypted backup goes to Swift, is downloaded with the identities, verifies with --test-restore and --trusted-key, and restores", async () => {
    const up = await uploadedToStore()
    expect(up.stderr).toContain(".db.age")
    expect(readdirSync(backup).filter((f) => f.endsWith(".age") || f.endsWith(".part"))).toEqual([])

    const listed = await cli(["list", store, "--json"])
    expect(listed.status, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        id,
        signed: true,
        encryption: { snapshot: expect.stringMatching(/^[0-9a-f]{64}$/), resources: expect.stringMatching(/^[0-9a-f]{64}$/) },
      }),
    ])
    // The fingerprint a person computes from a recipients file with the shell, as the README gives it.
    const byShell = (file: string) =>
      execFileSync("sh", ["-c", `grep -o '^age1[a-z0-9]*' "$1" | LC_ALL=C sort -u | sha256sum`, "sh", file], { encoding: "utf8" }).split(" ")[0]
    expect(JSON.parse(listed.stdout)[0].encryption).toEqual({ snapshot: byShell(keys.recipients), resources: byShell(keys.resourcesRecipients) })
    const table = await cli(["list", store])
    expect(table.stdout).toMatch(new RegExp(`^${id} +complete +no +age +yes `, "m"))

    const into = join(work, "downloaded")
    const down = await cli(["download", store, id, into, "--identity", keys.snapshot, "--identity", keys.resources])
    expect(down.status, down.stderr).toBe(0)
    expect(backupFiles(into)).toEqual([...backupFiles(backup)].sort())
    const stored = Result.getOrThrow(decodeBackupManifest(readFileSync(join(into, "backup-manifest.json"), "utf8")))
    expect(stored.files.snapshot.encrypted?.name).toBe(`${stored.files.snapshot.name}.age`)
    expect(stored.files.resources.encrypted?.recipientsSha256).not.toBe(stored.files.snapshot.encrypted?.recipientsSha256)
    for (const f of ["snapshot", "resources"] as const) {
      expect(readFileSync(join(into, stored.files[f].name))).toEqual(readFileSync(join(backup, stored.files[f].name)))
    }

    const verified = await cli(["verify", into, "--test-restore", "--trusted-key", keys.trustedKey, "--json"])
    expect(verified.status, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toContain("the manifest is signed by trusted key")

    // Straight from the store: decrypted in verify's temporary work directory.
    const direct = await cli(["verify", store, "--backup-id", id, "--identity", keys.snapshot, "--identity", keys.resources, "--trusted-key", keys.trustedKey])
    expect(direct.status, direct.stdout + direct.stderr).toBe(0)
    // Over the finished download: its plaintext checks out against the signed manifest, so no identity is asked for.
    const rerun = await cli(["verify", store, "--backup-id", id, "--work-dir", into, "--trusted-key", keys.trustedKey])
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0)
    expect(rerun.stderr).toContain("with the manifest's sha256: no identity needed to decrypt them")

    const host = makeHostTree(work, backup)
    const restored = await cli([
      "restore",
      store,
      "--backup-id",
      id,
      "--identity",
      keys.snapshot,
      "--identity",
      keys.resources,
      "--trusted-key",
      keys.trustedKey,
      "--root",
      host.root,
      "--member-name",
      "master-0",
      "--restore-id",
      restoreId,
    ])
    expect(restored.status, restored.stdout + restored.stderr).toBe(0)
    expect(restored.stdout).toContain(`Restore restore-${restoreId} complete`)
    expect(readdirSync(join(host.root, "var/lib/etcd"))).toEqual(["member"])
    const kept = join(host.root, "var/lib/etcd-backup/downloads", id)
    expect(readdirSync(kept).filter((f) => f.endsWith(".age"))).toEqual([])
  })

  it("the tarball with its own recipients cannot be opened with the snapshot's identity: a clear error naming it, no plaintext tarball", async () => {
    await uploadedToStore()
    const into = join(work, "snapshot-only")
    const run = await cli(["download", store, id, into, "--identity", keys.snapshot])
    expect(run.status).toBe(1)
    const tarball = readManifest(backup).files.resources.name
    expect(run.stderr).toContain(`${tarball}.age cannot be opened with the identities given`)
    expect(run.stderr).toContain(keys.snapshot)
    expect(run.stderr).toContain("[AgeNoIdentityMatched]")
    // Both headers are judged before anything is downloaded: not even the snapshot, nor the directory.
    expect(existsSync(into)).toBe(false)
  })

  it("refusals: no identity (nothing downloaded), an identity readable by others (unless --allow-exposed-identity), a wrong identity", async () => {
    await uploadedToStore()
    const none = await cli(["download", store, id, join(work, "none")])
    expect(none.status).toBe(1)
    expect(none.stderr).toMatch(/is age-encrypted \(.*\.db\.age, .*\.tar\.gz\.age\): give the identity file .*--identity.*\[BackupIdentityMissing\]/)
    expect(existsSync(join(work, "none"))).toBe(false)

    chmodSync(keys.resources, 0o644)
    const exposed = await cli(["download", store, id, join(work, "exposed"), "--identity", keys.snapshot, "--identity", keys.resources])
    expect(exposed.status).toBe(1)
    expect(exposed.stderr).toContain(`${keys.resources} can be read by users other than its owner (mode 644)`)
    expect(existsSync(join(work, "exposed"))).toBe(false)
    const allowed = await cli([
      "download",
      store,
      id,
      join(work, "exposed"),
      "--identity",
      keys.snapshot,
      "--identity",
      keys.resources,
      "--allow-exposed-identity",
    ])
    expect(allowed.status, allowed.stderr).toBe(0)
    chmodSync(keys.resources, 0o600)

    const wrong = await cli(["download", store, id, join(work, "wrong"), "--identity", keys.rotated])
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/snapshot_.*\.db\.age cannot be opened with the identities given \(tried identity file .*rotated\.key\)/)
    // Judged from the headers before the directory is made: nothing is left, not even an empty directory.
    expect(existsSync(join(work, "wrong"))).toBe(false)
  })

  it("rotation: a new backup goes to the new recipients; the old one still opens with the old identities only", async () => {
    await uploadedToStore()
    const rotated = join(work, "rotated-recipients")
    writeFileSync(rotated, `${readFileSync(keys.rotated, "utf8").match(/public key: (age1\w+)/)![1]}\n`)
    const newStore = `${store}-rotated`
    const up = await upload(newStore, ["--recipients-file", rotated])
    expect(up.status, up.stderr).toBe(0)
    const fresh = await cli(["download", newStore, id, join(work, "fresh"), "--identity", keys.rotated])
    expect(fresh.status, fresh.stderr).toBe(0)
    const freshManifest = Result.getOrThrow(decodeBackupManifest(readFileSync(join(work, "fresh", "backup-manifest.json"), "utf8")))
    expect(freshManifest.files.resources.encrypted?.recipientsSha256).toBe(freshManifest.files.snapshot.encrypted?.recipientsSha256)
    const oldWithNew = await cli(["download", store, id, join(work, "old-new"), "--identity", keys.rotated])
    expect(oldWithNew.status).toBe(1)
    const old = await cli(["download", store, id, join(work, "old"), "--identity", keys.snapshot, "--identity", keys.resources])
    expect(old.status, old.stderr).toBe(0)
  })
})
