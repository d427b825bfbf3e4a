/**
 * backup-upload into a store that reports its free space (a directory store's volume; here the
 * memory store given a capacity, which fails a put past it with ENOSPC): the whole upload is checked
 * first, with what each file replaces counted as freed once it is in place.
 */
import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { Effect, Exit, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { payloadBytes } from "../../../src/domain/age-payload-layout.ts"
import { uploadBackup } from "../../../src/programs/store/store-upload.ts"
import { readRecipientsFile } from "../../../src/services/crypto/recipients-file.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"
import { keygen } from "../../services/crypto/age-cli.ts"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

const prefix = "cluster-backup/0000-cluster"
const allowance = 1024 * 1024
const backup = tempDir("store-room-backup")
const keys = tempDir("store-room-keys")
let sizes: { snapshot: number; resources: number }

beforeAll(async () => {
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster()))
  const m = readManifest(backup)
  sizes = { snapshot: m.files.snapshot.size, resources: m.files.resources.size }
}, 60_000)

const upload = (store: MemoryStore, recipients?: string) =>
  Effect.runPromiseExit(
    Effect.gen(function* () {
      const set = recipients === undefined ? undefined : yield* readRecipientsFile(recipients)
      return yield* uploadBackup(backup, prefix, undefined, set === undefined ? {} : { recipients: { snapshot: set, resources: set } })
    }).pipe(Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live))),
  )

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  return exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string; neededBytes: number; availableBytes: number }
}

describe("backup-upload into a store that reports its free space", () => {
  it("needs both files and the allowance: refused one byte short with nothing stored, stored with exactly that", async () => {
    const need = sizes.snapshot + sizes.resources + allowance
    const short = makeMemoryStore({ capacityBytes: need - 1 })
    const error = failureOf(await upload(short))
    expect(error._tag).toBe("StoreTooSmall")
    expect({ needed: error.neededBytes, available: error.availableBytes }).toEqual({ needed: need, available: need - 1 })
    expect(error.message).toContain("nothing was uploaded")
    expect(short.objects.size).toBe(0)
    expect(Exit.isSuccess(await upload(makeMemoryStore({ capacityBytes: need })))).toBe(true)
  })

  it("encrypted, the ciphertexts' sizes count (16 bytes more per 64 KiB)", async () => {
    const recipients = join(keys, "recipients")
    writeFileSync(recipients, `${keygen(join(keys, "snapshot.key")).recipient}\n`)
    const need = payloadBytes(sizes.snapshot) + payloadBytes(sizes.resources) + allowance
    const error = failureOf(await upload(makeMemoryStore({ capacityBytes: need - 1 }), recipients))
    expect({ tag: error._tag, needed: error.neededBytes }).toEqual({ tag: "StoreTooSmall", needed: need })
    expect(Exit.isSuccess(await upload(makeMemoryStore({ capacityBytes: need }), recipients))).toBe(true)
  })

  it("a re-upload needs room only for the largest file beside its stored copy, which it replaces, not for the backup twice", async () => {
    const stored = makeMemoryStore()
    expect(Exit.isSuccess(await upload(stored))).toBe(true)
    const used = [...stored.objects.values()].reduce((sum, o) => sum + o.bytes.byteLength, 0)
    const need = Math.max(sizes.snapshot, sizes.resources) + allowance
    const holding = (capacityBytes: number) => {
      const store = makeMemoryStore({ capacityBytes })
      for (const [k, o] of stored.objects) store.objects.set(k, o)
      return store
    }
    expect(Exit.isSuccess(await upload(holding(used + need)))).toBe(true)
    const short = holding(used + need - 1)
    const error = failureOf(await upload(short))
    expect({ tag: error._tag, needed: error.neededBytes }).toEqual({ tag: "StoreTooSmall", needed: need })
    expect([...short.objects.keys()]).toEqual([...stored.objects.keys()])
  })
})
