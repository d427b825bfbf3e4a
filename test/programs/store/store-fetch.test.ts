import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { fetchBackup } from "../../../src/programs/store/store-fetch.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
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
    uploadBackup(backup, prefix).pipe(Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer))),
  )
}, 60_000)

const run = (workDir: string, availableBytes: number) =>
  Effect.runPromiseExit(
    fetchBackup(prefix, readManifest(backup).timestamp, workDir).pipe(
      Effect.provide(
        Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), DiskSpace.inMemory({ availableBytes, totalBytes: 1e12 }), NodeServices.layer),
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
    expect(readdirSync(workDir)).toEqual([])
  })

  it("downloads with room enough; a repeated fetch needs room only for what is missing", async () => {
    const workDir = join(mkdtempSync(join(tmpdir(), "fetch-")), "work")
    expect(Exit.isSuccess(await run(workDir, 1e9))).toBe(true)
    expect(backupFiles(workDir)).toEqual(backupFiles(backup))
    expect(Exit.isSuccess(await run(workDir, 2 * 1024 * 1024))).toBe(true)
    expect(existsSync(join(workDir, "backup-manifest.json"))).toBe(true)
  })
})
