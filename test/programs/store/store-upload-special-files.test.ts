import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../../src/services/disk-space.ts"
/**
 * Upload opens a backup's files with backup-file.ts's opener: a FIFO (or a device) named as the
 * snapshot is refused at once, by every store, and nothing of the backup is stored. Before, the
 * open of a FIFO without a writer blocked forever (in libuv's thread pool, beyond SIGTERM).
 */
import { execFileSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { BackupStore, type BackupStoreShape } from "../../../src/services/store/backup-store.ts"
import { makeDirectoryStore } from "../../../src/services/store/directory-store.ts"
import { makeMemoryStore } from "../../../src/services/store/memory-store.ts"
import { makeS3Store } from "../../../src/services/store/s3-store.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { createBucket, s3Endpoint, s3Server } from "../../support/s3-server.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const work = mkdtempSync(join(tmpdir(), "store-upload-special-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))
const good = join(work, "good")
const fifoBackup = join(work, "fifo")
const bucket = `special-${process.pid}`
let s3: BackupStoreShape

beforeAll(async () => {
  await Effect.runPromise(makeFakeBackup(good, loadedCluster()))
  cpSync(good, fifoBackup, { recursive: true })
  const snapshot = join(fifoBackup, readManifest(fifoBackup).files.snapshot.name)
  rmSync(snapshot)
  execFileSync("mkfifo", [snapshot])
  const server = await s3Server()
  await createBucket(server, bucket)
  s3 = makeS3Store(s3Endpoint(server, bucket))
}, 200_000)

const stores: ReadonlyArray<readonly [string, () => BackupStoreShape]> = [
  ["a directory store", () => makeDirectoryStore(mkdtempSync(join(work, "dir-store-")))],
  ["the S3 store (Swift)", () => s3],
  ["the in-memory store", () => makeMemoryStore()],
]

describe("upload of a backup whose snapshot is a FIFO", () => {
  it.each(stores)(
    "%s: refused at once naming the FIFO, and no object of the backup is stored",
    async (_name, make) => {
      const store = make()
      const prefix = `fifo-${Math.random().toString(36).slice(2)}`
      const started = Date.now()
      const exit = await Effect.runPromiseExit(
        uploadBackup(fifoBackup, prefix).pipe(
          Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
        ),
      )
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(Exit.isFailure(exit)).toBe(true)
      const text = JSON.stringify(exit)
      expect(text).toContain("BackupFileRefused")
      expect(text).toContain("is a FIFO (named pipe), not a regular file; it was not opened")
      expect((await Effect.runPromise(store.listPage(`${prefix}/`))).objects).toEqual([])
    },
    20_000,
  )
})
