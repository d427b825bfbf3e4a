import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { lockBackupDir } from "../../../src/programs/backup-dir/backup-dir-lock.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { readRecipientsFile } from "../../../src/services/crypto/recipients-file.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"
import { keygen } from "../../services/crypto/age-cli.ts"

const prefix = "cluster-backup/0000-cluster"
let backup: string
let recipients: string
const withStore = (store: MemoryStore) => Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))

beforeAll(async () => {
  backup = tempDir("upload-lock-backup")
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  const keys = tempDir("upload-lock-keys")
  recipients = join(keys, "recipients")
  writeFileSync(recipients, `${keygen(join(keys, "age.key")).recipient}\n`)
}, 60_000)

const encryptedUpload = async (store: MemoryStore) =>
  uploadBackup(backup, prefix, undefined, { recipients: { snapshot: await Effect.runPromise(readRecipientsFile(recipients)) } }).pipe(withStore(store))

describe("backup-upload holds the backup directory's lock", () => {
  it("fails fast with RunLockHeld, storing nothing, while another run holds the directory", async () => {
    const store = makeMemoryStore()
    const upload = await encryptedUpload(store)
    const beside = readdirSync(backup).sort()
    const exit = await Effect.runPromiseExit(
      Effect.gen(function* () {
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // Another upload of the same directory, in its encryption: it holds the lock until released.
        const holder = yield* Effect.forkChild(
          Effect.scoped(Effect.andThen(lockBackupDir(backup, "backup-upload"), Effect.andThen(Deferred.succeed(locked, undefined), Deferred.await(release)))),
        )
        yield* Deferred.await(locked)
        const second = yield* Effect.exit(upload)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        return yield* second
      }).pipe(withStore(store)),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string }
      expect(error._tag).toBe("RunLockHeld")
      expect(error.message).toContain("backup-upload")
    }
    expect(store.objects.size).toBe(0)
    // Nothing of the refused run is left beside the backup.
    expect(readdirSync(backup).sort()).toEqual(beside)
    // Once the lock is free, the same upload runs.
    await Effect.runPromise(upload)
    expect(store.objects.size).toBe(3)
  })

  it("removes the .age and .age.part a killed upload left beside the manifest's files, never a user's file of another name", async () => {
    const manifest = readManifest(backup)
    const left = [`${manifest.files.snapshot.name}.age`, `${manifest.files.resources.name}.age.part`, `${manifest.files.snapshot.name}.age.part`]
    const users = ["notes.age", "snapshot_1999-01-01_000000.db.age", `${manifest.files.resources.name}.age.bak`]
    for (const name of [...left, ...users]) writeFileSync(join(backup, name), "ciphertext")
    const store = makeMemoryStore()
    await Effect.runPromise(uploadBackup(backup, prefix).pipe(withStore(store)))
    for (const name of left) expect(existsSync(join(backup, name)), name).toBe(false)
    for (const name of users) expect(existsSync(join(backup, name)), name).toBe(true)
  })
})
