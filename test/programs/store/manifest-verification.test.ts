/**
 * backup-upload records verify's verdict (the pod's verification.json) in the manifest it stores, signed with it when
 * it signs, and `list` reads the verdict from there first; a signed backup with no key to sign anew keeps
 * backup-create's bytes and signature, its verdict only in verification.json.
 */
import { generateKeyPairSync } from "node:crypto"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { decodeBackupManifest, encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { verificationFileName } from "../../../src/domain/verification-file.ts"
import { listBackups } from "../../../src/programs/store/store-list.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { parseSigningKey, parseTrustedKey, signManifest, verifyManifestSignature } from "../../../src/services/crypto/manifest-signature.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "cluster-backup/0000-cluster"
const withStore = (store: MemoryStore) => Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))
let backup: string

beforeAll(async () => {
  backup = tempDir("manifest-verification-backup")
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
}, 60_000)

/** A copy of the backup with verify's report: passed (with a test-restore check or not), or failed. */
const withReport = (name: string, report: "TestRestore" | "Full" | "failed") => {
  const dir = tempDir(name)
  for (const f of backupFiles(backup)) writeFileSync(join(dir, f), readFileSync(join(backup, f)))
  const check = (id: string, verdict = "PASS") => ({ id, title: id, verdict, expected: "", found: "" })
  const checks =
    report === "failed"
      ? [check("manifest"), check("snapshot-sha256", "FAIL")]
      : [check("manifest"), check("signature", "WARN"), ...(report === "TestRestore" ? [check("test-restore")] : [])]
  const text = JSON.stringify({ backupDir: dir, timestamp: readManifest(dir).timestamp, snapshot: null, resources: null, passed: report !== "failed", checks })
  writeFileSync(join(dir, verificationFileName), text)
  return dir
}

const keys = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  const signing = Result.getOrThrow(parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" })))
  const trusted = Result.getOrThrow(parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }), "trusted.pem"))
  return { signing, trusted }
}

const storedManifest = (store: MemoryStore, id: string) => {
  const bytes = store.objects.get(objectKey(prefix, id, manifestFileName))!.bytes
  return { bytes, manifest: Result.getOrThrow(decodeBackupManifest(new TextDecoder().decode(bytes))) }
}

describe("verify's verdict in the stored manifest", () => {
  // It was skipped: a re-upload with --s3-sse left the stored record as the first upload wrote it, unencrypted.
  it("a re-upload writes verify's record again (the store's settings apply to it) and never withdraws the manifest", async () => {
    const dir = withReport("manifest-verification-reupload", "Full")
    const calls: Array<string> = []
    const store = makeMemoryStore({ faults: (operation, key) => Effect.sync(() => void calls.push(`${operation} ${key}`)) })
    const report = await Effect.runPromise(uploadBackup(dir, prefix).pipe(withStore(store)))
    calls.length = 0
    await Effect.runPromise(uploadBackup(dir, prefix).pipe(withStore(store)))
    expect(calls).toContain(`PUT ${objectKey(prefix, report.id, verificationFileName)}`)
    expect(calls).not.toContain(`DELETE ${objectKey(prefix, report.id, manifestFileName)}`)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => [b.completeness._tag, b.verified])).toEqual([["Complete", "Full"]])
  })

  it("records the mode and the checks, signs the manifest that holds them, and list reads them without verification.json", async () => {
    const dir = withReport("manifest-verification-test-restore", "TestRestore")
    const { signing, trusted } = keys()
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(dir, prefix, undefined, { signingKey: signing }).pipe(withStore(store)))
    expect(report.verified).toBe("TestRestore")
    const { bytes, manifest } = storedManifest(store, report.id)
    expect(manifest.verification).toEqual({ mode: "TestRestore", checks: ["manifest", "signature", "test-restore"] })
    const signature = new TextDecoder().decode(store.objects.get(objectKey(prefix, report.id, signatureFileName))!.bytes)
    expect(verifyManifestSignature(bytes, signature, [trusted])._tag).toBe("Verified")

    store.objects.delete(objectKey(prefix, report.id, verificationFileName))
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.verified)).toEqual(["TestRestore"])
  })

  it("records nothing for a failed verification: the stored manifest is backup-create's, and list shows it unverified", async () => {
    const dir = withReport("manifest-verification-failed", "failed")
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(dir, prefix).pipe(withStore(store)))
    expect(report.verified).toBeUndefined()
    const { bytes, manifest } = storedManifest(store, report.id)
    expect(manifest.verification).toBeUndefined()
    expect(new TextDecoder().decode(bytes)).toBe(readFileSync(join(dir, manifestFileName), "utf8"))
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.verified)).toEqual([undefined])
  })

  it("keeps a signed backup's manifest and signature as they are when the upload has no key to sign anew (verdict in verification.json only)", async () => {
    const dir = withReport("manifest-verification-signed", "Full")
    const { signing, trusted } = keys()
    const local = readFileSync(join(dir, manifestFileName))
    writeFileSync(join(dir, signatureFileName), signManifest(local, signing))
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(dir, prefix).pipe(withStore(store)))
    const { bytes, manifest } = storedManifest(store, report.id)
    expect(manifest.verification).toBeUndefined()
    expect(Buffer.from(bytes).equals(local)).toBe(true)
    const signature = new TextDecoder().decode(store.objects.get(objectKey(prefix, report.id, signatureFileName))!.bytes)
    expect(verifyManifestSignature(bytes, signature, [trusted])._tag).toBe("Verified")
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.verified)).toEqual(["Full"])
  })

  it("a manifest with a verification record round-trips through the canonical encoding, and an empty check list is refused", () => {
    const manifest = { ...readManifest(backup), verification: { mode: "Full" as const, checks: ["manifest"] } }
    const text = encodeBackupManifest(manifest)
    expect(Result.getOrThrow(decodeBackupManifest(text)).verification).toEqual(manifest.verification)
    const empty = encodeBackupManifest({ ...manifest, verification: { mode: "Full", checks: [] } })
    expect(Result.isFailure(decodeBackupManifest(empty))).toBe(true)
  })
})
