import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { objectKey, type PendingUpload } from "../../../src/domain/store-layout.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, unavailable, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { StoreBucketMissing } from "../../../src/services/store/store-errors.ts"
import { fakeBackupForSuite, readManifest } from "../../support/bad-backups.ts"

const prefix = "cluster-backup/0000-cluster"
const { backup } = fakeBackupForSuite("left-uploads")

const upload = (store: MemoryStore) => {
  const lines: Array<string> = []
  const run = uploadBackup(backup, prefix).pipe(
    Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
    Effect.provide(Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))])),
  )
  return Effect.runPromiseExit(run).then((exit) => ({ exit, lines }))
}

const leave = (store: MemoryStore, key: string, uploadId: string) =>
  store.uploads.set(uploadId, { key, uploadId, initiatedAt: Date.UTC(2024, 0, 1) } satisfies PendingUpload)

describe("the multipart uploads killed runs left", () => {
  it("are aborted once the backup is stored: those of its own files only, not another backup's or a foreign name's", async () => {
    const store = makeMemoryStore()
    const { timestamp: id, files } = readManifest(backup)
    leave(store, objectKey(prefix, id, files.snapshot.name), "own-plain")
    leave(store, objectKey(prefix, id, `${files.snapshot.name}.age`), "own-encrypted")
    leave(store, objectKey(prefix, "2020-01-01_000000", files.snapshot.name), "another-backup")
    leave(store, objectKey(prefix, id, "notes.txt"), "foreign-name")
    const { exit, lines } = await upload(store)
    expect(exit._tag, String(exit)).toBe("Success")
    expect([...store.uploads.keys()].sort()).toEqual(["another-backup", "foreign-name"])
    expect(lines.filter((l) => l.startsWith("aborted the multipart upload"))).toHaveLength(2)
  })

  it("a store that cannot list them: the backup is stored all the same, with a warning", async () => {
    const store = makeMemoryStore({
      faults: (operation, key) => (operation === "ListMultipartUploads" ? Effect.fail(unavailable(operation, key)) : Effect.void),
    })
    const { exit, lines } = await upload(store)
    expect(exit._tag, String(exit)).toBe("Success")
    expect(lines.some((l) => l.startsWith("could not list the multipart uploads earlier runs left"))).toBe(true)
    expect([...store.objects.keys()].some((k) => k.endsWith("backup-manifest.json"))).toBe(true)
  })

  it("a store that is not there (no bucket, no directory): the upload fails with that, and no warning about the uploads comes first", async () => {
    const store = makeMemoryStore({
      faults: (operation) =>
        operation === "ListMultipartUploads" || operation === "PUT"
          ? Effect.fail(new StoreBucketMissing({ store: "s3://gone", bucket: "gone", message: "bucket gone does not exist" }))
          : Effect.void,
    })
    const { exit, lines } = await upload(store)
    expect(exit._tag).toBe("Failure")
    expect(String(exit)).toContain("StoreBucketMissing")
    expect(lines.filter((l) => l.startsWith("could not list the multipart uploads"))).toEqual([])
  })

  it("an upload that fails leaves them for prune", async () => {
    const store = makeMemoryStore({
      faults: (operation, key) => (operation === "PUT" && key.endsWith("backup-manifest.json") ? Effect.fail(unavailable(operation, key)) : Effect.void),
    })
    const { timestamp: id, files } = readManifest(backup)
    leave(store, objectKey(prefix, id, files.snapshot.name), "own-plain")
    const { exit } = await upload(store)
    expect(exit._tag).toBe("Failure")
    expect([...store.uploads.keys()]).toEqual(["own-plain"])
  })
})
