import { generateKeyPairSync } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { downloadBackup } from "../../../src/programs/store/store-download.ts"
import { resolveBackupId } from "../../../src/programs/store/resolve-backup-id.ts"
import { fetchBackup } from "../../../src/programs/store/store-fetch.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { parseSigningKey, parseTrustedKey, signManifest, type TrustedKey } from "../../../src/services/crypto/manifest-signature.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

let backup: string
let store: MemoryStore
const prefix = "p"

beforeAll(async () => {
  backup = mkdtempSync(join(tmpdir(), "store-fetch-"))
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  store = makeMemoryStore()
  await Effect.runPromise(
    uploadBackup(backup, prefix).pipe(Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))),
  )
}, 60_000)

/** As the commands fetch: the id resolved (with trusted keys, the stored signature checked), then the backup fetched. */
const run = (
  workDir: string,
  availableBytes: number,
  trustedKeys: ReadonlyArray<TrustedKey> = [],
  from: MemoryStore = store,
  id = readManifest(backup).timestamp,
) =>
  Effect.runPromiseExit(
    resolveBackupId(prefix, id, trustedKeys).pipe(
      Effect.flatMap((resolved) => fetchBackup(prefix, resolved, workDir, undefined, trustedKeys)),
      Effect.provide(
        Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(from)), DiskSpace.inMemory({ availableBytes, totalBytes: 1e12 }), NodeServices.layer),
      ),
    ),
  )

describe("fetching a stored backup for verify and restore", () => {
  it("refuses before downloading anything when the work directory has less room than the manifest's sizes", async () => {
    const m = readManifest(backup)
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    const exit = await run(workDir, m.files.snapshot.size)
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toMatch(/WorkDirTooSmall.*needs .* free: nothing downloaded; free space there or give --work-dir/)
    expect(existsSync(workDir)).toBe(false)
  })

  it("a directory not made yet is judged on the nearest one above it that exists, and is not made when refused", async () => {
    const parent = mkdtempSync(join(tmpdir(), "fetch-"))
    const into = join(parent, "a", "b")
    const asked: Array<string> = []
    const recording = Layer.succeed(
      DiskSpace,
      DiskSpace.of({
        usage: (path) => {
          asked.push(path)
          return Effect.succeed({ availableBytes: 1024, totalBytes: 1e12 })
        },
      }),
    )
    const exit = await Effect.runPromiseExit(
      downloadBackup(prefix, readManifest(backup).timestamp, into).pipe(
        Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), recording, NodeServices.layer)),
      ),
    )
    expect(JSON.stringify(exit)).toMatch(
      /WorkDirTooSmall.*needs .* free: nothing downloaded; free space there or download into a directory on a larger file system/,
    )
    expect(asked).toEqual([parent])
    expect(readdirSync(parent)).toEqual([])
  })

  it("removes what a killed download of the same files left before judging the room, and nothing else", async () => {
    const m = readManifest(backup)
    const workDir = mkdtempSync(join(tmpdir(), "fetch-"))
    const leftovers = [
      `${m.files.snapshot.name}.download.part`,
      `${m.files.snapshot.name}.download`,
      `${m.files.resources.name}.age.download`,
      `${m.files.resources.name}.part`,
      `${m.files.snapshot.name}.part.part`,
      "backup-manifest.json.tmp-4242",
      "backup-manifest.json.sig.tmp-77",
    ]
    const others = ["notes.part", `${m.files.snapshot.name}.copy`, `${m.files.snapshot.name}.part.keep`, "backup-manifest.json.tmp-mine"]
    for (const name of [...leftovers, ...others]) writeFileSync(join(workDir, name), "left")
    expect(Exit.isSuccess(await run(workDir, 1e9))).toBe(true)
    expect(readdirSync(workDir).sort()).toEqual([...others, ...backupFiles(backup)].sort())
    // A rerun that downloads nothing (the files are there) removes them too.
    for (const name of leftovers) writeFileSync(join(workDir, name), "left")
    expect(Exit.isSuccess(await run(workDir, 2 * 1024 * 1024))).toBe(true)
    expect(readdirSync(workDir).sort()).toEqual([...others, ...backupFiles(backup)].sort())
  })

  it("downloads with room enough; a repeated fetch needs room only for what is missing", async () => {
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    expect(Exit.isSuccess(await run(workDir, 1e9))).toBe(true)
    expect(backupFiles(workDir)).toEqual(backupFiles(backup))
    expect(Exit.isSuccess(await run(workDir, 2 * 1024 * 1024))).toBe(true)
    expect(existsSync(join(workDir, "backup-manifest.json"))).toBe(true)
  })
})

const keyPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519")
  return {
    signing: Result.getOrThrow(parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }) as string)),
    trusted: Result.getOrThrow(parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }) as string, "trusted.pem")),
  }
}

describe("fetching a stored backup with --trusted-key", () => {
  const signer = keyPair()
  const other = keyPair()
  let signed: MemoryStore
  beforeAll(async () => {
    signed = makeMemoryStore()
    await Effect.runPromise(
      uploadBackup(backup, prefix, undefined, { signingKey: signer.signing }).pipe(
        Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(signed)), NodeServices.layer, DiskSpace.live)),
      ),
    )
  }, 60_000)

  it("refuses an unsigned manifest before downloading anything", async () => {
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    const exit = await run(workDir, 1e9, [signer.trusted])
    expect(JSON.stringify(exit)).toMatch(
      /StoredManifestUnauthenticated.*"verdict":"Unsigned".*refused before anything is downloaded: the manifest is not signed/,
    )
    expect(existsSync(workDir)).toBe(false)
  })

  it("refuses a manifest signed by a key that is not trusted before downloading anything", async () => {
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    const exit = await run(workDir, 1e9, [other.trusted], signed)
    expect(JSON.stringify(exit)).toMatch(/StoredManifestUnauthenticated.*"verdict":"UnknownKey"/)
    expect(existsSync(workDir)).toBe(false)
  })

  it("downloads a manifest signed by a trusted key", async () => {
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    expect(Exit.isSuccess(await run(workDir, 1e9, [other.trusted, signer.trusted], signed))).toBe(true)
    expect(backupFiles(workDir)).toEqual(expect.arrayContaining(backupFiles(backup)))
    expect(existsSync(join(workDir, "backup-manifest.json.sig"))).toBe(true)
  })

  it("reads the stored signature once before the download and once before writing it, for an id given and for latest", async () => {
    const id = readManifest(backup).timestamp
    let signatureReads = 0
    const counting = makeMemoryStore({
      faults: (operation, key) => Effect.sync(() => void (operation === "GET" && key === objectKey(prefix, id, signatureFileName) && signatureReads++)),
    })
    for (const [key, object] of signed.objects) counting.objects.set(key, object)
    for (const asked of [id, "latest"]) {
      signatureReads = 0
      const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
      expect(Exit.isSuccess(await run(workDir, 1e9, [signer.trusted], counting, asked))).toBe(true)
      expect(signatureReads, asked).toBe(2)
    }
  })

  it.each([
    [
      "of a key that is not trusted",
      (manifest: Uint8Array) => new TextEncoder().encode(signManifest(manifest, other.signing)),
      /"verdict":"UnknownKey".*changed during the download; no manifest written/,
    ],
    [
      "larger than any signature (a valid one padded)",
      (manifest: Uint8Array) => Buffer.concat([new TextEncoder().encode(signManifest(manifest, signer.signing)), Buffer.alloc(1024 * 1024, "\n")]),
      /"verdict":"MalformedSignature".*changed during the download; no manifest written.*: its signature object is larger than any signature \(over 65536 bytes\); it was not read/,
    ],
  ])(
    "checks the manifest and signature again before writing them: a signature replaced during the download by one %s leaves no manifest written",
    async (_what, replacement, refusal) => {
      const id = readManifest(backup).timestamp
      // The download reads the manifest twice: to check the backup, then to write it. Before the second, the store's
      // signature is replaced, over the same manifest.
      const holder: { store?: MemoryStore; armed?: boolean; manifestReads: number } = { manifestReads: 0 }
      const store = makeMemoryStore({
        faults: (operation, key) =>
          Effect.sync(() => {
            if (holder.armed !== true || operation !== "GET" || key !== objectKey(prefix, id, manifestFileName) || ++holder.manifestReads !== 2) return
            const objects = holder.store!.objects
            const forged = replacement(objects.get(key)!.bytes)
            objects.set(objectKey(prefix, id, signatureFileName), { ...objects.get(objectKey(prefix, id, signatureFileName))!, bytes: forged })
          }),
      })
      holder.store = store
      const withStore = Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))
      await Effect.runPromise(uploadBackup(backup, prefix, undefined, { signingKey: signer.signing }).pipe(withStore))
      holder.armed = true
      const into = mkdtempSync(join(tmpdir(), "fetch-"))
      const exit = await Effect.runPromiseExit(downloadBackup(prefix, id, into, undefined, [signer.trusted]).pipe(withStore))
      expect(holder.manifestReads).toBe(2)
      expect(JSON.stringify(exit)).toMatch(/StoredManifestUnauthenticated/)
      expect(JSON.stringify(exit)).toMatch(refusal)
      expect(readdirSync(into)).not.toContain(manifestFileName)
      expect(readdirSync(into)).not.toContain(signatureFileName)
    },
  )
})
