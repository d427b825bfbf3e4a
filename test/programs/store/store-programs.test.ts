import { createHash } from "node:crypto"
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { fc } from "@fast-check/vitest"
import { Effect, Exit, Layer, Logger } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { downloadBackup } from "../../../src/programs/store/store-download.ts"
import { listBackups } from "../../../src/programs/store/store-list.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { directoryStoreLayer } from "../../../src/services/store/directory-store.ts"
import { makeMemoryStore, randomFaults, type FaultInjector, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { StoreRequestFailed } from "../../../src/services/store/store-errors.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "cluster-backup/0000-cluster"
let backup: string
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
const withStore = (store: MemoryStore) => Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))

beforeAll(async () => {
  backup = mkdtempSync(join(tmpdir(), "store-programs-"))
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
})

describe("upload, list and download", () => {
  it("a backup uploaded is listed complete with its manifest, and downloads byte for byte", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    const manifest = readManifest(backup)
    expect(report.id).toBe(manifest.timestamp)
    // The manifest was the last object written.
    expect([...store.objects.keys()].at(-1)).toBe(objectKey(prefix, report.id, manifestFileName))
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed).toHaveLength(1)
    expect(listed[0]!.completeness._tag).toBe("Complete")
    expect(listed[0]!.manifest?.etcd.revision).toBe(manifest.etcd.revision)
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    expect(backupFiles(into)).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
    // Restartable: a second download reuses what is already there, hash-checked.
    const again = await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    expect(again.files.every((f) => f.reused)).toBe(true)
  })

  it("no backup under a mistyped cluster ID: the backups beside it are named though the parent's first listing pages hold others'", async () => {
    const store = makeMemoryStore({ pageSize: 2 })
    await Effect.runPromise(uploadBackup(backup, "cluster-backup/zzzz-cluster").pipe(withStore(store)))
    // Another cluster's backups, listed first: more than a page of them.
    for (const [key, object] of [...store.objects]) store.objects.set(key.replace("/zzzz-cluster/", "/aaaa-cluster/"), object)
    const lines: Array<string> = []
    const listed = await Effect.runPromise(
      listBackups("cluster-backup/zzzz-clustr").pipe(
        withStore(store),
        Effect.provide(Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))])),
      ),
    )
    expect(listed).toEqual([])
    expect(store.objects.size).toBeGreaterThan(4)
    expect(lines.join("\n")).toMatch(
      /backups lie beside it: under cluster-backup\/aaaa-cluster\/ \(1 backup manifest\), cluster-backup\/zzzz-cluster\/ \(1 backup manifest\)/,
    )
  })

  it("a backup's objects copied under another id: download refuses it, naming both ids, and fetches nothing", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    const other = "2030-01-01_000000"
    for (const [key, object] of [...store.objects]) store.objects.set(key.replace(`/${report.id}/`, `/${other}/`), object)
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    const exit = await Effect.runPromiseExit(downloadBackup(prefix, other, into).pipe(withStore(store)))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string; message: string } }).error : undefined
    expect(error?._tag).toBe("StoredBackupIncomplete")
    expect(error?.message).toContain(other)
    expect(error?.message).toContain(report.id)
    expect(backupFiles(into)).toEqual([])
  })

  it("a directory holding another backup: download refuses it before writing anything, so that backup keeps its manifest", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    // An earlier download there: another backup, complete (its manifest, resealed under the other timestamp, and its files).
    const earlier = "2025-12-01_000000"
    const { manifestSha256: _, ...unsealed } = JSON.parse(JSON.stringify(readManifest(backup)).replaceAll(report.id, earlier))
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    for (const f of backupFiles(backup)) if (f !== manifestFileName) cpSync(join(backup, f), join(into, f.replace(report.id, earlier)))
    writeFileSync(join(into, manifestFileName), encodeBackupManifest(unsealed))
    const before = backupFiles(into)
    const manifestBefore = readFileSync(join(into, manifestFileName), "utf8")
    const exit = await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    const error = Exit.isFailure(exit) ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string; message: string } }).error : undefined
    expect(error?._tag).toBe("CompleteBackupInTheWay")
    expect(error?.message).toContain(`holds the complete backup ${earlier}`)
    expect(backupFiles(into)).toEqual(before)
    expect(readFileSync(join(into, manifestFileName), "utf8")).toBe(manifestBefore)
  })

  it("the same through a directory store", async () => {
    const root = mkdtempSync(join(tmpdir(), "store-dir-"))
    const layer = directoryStoreLayer(root)
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(Effect.provide(Layer.mergeAll(layer, NodeServices.layer, DiskSpace.live))))
    const listed = await Effect.runPromise(listBackups(prefix).pipe(Effect.provide(layer)))
    expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([[report.id, "Complete"]])
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(Effect.provide(Layer.mergeAll(layer, NodeServices.layer, DiskSpace.live))))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })

  it("a failed manifest write leaves an incomplete backup, never listed complete, and refused by download", async () => {
    const faults: FaultInjector = (operation, key) =>
      operation === "PUT" && key.endsWith(manifestFileName)
        ? Effect.fail(new StoreRequestFailed({ store: "memory://", operation, key, status: 400, code: "InvalidRequest", retryable: false, message: "refused" }))
        : Effect.void
    const store = makeMemoryStore({ faults })
    const exit = await Effect.runPromiseExit(uploadBackup(backup, prefix).pipe(withStore(store)))
    expect(Exit.isFailure(exit)).toBe(true)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Incomplete"])
    const download = await Effect.runPromiseExit(downloadBackup(prefix, listed[0]!.completeness.id, mkdtempSync(join(tmpdir(), "dl-"))).pipe(withStore(store)))
    expect(JSON.stringify(download)).toMatch(/StoredBackupIncomplete.*no backup-manifest\.json/)
  })

  it("a re-upload over a stored manifest that cannot be read says so (not 'already stored complete') and completes the backup", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    await Effect.runPromise(store.putBytes(objectKey(prefix, report.id, manifestFileName), new TextEncoder().encode("<html>not a manifest</html>")))
    const lines: Array<string> = []
    await Effect.runPromise(
      uploadBackup(backup, prefix).pipe(withStore(store), Effect.provide(Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))]))),
    )
    expect(lines.some((l) => l.includes(`backup ${report.id} already has a manifest in memory:// that cannot be read as one`))).toBe(true)
    expect(lines.some((l) => l.includes("is already stored complete"))).toBe(false)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
  })

  it("a plain re-upload from a damaged copy is refused and leaves the stored backup complete and whole", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    const damaged = mkdtempSync(join(tmpdir(), "store-damaged-"))
    cpSync(backup, damaged, { recursive: true })
    const snapshot = join(damaged, readManifest(backup).files.snapshot.name)
    const bytes = readFileSync(snapshot)
    bytes[0] = bytes[0]! ^ 0xff
    writeFileSync(snapshot, bytes)
    const exit = await Effect.runPromiseExit(uploadBackup(damaged, prefix).pipe(withStore(store)))
    expect(JSON.stringify(exit)).toMatch(/StoreIntegrityFailed/)
    const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(store)))
    expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    await Effect.runPromise(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })

  it("a manifest replaced while the files download (a re-upload): no manifest written beside files it may not describe", async () => {
    const m = readManifest(backup)
    // The download's reads of the manifest: the first checks the backup, the second writes it.
    let manifestReads = 0
    const holder: { store?: MemoryStore; armed?: boolean } = {}
    const store = makeMemoryStore({
      faults: (operation, key) =>
        Effect.sync(() => {
          if (holder.armed !== true || operation !== "GET" || !key.endsWith(manifestFileName) || ++manifestReads !== 2) return
          const o = holder.store!.objects.get(key)!
          const bytes = new TextEncoder().encode(encodeBackupManifest({ ...m, etcd: { ...m.etcd, revision: m.etcd.revision + 1 } }))
          holder.store!.objects.set(key, { ...o, bytes, sha256: createHash("sha256").update(bytes).digest("hex") })
        }),
    })
    holder.store = store
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    holder.armed = true
    const into = mkdtempSync(join(tmpdir(), "store-download-"))
    const exit = await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    expect(manifestReads).toBe(2)
    expect(JSON.stringify(exit)).toMatch(/StoredBackupIncomplete.*changed during the download/)
    expect(backupFiles(into)).not.toContain(manifestFileName)
  })

  it("a damaged stored copy: download fails naming the file, and keeps nothing of it", async () => {
    const store = makeMemoryStore()
    const report = await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    const snapshotKey = objectKey(prefix, report.id, readManifest(backup).files.snapshot.name)
    const o = store.objects.get(snapshotKey)!
    const damaged = new Uint8Array(o.bytes)
    damaged[100] = damaged[100]! ^ 0xff
    store.objects.set(snapshotKey, { bytes: damaged, modifiedAt: o.modifiedAt, sha256: o.sha256 })
    const into = mkdtempSync(join(tmpdir(), "dl-"))
    const exit = await Effect.runPromiseExit(downloadBackup(prefix, report.id, into).pipe(withStore(store)))
    expect(JSON.stringify(exit)).toMatch(/StoreIntegrityFailed.*the stored copy is damaged/)
    expect(backupFiles(into)).toEqual([])
  })

  it("random 5xx and slow answers: the upload converges or fails cleanly, never a complete backup that is not whole", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.double({ min: 0, max: 0.7, noNaN: true }),
        fc.integer({ min: 0, max: 4 }),
        async (seed, failureRate, retries) => {
          let s = seed
          const random = () => {
            s = (s * 1103515245 + 12345) % 2 ** 31
            return s / 2 ** 31
          }
          const store = makeMemoryStore({ faults: randomFaults(random, failureRate, 3), retry: { retries, retryBaseMs: 1 } })
          const exit = await Effect.runPromiseExit(uploadBackup(backup, prefix).pipe(withStore(store)))
          const clean = makeMemoryStore()
          for (const [k, v] of store.objects) clean.objects.set(k, v)
          const listed = await Effect.runPromise(listBackups(prefix).pipe(withStore(clean)))
          const complete = listed.filter((b) => b.completeness._tag === "Complete")
          if (Exit.isSuccess(exit)) {
            expect(complete).toHaveLength(1)
            const into = mkdtempSync(join(tmpdir(), "dl-"))
            await Effect.runPromise(downloadBackup(prefix, exit.value.id, into).pipe(withStore(clean)))
            for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
          } else {
            expect(JSON.stringify(exit)).toContain("ServiceUnavailable")
            expect(complete).toHaveLength(0)
          }
        },
      ),
      { numRuns: 25 },
    )
  })
})
