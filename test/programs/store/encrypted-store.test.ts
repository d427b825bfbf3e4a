import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { decodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { downloadBackup } from "../../../src/programs/store/store-download.ts"
import { listBackups } from "../../../src/programs/store/store-list.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { readSnapshotRecord, writeSnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { readIdentityFiles } from "../../../src/services/crypto/age-identity-files.ts"
import { generateIdentity } from "../../../src/services/crypto/age-keys.ts"
import { parseSigningKey, parseTrustedKey, verifyManifestSignature } from "../../../src/services/crypto/manifest-signature.ts"
import { readRecipientsFile } from "../../../src/services/crypto/recipients-file.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { StoreRequestFailed } from "../../../src/services/store/store-errors.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"
import { age, keygen } from "../../services/crypto/age-cli.ts"
import { generateKeyPairSync } from "node:crypto"

const prefix = "cluster-backup/0000-cluster"
let backup: string
let keys: string
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const withStore = (store: MemoryStore) => Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))
const recipientsOf = (path: string) => Effect.runPromise(readRecipientsFile(path))
const identitiesOf = (...paths: Array<string>) => Effect.runPromise(readIdentityFiles(paths, { allowExposed: false }))
const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  return exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string }
}

let snapshotKey: { path: string; recipient: string }
let resourcesKey: { path: string; recipient: string }

beforeAll(async () => {
  backup = tempDir("encrypted-store-backup")
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  keys = tempDir("encrypted-store-keys")
  snapshotKey = keygen(join(keys, "snapshot.key"))
  resourcesKey = keygen(join(keys, "resources.key"))
  writeFileSync(join(keys, "snapshot.recipients"), `# snapshot\n${snapshotKey.recipient}\n`)
  writeFileSync(join(keys, "resources.recipients"), `${resourcesKey.recipient}\n`)
}, 60_000)

const upload = async (store: MemoryStore, extra: { signingKey?: ReturnType<typeof parseSigningKey>; dir?: string } = {}) =>
  Effect.runPromise(
    uploadBackup(extra.dir ?? backup, prefix, undefined, {
      recipients: { snapshot: await recipientsOf(join(keys, "snapshot.recipients")), resources: await recipientsOf(join(keys, "resources.recipients")) },
      ...(extra.signingKey === undefined ? {} : { signingKey: extra.signingKey._tag === "Success" ? extra.signingKey.success : undefined }),
    }).pipe(withStore(store)),
  )

describe("an age-encrypted upload", () => {
  it("stores only .age objects that age -d opens to the backup's bytes, and a manifest recording both sides and the recipients' sets", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const local = readManifest(backup)
    const names = [...store.objects.keys()].map((k) => k.split("/").at(-1))
    expect(names).toEqual([`${local.files.snapshot.name}.age`, `${local.files.resources.name}.age`, manifestFileName])
    const stored = decodeBackupManifest(Buffer.from(store.objects.get(objectKey(prefix, report.id, manifestFileName))!.bytes).toString("utf8"))
    if (stored._tag !== "Success") throw new Error(stored.failure.message)
    const m = stored.success
    for (const [which, key] of [
      ["snapshot", snapshotKey],
      ["resources", resourcesKey],
    ] as const) {
      const object = store.objects.get(objectKey(prefix, report.id, `${local.files[which].name}.age`))!.bytes
      expect(m.files[which]).toMatchObject({ name: local.files[which].name, size: local.files[which].size, sha256: local.files[which].sha256 })
      expect(m.files[which].encrypted).toMatchObject({ name: `${local.files[which].name}.age`, size: object.length, sha256: sha256(object) })
      writeFileSync(join(keys, "object.age"), object)
      expect(sha256(age(["-d", "-i", key.path, join(keys, "object.age")]))).toBe(local.files[which].sha256)
    }
    expect(m.files.snapshot.encrypted!.recipientsSha256).toBe((await recipientsOf(join(keys, "snapshot.recipients"))).fingerprint)
    expect(m.files.resources.encrypted!.recipientsSha256).not.toBe(m.files.snapshot.encrypted!.recipientsSha256)
    // No ciphertext is left beside the backup.
    expect(readdirSync(backup).filter((f) => f.endsWith(".age") || f.endsWith(".part"))).toEqual([])
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
  })

  it("downloads with both identities to the plaintext names, byte for byte, and the manifest as stored", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const into = tempDir("encrypted-store-download")
    const ids = await identitiesOf(snapshotKey.path, resourcesKey.path)
    await Effect.runPromise(downloadBackup(prefix, report.id, into, ids).pipe(withStore(store)))
    expect(backupFiles(into)).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup).filter((f) => f !== manifestFileName))
      expect(sha256(readFileSync(join(into, f)))).toBe(sha256(readFileSync(join(backup, f))))
    expect(readFileSync(join(into, manifestFileName))).toEqual(Buffer.from(store.objects.get(objectKey(prefix, report.id, manifestFileName))!.bytes))
    expect(readdirSync(into).filter((f) => f.endsWith(".age") || f.endsWith(".part") || f.endsWith(".download"))).toEqual([])
  })

  it("without an identity downloads nothing and names the encrypted files", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const into = tempDir("encrypted-store-download")
    const error = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store))))
    expect(error._tag).toBe("BackupIdentityMissing")
    expect(error.message).toContain(`${readManifest(backup).files.snapshot.name}.age`)
    expect(error.message).toContain("--identity")
    expect(readdirSync(into)).toEqual([])
  })

  it("a rerun over a finished download needs no identity: every plaintext is there with the manifest's sha256, so nothing is fetched", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const into = tempDir("encrypted-store-download")
    await Effect.runPromise(downloadBackup(prefix, report.id, into, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(store)))
    const again = await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    expect(again.files.map((f) => f.reused)).toEqual([true, true])
    expect(backupFiles(into)).toEqual(backupFiles(backup))
  })

  it("a rerun missing one plaintext asks for an identity naming only that file's ciphertext, and downloads nothing", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const into = tempDir("encrypted-store-download")
    await Effect.runPromise(downloadBackup(prefix, report.id, into, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(store)))
    const { snapshot, resources } = readManifest(backup).files
    rmSync(join(into, resources.name))
    // A plaintext that does not match the manifest is not taken for the download either.
    writeFileSync(join(into, snapshot.name), Buffer.alloc(snapshot.size))
    const error = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store))))
    expect(error._tag).toBe("BackupIdentityMissing")
    expect(error.message).toContain(`${snapshot.name}.age, ${resources.name}.age`)
    writeFileSync(join(into, snapshot.name), readFileSync(join(backup, snapshot.name)))
    const missing = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store))))
    expect(missing._tag).toBe("BackupIdentityMissing")
    expect(missing.message).toContain(`is age-encrypted (${resources.name}.age)`)
    expect(existsSync(join(into, resources.name))).toBe(false)
  })

  it("the tarball with its own recipients cannot be opened with the snapshot's identity: the error names it, no plaintext tarball is left", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const into = tempDir("encrypted-store-download")
    const exit = await Effect.runPromiseExit(downloadBackup(prefix, report.id, into, await identitiesOf(snapshotKey.path)).pipe(withStore(store)))
    const error = failureOf(exit)
    const tarball = readManifest(backup).files.resources.name
    expect(error._tag).toBe("AgeNoIdentityMatched")
    expect(error.message).toContain(`${tarball}.age`)
    expect(error.message).toContain(snapshotKey.path)
    expect(readdirSync(into).filter((f) => f.startsWith("static_kuberesources"))).toEqual([])
  })

  it("a stored ciphertext whose header was damaged (its recipient stanza altered) is refused before the download, naming the damage as the cause should the identity be right", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const key = objectKey(prefix, report.id, `${readManifest(backup).files.snapshot.name}.age`)
    const bytes = Buffer.from(Effect.runSync(store.getBytes(key)))
    // The stanza body's first character (line 3), changed to another base64 digit.
    const at = bytes.indexOf("\n", bytes.indexOf("\n") + 1) + 1
    bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41
    Effect.runSync(store.putBytes(key, bytes))
    const into = tempDir("encrypted-store-download")
    const ids = await identitiesOf(snapshotKey.path, resourcesKey.path)
    const error = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, report.id, into, ids).pipe(withStore(store))))
    expect(error._tag).toBe("AgeNoIdentityMatched")
    expect(error.message).toContain("judged from the object's header before downloading it")
    expect(error.message).toContain("the header was damaged in memory://")
    expect(readdirSync(into).filter((f) => f.startsWith("snapshot_"))).toEqual([])
  })

  it("a header longer than the first probe (700 recipients, ~85 KiB) is still judged before the download: a wrong identity is refused from it, the right one downloads", async () => {
    const store = makeMemoryStore()
    const many = join(tempDir("encrypted-store-many"), "snapshot.recipients")
    writeFileSync(many, `${Array.from({ length: 700 }, () => generateIdentity().recipient).join("\n")}\n${snapshotKey.recipient}\n`)
    const report = await Effect.runPromise(
      uploadBackup(backup, prefix, undefined, {
        recipients: { snapshot: await recipientsOf(many), resources: await recipientsOf(join(keys, "resources.recipients")) },
      }).pipe(withStore(store)),
    )
    const key = objectKey(prefix, report.id, `${readManifest(backup).files.snapshot.name}.age`)
    const header = Buffer.from(Effect.runSync(store.getBytes(key)))
    expect(header.indexOf("\n--- ")).toBeGreaterThan(64 * 1024)
    const refused = failureOf(
      await Effect.runPromiseExit(
        downloadBackup(prefix, report.id, tempDir("encrypted-store-download"), await identitiesOf(resourcesKey.path)).pipe(withStore(store)),
      ),
    )
    expect(refused._tag).toBe("AgeNoIdentityMatched")
    expect(refused.message).toContain("judged from the object's header before downloading it")
    expect(refused.message).toContain("701 X25519 recipients")
    const into = tempDir("encrypted-store-download")
    await Effect.runPromise(downloadBackup(prefix, report.id, into, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(store)))
    for (const name of backupFiles(backup).filter((f) => f !== manifestFileName))
      expect(sha256(readFileSync(join(into, name)))).toBe(sha256(readFileSync(join(backup, name))))
  })

  it("a ciphertext replaced in the store (a valid age file for the same recipients) is refused on its sha256 before decryption", async () => {
    const store = makeMemoryStore()
    const report = await upload(store)
    const snapshot = readManifest(backup).files.snapshot.name
    writeFileSync(join(keys, "forged"), "forged")
    const forged = age(["-r", snapshotKey.recipient, join(keys, "forged")])
    Effect.runSync(store.putBytes(objectKey(prefix, report.id, `${snapshot}.age`), forged))
    const into = tempDir("encrypted-store-download")
    const ids = await identitiesOf(snapshotKey.path, resourcesKey.path)
    const error = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, report.id, into, ids).pipe(withStore(store))))
    expect(error._tag).toMatch(/StoreIntegrityFailed|StoredBackupIncomplete/)
    expect(readdirSync(into).filter((f) => f.startsWith("snapshot"))).toEqual([])
  })

  it("a snapshot changed since backup-create (same size): nothing is stored under its name, no ciphertext is left beside it", async () => {
    const changed = tempDir("encrypted-store-changed")
    for (const f of backupFiles(backup)) writeFileSync(join(changed, f), readFileSync(join(backup, f)))
    const snapshot = join(changed, readManifest(changed).files.snapshot.name)
    const bytes = readFileSync(snapshot)
    bytes[bytes.length >> 1]! ^= 1
    writeFileSync(snapshot, bytes)
    const store = makeMemoryStore()
    const recipients = { snapshot: await recipientsOf(join(keys, "snapshot.recipients")) }
    const error = failureOf(await Effect.runPromiseExit(uploadBackup(changed, prefix, undefined, { recipients }).pipe(withStore(store))))
    expect(error._tag).toBe("BackupToUploadInvalid")
    expect(error.message).toContain("changed after backup-create")
    expect(store.objects.size).toBe(0)
    expect(readdirSync(changed).filter((n) => n.includes(".age"))).toEqual([])
  })

  it("a snapshot backup-init's record vouches for is not hashed again: it opens to its bytes; a change that keeps its identity goes through the upload and download's plaintext check refuses it", async () => {
    const vouched = join(tempDir("encrypted-store-vouched"), "backup")
    cpSync(backup, vouched, { recursive: true, preserveTimestamps: true })
    const snapshot = readManifest(vouched).files.snapshot
    const path = join(vouched, snapshot.name)
    const s = statSync(path, { bigint: true })
    const record = await Effect.runPromise(readSnapshotRecord(vouched).pipe(Effect.provide(NodeServices.layer)))
    const file = { sha256: snapshot.sha256, inode: String(s.ino), mtimeNs: String(s.mtimeNs) }
    await Effect.runPromise(writeSnapshotRecord(vouched, { ...record, file }).pipe(Effect.provide(NodeServices.layer)))
    const recipients = { snapshot: await recipientsOf(join(keys, "snapshot.recipients")) }
    const ids = await identitiesOf(snapshotKey.path)

    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(vouched, prefix, undefined, { recipients }).pipe(withStore(store)))
    const into = tempDir("encrypted-store-vouched-download")
    await Effect.runPromise(downloadBackup(prefix, report.id, into, ids).pipe(withStore(store)))
    expect(sha256(readFileSync(join(into, snapshot.name)))).toBe(snapshot.sha256)

    // The same bytes count, one flipped, and the modification time set back: the identity backup-init recorded.
    const bytes = readFileSync(path)
    bytes[bytes.length >> 1]! ^= 1
    writeFileSync(path, bytes)
    const ns = s.mtimeNs % 1_000_000_000n
    execFileSync("touch", ["-m", "-d", `@${s.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, "0")}`, path])
    expect(String(statSync(path, { bigint: true }).mtimeNs)).toBe(file.mtimeNs)
    const forged = makeMemoryStore()
    const forgedReport = await Effect.runPromise(uploadBackup(vouched, prefix, undefined, { recipients }).pipe(withStore(forged)))
    const refused = tempDir("encrypted-store-vouched-refused")
    const error = failureOf(await Effect.runPromiseExit(downloadBackup(prefix, forgedReport.id, refused, ids).pipe(withStore(forged))))
    expect(error._tag).toBe("StoreIntegrityFailed")
    expect(error.message).toContain("decrypts to")
    expect(readdirSync(refused).filter((n) => n.startsWith("snapshot_"))).toEqual([])
  })

  it("a signed backup: without --signing-key the upload is refused before anything is stored; with it the stored manifest's signature verifies", async () => {
    const signed = tempDir("encrypted-store-signed")
    for (const f of backupFiles(backup)) writeFileSync(join(signed, f), readFileSync(join(backup, f)))
    const { privateKey, publicKey } = generateKeyPairSync("ed25519")
    const signingKey = parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }))
    if (signingKey._tag !== "Success") throw new Error("key")
    writeFileSync(join(signed, signatureFileName), "stale")
    const recipients = { snapshot: await recipientsOf(join(keys, "snapshot.recipients")), resources: await recipientsOf(join(keys, "resources.recipients")) }
    const store = makeMemoryStore()
    const refused = failureOf(await Effect.runPromiseExit(uploadBackup(signed, prefix, undefined, { recipients }).pipe(withStore(store))))
    expect(refused._tag).toBe("BackupToUploadInvalid")
    expect(refused.message).toContain("--signing-key")
    expect(store.objects.size).toBe(0)
    const report = await Effect.runPromise(uploadBackup(signed, prefix, undefined, { recipients, signingKey: signingKey.success }).pipe(withStore(store)))
    const manifest = store.objects.get(objectKey(prefix, report.id, manifestFileName))!.bytes
    const signature = Buffer.from(store.objects.get(objectKey(prefix, report.id, signatureFileName))!.bytes).toString("utf8")
    const trusted = parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }), "k.pem")
    if (trusted._tag !== "Success") throw new Error("key")
    expect(verifyManifestSignature(manifest, signature, [trusted.success])._tag).toBe("Verified")
  })
})

describe("a re-upload of a backup the store holds complete", () => {
  const refusing = (refuse: { on: boolean }) => (operation: string, key: string) =>
    refuse.on && operation === "PUT" && key.endsWith(".tar.gz.age")
      ? Effect.fail(new StoreRequestFailed({ store: "memory://", operation, key, status: 400, code: "InvalidRequest", retryable: false, message: "refused" }))
      : Effect.void

  it("that fails after the snapshot's new ciphertext was stored leaves it incomplete, never complete over objects its manifest does not describe", async () => {
    const refuse = { on: false }
    const store = makeMemoryStore({ faults: refusing(refuse) })
    const first = await upload(store)
    const snapshotObject = objectKey(prefix, first.id, `${readManifest(backup).files.snapshot.name}.age`)
    const firstCiphertext = store.objects.get(snapshotObject)!.sha256
    refuse.on = true
    await expect(upload(store)).rejects.toThrow(/refused/)
    // age's output differs every time: the snapshot's object did change.
    expect(store.objects.get(snapshotObject)!.sha256).not.toBe(firstCiphertext)
    expect(store.objects.has(objectKey(prefix, first.id, manifestFileName))).toBe(false)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Incomplete"])
    // The next run completes it, and it opens.
    refuse.on = false
    await upload(store)
    const into = tempDir("reupload-download")
    await Effect.runPromise(downloadBackup(prefix, first.id, into, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(store)))
    const local = readManifest(backup)
    for (const f of [local.files.snapshot.name, local.files.resources.name])
      expect(sha256(readFileSync(join(into, f)))).toBe(sha256(readFileSync(join(backup, f))))
  })

  it.each(["snapshot", "resources"] as const)(
    "from a copy whose %s is damaged: refused before anything changes, the stored backup left complete and whole",
    async (which) => {
      const store = makeMemoryStore()
      const first = await upload(store)
      const before = new Map([...store.objects].map(([k, o]) => [k, o.sha256]))
      const damaged = tempDir("reupload-damaged")
      cpSync(backup, damaged, { recursive: true })
      const file = join(damaged, readManifest(backup).files[which].name)
      const bytes = readFileSync(file)
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff
      writeFileSync(file, bytes)
      await expect(upload(store, { dir: damaged })).rejects.toThrow(/BackupToUploadInvalid|changed after backup-create/)
      expect(new Map([...store.objects].map(([k, o]) => [k, o.sha256]))).toEqual(before)
      const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
      expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([[first.id, "Complete"]])
    },
  )

  it("encrypted after plain (or plain after encrypted): the other form of each file goes, so no plaintext copy stays beside the ciphertext", async () => {
    const store = makeMemoryStore()
    const plain = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    const local = readManifest(backup)
    const names = () => [...store.objects.keys()].map((k) => k.split("/").at(-1)).sort()
    await upload(store)
    // The plain snapshot and tarball (every Secret of the cluster in the clear) stayed, and list called the backup complete.
    expect(names()).toEqual([manifestFileName, `${local.files.snapshot.name}.age`, `${local.files.resources.name}.age`].sort())
    await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    expect(names()).toEqual([manifestFileName, local.files.snapshot.name, local.files.resources.name].sort())
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([[plain.id, "Complete"]])
  })

  it("plain after an encrypted upload stopped before its manifest: the .age objects it stored go, the backup is complete and plain", async () => {
    const stop = { on: true }
    const store = makeMemoryStore({
      faults: (operation, key) =>
        stop.on && operation === "PUT" && key.endsWith(manifestFileName)
          ? Effect.fail(
              new StoreRequestFailed({ store: "memory://", operation, key, status: 400, code: "InvalidRequest", retryable: false, message: "stopped" }),
            )
          : Effect.void,
    })
    const local = readManifest(backup)
    await expect(upload(store)).rejects.toThrow(/stopped/)
    const names = () => [...store.objects.keys()].map((k) => k.split("/").at(-1)).sort()
    expect(names()).toEqual([`${local.files.snapshot.name}.age`, `${local.files.resources.name}.age`].sort())
    stop.on = false
    const plain = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    expect(names()).toEqual([manifestFileName, local.files.snapshot.name, local.files.resources.name].sort())
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([[plain.id, "Complete"]])
  })

  it("plain after signed: the earlier signature goes with the manifest it covered", async () => {
    const store = makeMemoryStore()
    const { privateKey } = generateKeyPairSync("ed25519")
    const signingKey = parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }))
    const first = await upload(store, { signingKey })
    expect(store.objects.has(objectKey(prefix, first.id, signatureFileName))).toBe(true)
    await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    expect(store.objects.has(objectKey(prefix, first.id, signatureFileName))).toBe(false)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
  })
})

describe("a downloaded encrypted backup uploaded again", () => {
  it("plain, to another store: the stored manifest describes the plain objects it stored, so the backup is complete and downloads without an identity", async () => {
    const first = makeMemoryStore()
    const report = await upload(first)
    const copy = tempDir("encrypted-store-copy")
    await Effect.runPromise(downloadBackup(prefix, report.id, copy, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(first)))
    const second = makeMemoryStore()
    const again = await Effect.runPromise(uploadBackup(copy, prefix).pipe(withStore(second)))
    for (const which of ["snapshot", "resources"] as const) expect(again.manifest.files[which].encrypted).toBeUndefined()
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(second)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
    const into = tempDir("encrypted-store-copy-download")
    await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(withStore(second)))
    const local = readManifest(backup)
    for (const f of [local.files.snapshot.name, local.files.resources.name])
      expect(sha256(readFileSync(join(into, f)))).toBe(sha256(readFileSync(join(backup, f))))
  })

  it("plain, signed: the stored manifest no longer matches the downloaded signature, so --signing-key is asked for", async () => {
    const first = makeMemoryStore()
    const { privateKey, publicKey } = generateKeyPairSync("ed25519")
    const signingKey = parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }))
    if (signingKey._tag !== "Success") throw new Error("key")
    const report = await upload(first, { signingKey })
    const copy = tempDir("encrypted-store-copy-signed")
    await Effect.runPromise(downloadBackup(prefix, report.id, copy, await identitiesOf(snapshotKey.path, resourcesKey.path)).pipe(withStore(first)))
    const second = makeMemoryStore()
    const refused = failureOf(await Effect.runPromiseExit(uploadBackup(copy, prefix).pipe(withStore(second))))
    expect(refused._tag).toBe("BackupToUploadInvalid")
    expect(refused.message).toContain("--signing-key")
    expect(second.objects.size).toBe(0)
    await Effect.runPromise(uploadBackup(copy, prefix, undefined, { signingKey: signingKey.success }).pipe(withStore(second)))
    const manifest = second.objects.get(objectKey(prefix, report.id, manifestFileName))!.bytes
    const signature = Buffer.from(second.objects.get(objectKey(prefix, report.id, signatureFileName))!.bytes).toString("utf8")
    const trusted = parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }), "k.pem")
    if (trusted._tag !== "Success") throw new Error("key")
    expect(verifyManifestSignature(manifest, signature, [trusted.success])._tag).toBe("Verified")
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(second)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
  })
})
