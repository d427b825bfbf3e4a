/**
 * Signed manifests through the commands (issue 17): `verify` and `restore` with `--trusted-key`
 * accept a backup signed by a trusted key and refuse, before any change, the three forgeries
 * the issue names: a snapshot from another backup with the manifest's hashes rewritten, a
 * manifest re-signed with an unknown key, and a removed signature. Without a trusted key the
 * report names the backup unauthenticated.
 */
import { createHash, generateKeyPairSync } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { encodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import type { BackupPod } from "../../src/domain/pod-spec.ts"
import { backupCompleteness } from "../../src/domain/store-layout.ts"
import { formatRevisionSet } from "../../src/domain/revisions.ts"
import { signatureFileName } from "../../src/domain/manifest-signature-file.ts"
import { decodeVerifyReport } from "../../src/programs/verify/verify-report.ts"
import { keyIdOf, parseSigningKey, signManifest } from "../../src/services/crypto/manifest-signature.ts"
import { copyBackup, fakeBackupForSuite, makeHostTree, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { storedBackup } from "../support/stored-backups.ts"
import { setTreeMtime } from "../support/fake-backups.ts"
import { parseBackupTimestamp } from "../../src/domain/archive-names.ts"
import { snapshotTree } from "../support/hostile-tarballs.ts"
import { runCli } from "../support/run-cli.ts"

const cli = (...args: Array<string>) => runCli(args, { timeoutMs: 60_000 })
const { work, backup } = fakeBackupForSuite("cli-signed")

const keyPair = (name: string) => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  const privatePath = join(work, `${name}.key`)
  const publicPath = join(work, `${name}.pub`)
  writeFileSync(privatePath, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 })
  writeFileSync(publicPath, publicKey.export({ format: "pem", type: "spki" }))
  return { privatePath, publicPath, keyId: keyIdOf(publicKey) }
}

/** Signs the manifest in `dir` as it is now with the key at `privatePath`. */
const sign = (dir: string, privatePath: string) => {
  const key = Result.getOrThrow(parseSigningKey(readFileSync(privatePath)))
  writeFileSync(join(dir, signatureFileName), signManifest(readFileSync(join(dir, "backup-manifest.json")), key))
}

let trusted: ReturnType<typeof keyPair>
let stranger: ReturnType<typeof keyPair>
let etcdutl: string
let signed: string

beforeAll(() => {
  trusted = keyPair("trusted")
  stranger = keyPair("stranger")
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
  signed = copyBackup(backup, join(work, "signed"))
  sign(signed, trusted.privatePath)
})

/** Another snapshot (one database byte changed, etcd's trailer recomputed) with the manifest's hashes rewritten to match it. */
const swapSnapshot = (dir: string) => {
  const manifest = readManifest(dir)
  const path = join(dir, manifest.files.snapshot.name)
  const bytes = readFileSync(path)
  const db = bytes.subarray(0, bytes.length - 32)
  db[100] = db[100]! ^ 0x01
  const other = Buffer.concat([db, createHash("sha256").update(db).digest()])
  writeFileSync(path, other)
  const sha256 = createHash("sha256").update(other).digest("hex")
  writeFileSync(
    join(dir, "backup-manifest.json"),
    encodeBackupManifest({ ...manifest, files: { ...manifest.files, snapshot: { ...manifest.files.snapshot, sha256 } } }),
  )
}

const forgeries: ReadonlyArray<{ readonly name: string; readonly forge: (dir: string) => void; readonly found: string }> = [
  { name: "a snapshot from another backup with the manifest's hashes rewritten", forge: swapSnapshot, found: "does not match its bytes" },
  { name: "the manifest re-signed with an unknown key", forge: (dir) => sign(dir, stranger.privatePath), found: "which is not among the trusted keys" },
  { name: "the signature removed", forge: (dir) => rmSync(join(dir, signatureFileName)), found: "the manifest is not signed, but trusted keys were given" },
]

describe("render --signing-key-secret", () => {
  it("gives backup-create alone the Secret's key and --signing-key; refuses a name that is not a Secret's", async () => {
    const revisions = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
    const run = await runCli(["render", "--revisions", revisions, "--signing-key-secret", "backup-signing-key"], { timeoutMs: 150_000 })
    expect(run.status, run.stderr).toBe(0)
    const pod = YAML.parse(run.stdout) as BackupPod
    const signing = pod.spec.initContainers.filter((c) => c.command.includes("--signing-key"))
    expect(signing.map((c) => c.name)).toEqual(["backup-create"])
    expect(pod.spec.volumes).toContainEqual({
      name: "signing-key",
      secret: { secretName: "backup-signing-key", items: [{ key: "signing-key", path: "signing-key" }], defaultMode: 0o400 },
    })
    const bad = await runCli(["render", "--revisions", revisions, "--signing-key-secret", "Not_A_Name"], { timeoutMs: 150_000 })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain("--signing-key-secret")
  })
})

describe("render --trusted-keys-configmap", () => {
  const revisions = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
  const store = ["--store", "s3://backups/c1", "--store-credentials-secret", "store-keys", "--store-keep-last", "3"]

  it("gives backup-upload alone the ConfigMap's keys and --trusted-key; without --signing-key-secret, a usage error naming both", async () => {
    const run = await runCli(["render", "--revisions", revisions, ...store, "--signing-key-secret", "sk", "--trusted-keys-configmap", "tk"], {
      timeoutMs: 150_000,
    })
    expect(run.status, run.stderr).toBe(0)
    const pod = YAML.parse(run.stdout) as BackupPod
    expect(pod.spec.initContainers.filter((c) => c.command.includes("--trusted-key")).map((c) => c.name)).toEqual(["backup-upload"])
    expect(pod.spec.volumes).toContainEqual({ name: "trusted-keys", configMap: { name: "tk", items: [{ key: "trusted-keys.pem", path: "trusted-keys.pem" }] } })
    const unsigned = await runCli(["render", "--revisions", revisions, ...store, "--trusted-keys-configmap", "tk"], { timeoutMs: 150_000 })
    expect(unsigned.status).toBe(2)
    expect(unsigned.stderr).toContain("--trusted-keys-configmap")
    expect(unsigned.stderr).toContain("--signing-key-secret beside it")
  })
})

describe("backup-create --signing-key", () => {
  const create = (dir: string, key: string) =>
    cli("backup-create", "--backup-dir", dir, "--revisions", formatRevisionSet(readManifest(dir).revisions.requested), "--signing-key", key)

  it("signs the manifest it wrote (a rerun on a complete backup signs it too), and verify trusts it; the key never reaches the output", async () => {
    const dir = copyBackup(backup, join(work, "created"))
    const run = await create(dir, trusted.privatePath)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain(`with key ${trusted.keyId}`)
    const keyBody = readFileSync(trusted.privatePath, "utf8").split("\n")[1]!
    expect(run.stdout + run.stderr).not.toContain(keyBody)
    const verified = await cli("verify", dir, "--etcdutl", etcdutl, "--trusted-key", trusted.publicPath)
    expect(verified.status, verified.stdout).toBe(0)
  })

  it("refuses a signing key that is not an ed25519 private key, naming the file, and writes no signature", async () => {
    const dir = copyBackup(backup, join(work, "bad-key"))
    const run = await create(dir, trusted.publicPath)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`--signing-key ${trusted.publicPath} is not a PEM private key`)
    expect(existsSync(join(dir, signatureFileName))).toBe(false)
  })
})

describe("verify with signed manifests", () => {
  it("without --trusted-key passes, with a WARN naming the backup unauthenticated in the text and the --json report", async () => {
    const text = await cli("verify", backup, "--etcdutl", etcdutl)
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^WARN manifest-signature .*expected no --trusted-key given: authenticity is not checked; found .*unauthenticated/m)
    expect(text.stdout).toMatch(/^verify: PASS /m)
    const json = await cli("verify", "--json", signed, "--etcdutl", etcdutl)
    expect(json.status, json.stderr).toBe(0)
    const report = Result.getOrThrow(decodeVerifyReport(json.stdout))
    expect(report.passed).toBe(true)
    const check = report.checks.find((c) => c.id === "manifest-signature")
    expect(check?.verdict).toBe("WARN")
    expect(check?.found).toBe(`unauthenticated: the manifest is signed by key ${trusted.keyId}, but no --trusted-key was given to check it`)
  })

  it("with --trusted-key passes a backup signed by that key, naming the key", async () => {
    const run = await cli("verify", signed, "--etcdutl", etcdutl, "--trusted-key", stranger.publicPath, "--trusted-key", trusted.publicPath)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain(`the manifest is signed by trusted key ${trusted.keyId}`)
  })

  it("without --trusted-key the snapshot swap goes unnoticed: only the signature reveals it", async () => {
    const dir = copyBackup(signed, join(work, "swap-unchecked"))
    swapSnapshot(dir)
    const run = await cli("verify", dir, "--etcdutl", etcdutl)
    expect(run.status, run.stderr).toBe(0)
  })

  for (const { name, forge, found } of forgeries) {
    it(`with --trusted-key refuses ${name}`, async () => {
      const dir = copyBackup(signed, join(work, `verify-${name.replaceAll(/\W+/g, "-")}`))
      forge(dir)
      const run = await cli("verify", dir, "--etcdutl", etcdutl, "--trusted-key", trusted.publicPath)
      expect(run.status).toBe(1)
      expect(run.stdout).toMatch(new RegExp(`^FAIL manifest-signature .*${found}`, "m"))
      expect(run.stderr).toContain("manifest-signature")
    })
  }

  it("refuses a --trusted-key file that holds a private key, naming the file, before reading the backup", async () => {
    const run = await cli("verify", signed, "--etcdutl", etcdutl, "--trusted-key", trusted.privatePath)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`--trusted-key ${trusted.privatePath} holds a private key; give the public key (openssl pkey -pubout) [ManifestKeyUnusable]`)
    expect(run.stdout).toBe("")
  })
})

describe("retention with --trusted-key", () => {
  it("backup-upload --keep-last 1: an unsigned backup planted after the real one gets the upload pruned without the key, and is pruned itself with it", async () => {
    const real = readManifest(signed)
    for (const withKey of [false, true]) {
      const store = join(work, `planted-${withKey}`)
      const planted = storedBackup(real, parseBackupTimestamp(real.timestamp).getTime() + 3_600_000)
      mkdirSync(join(store, planted.id), { recursive: true })
      for (const [file, bytes] of planted.files) writeFileSync(join(store, planted.id, file), bytes)
      const up = await cli(
        "backup-upload",
        "--store",
        store,
        "--backup-dir",
        signed,
        "--keep-last",
        "1",
        ...(withKey ? ["--trusted-key", trusted.publicPath] : []),
      )
      expect(up.status, up.stderr.slice(-800)).toBe(0)
      const list = await cli("list", store, "--json")
      expect(JSON.parse(list.stdout).map((b: { id: string }) => b.id)).toEqual([withKey ? real.timestamp : planted.id])
      if (withKey) expect(up.stderr).toContain(`backup ${planted.id} is not trusted: its manifest is not signed`)
    }
  })

  it("backup-upload --keep-last 1 --trusted-key of a backup another key signed: stored, nothing pruned, exit 1 saying why", async () => {
    const store = join(work, "upload-untrusted")
    mkdirSync(store)
    const first = await cli("backup-upload", "--store", store, "--backup-dir", signed, "--keep-last", "1", "--trusted-key", trusted.publicPath)
    expect(first.status, first.stderr.slice(-800)).toBe(0)
    const real = readManifest(signed)
    const later = join(work, "upload-untrusted-later")
    const { id, files } = storedBackup(real, parseBackupTimestamp(real.timestamp).getTime() + 3_600_000)
    mkdirSync(later)
    for (const [file, bytes] of files) writeFileSync(join(later, file), bytes)
    sign(later, stranger.privatePath)
    const up = await cli("backup-upload", "--store", store, "--backup-dir", later, "--keep-last", "1", "--trusted-key", trusted.publicPath)
    expect(up.status).toBe(1)
    expect(up.stderr).toContain(`backup ${id} is stored in ${store}, but its manifest is signed by key ${stranger.keyId}, which is not a trusted key`)
    expect(up.stderr).toContain("[UploadedBackupUntrusted]")
    const list = await cli("list", store, "--json")
    expect(JSON.parse(list.stdout).map((b: { id: string; complete: boolean }) => [b.id, b.complete])).toEqual([
      [real.timestamp, true],
      [id, true],
    ])
  })

  it("prune --trusted-key on a store, and on a directory of backups, keeps the signed backup over a newer unsigned one; on backup-upload without a rule it is a usage error", async () => {
    const store = join(work, "prune-trusted")
    mkdirSync(store)
    const up = await cli("backup-upload", "--store", store, "--backup-dir", signed)
    expect(up.status, up.stderr.slice(-800)).toBe(0)
    const real = readManifest(signed)
    const planted = storedBackup(real, parseBackupTimestamp(real.timestamp).getTime() + 3_600_000)
    mkdirSync(join(store, planted.id))
    for (const [file, bytes] of planted.files) writeFileSync(join(store, planted.id, file), bytes)
    const listed = await cli("list", store, "--trusted-key", trusted.publicPath)
    expect(listed.status, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(new RegExp(`^${real.timestamp} +complete +no +no +trusted `, "m"))
    expect(listed.stdout).toMatch(new RegExp(`^${planted.id} +complete +no +no +untrusted `, "m"))
    expect(listed.stderr).toContain(`backup ${planted.id} is not trusted: its manifest is not signed`)
    const pruned = await cli("prune", store, "--prefix", "", "--keep-last", "1", "--trusted-key", trusted.publicPath)
    expect(pruned.status, pruned.stderr.slice(-800)).toBe(0)
    expect(existsSync(join(store, real.timestamp))).toBe(true)
    expect(existsSync(join(store, planted.id))).toBe(false)
    // A directory of backups (one per subdirectory) the same way: by each manifest's signature beside it.
    const plain = join(work, "prune-trusted-plain")
    copyBackup(signed, join(plain, "real"))
    mkdirSync(join(plain, "planted"))
    for (const [file, bytes] of planted.files) writeFileSync(join(plain, "planted", file), bytes)
    // Written a day ago: not a copy still in progress.
    setTreeMtime(plain, Date.now() - 86_400_000)
    const prunedPlain = await cli("prune", plain, "--keep-last", "1", "--trusted-key", trusted.publicPath)
    expect(prunedPlain.status, prunedPlain.stderr.slice(-800)).toBe(0)
    expect(readdirSync(plain).sort()).toEqual([".cluster-backup", "real"])
    expect(prunedPlain.stderr).toContain("backup planted/ is not trusted: its manifest is not signed")
    const noRule = await cli("backup-upload", "--store", store, "--backup-dir", signed, "--trusted-key", trusted.publicPath)
    expect(noRule.status).toBe(2)
    expect(noRule.stderr).toContain("a retention rule beside it")
  })
})

describe("signed backups in a store", () => {
  it("backup-upload carries the signature, list counts it part of the backup, verify --backup-id and download trust it, and both refuse a stranger's key or the copy whose signature was removed before downloading it", async () => {
    const store = join(work, "store")
    mkdirSync(store)
    const up = await cli("backup-upload", "--store", store, "--backup-dir", signed)
    expect(up.status, up.stderr.slice(-800)).toBe(0)
    const id = readManifest(signed).timestamp
    const list = await cli("list", store, "--json")
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id, complete: true, signed: true, encryption: { snapshot: null, resources: null } })])
    const verified = await cli("verify", store, "--backup-id", id, "--etcdutl", etcdutl, "--trusted-key", trusted.publicPath)
    expect(verified.status, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toContain(`the manifest is signed by trusted key ${trusted.keyId}`)
    const downloaded = await cli("download", store, id, join(work, "download-trusted"), "--trusted-key", trusted.publicPath)
    expect(downloaded.status, downloaded.stderr.slice(-800)).toBe(0)
    expect(existsSync(join(work, "download-trusted", signatureFileName))).toBe(true)
    const strangerKey = await cli("download", store, id, join(work, "download-stranger"), "--trusted-key", stranger.publicPath)
    expect(strangerKey.status).toBe(1)
    expect(strangerKey.stderr).toMatch(/refused before anything is downloaded: .*\[StoredManifestUnauthenticated\]/)
    expect(existsSync(join(work, "download-stranger"))).toBe(false)
    rmSync(join(store, id, signatureFileName))
    expect(JSON.parse((await cli("list", store, "--json")).stdout)).toEqual([expect.objectContaining({ id, complete: true, signed: false })])
    const unsigned = await cli("download", store, id, join(work, "download-unsigned"), "--trusted-key", trusted.publicPath)
    expect(unsigned.status).toBe(1)
    expect(unsigned.stderr).toMatch(/refused before anything is downloaded: the manifest is not signed, but trusted keys were given/)
    expect(existsSync(join(work, "download-unsigned"))).toBe(false)
    const refused = await cli("verify", store, "--backup-id", id, "--etcdutl", etcdutl, "--trusted-key", trusted.publicPath)
    // Refused on the stored manifest and signature, before the snapshot is downloaded: no report, the error says why.
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain("[StoredManifestUnauthenticated]")
    expect(refused.stderr).toMatch(/refused before anything is downloaded: the manifest is not signed, but trusted keys were given/)
  })
})

describe("the store's layout", () => {
  it("counts the signature part of a complete backup, never an extra object prune would remove", () => {
    const object = (file: string) => ({ key: `p/b/${file}`, file, size: 1, modifiedAt: 0 })
    const verdict = backupCompleteness({ id: "b", objects: [object("backup-manifest.json"), object(signatureFileName)] }, { _tag: "Read", files: [] })
    expect(verdict).toEqual(expect.objectContaining({ _tag: "Complete", extra: [] }))
  })
})

describe("restore with signed manifests", () => {
  const host = () => {
    const tree = makeHostTree(work, signed)
    return { ...tree, etcdutl: writeScriptedEtcdutl(join(tree.root, "usr/local/bin/etcdutl")) }
  }
  const restore = (h: ReturnType<typeof host>, ...more: Array<string>) =>
    cli("restore", h.backupDir, "--root", h.root, "--member-name", "master-0", "--etcdutl", h.etcdutl, ...more)

  for (const { name, forge, found } of forgeries) {
    it(`with --trusted-key refuses ${name} before any change`, async () => {
      const h = host()
      forge(h.backupDir)
      const before = snapshotTree(h.root)
      const run = await restore(h, "--trusted-key", trusted.publicPath)
      expect(run.status).toBe(1)
      expect(run.stderr).toContain("restore refused before any change: the backup does not verify: manifest-signature FAIL")
      expect(run.stderr).toContain(found)
      expect(snapshotTree(h.root)).toEqual(before)
    })
  }

  it("without --trusted-key says the backup is unauthenticated", async () => {
    const run = await restore(host(), "--dry-run")
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain("no --trusted-key given: the backup's signature is not checked, it is unauthenticated")
  })

  it("with --trusted-key the dry run accepts the backup signed by that key", async () => {
    const h = host()
    const run = await restore(h, "--dry-run", "--trusted-key", trusted.publicPath)
    expect(run.status, run.stderr).toBe(0)
  })
})
