import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../../src/services/disk-space.ts"
/**
 * backup-upload's prune of the store: only after the upload succeeded, never the newest complete
 * backup, and a prune that fails leaves the upload a success (a warning).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { Effect, Exit, Layer, Logger } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { manifestFileName, parseBackupTimestamp } from "../../../src/domain/archive-names.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { signManifest } from "../../../src/services/crypto/manifest-signature.ts"
import { signingKeyPair } from "../../support/signing-keys.ts"
import type { BackupManifest } from "../../../src/domain/backup-manifest.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { type UploadThenPruneOptions, uploadThenPrune } from "../../../src/programs/store/upload-then-prune.ts"
import { BackupStore } from "../../../src/services/store/backup-store.ts"
import { type FaultInjector, makeMemoryStore, type MemoryStore, unavailable } from "../../../src/services/store/memory-store.ts"
import { copyBackup, makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { storedBackup } from "../../support/stored-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "cluster-backup/c1"
const day = 24 * 3_600_000
const work = mkdtempSync(join(tmpdir(), "upload-then-prune-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))
let base: BackupManifest

beforeAll(async () => {
  await Effect.runPromise(makeFakeBackup(work, loadedCluster()))
  base = readManifest(work)
}, 60_000)

/** A store holding two complete backups older than the one to upload; `faults` decides each request (recorded). */
const storeWithOlderBackups = (faults: FaultInjector = () => Effect.void) => {
  const operations: Array<string> = []
  let armed = false
  const store = makeMemoryStore({
    faults: (operation, key) => (armed ? Effect.sync(() => operations.push(operation)).pipe(Effect.andThen(faults(operation, key))) : Effect.void),
    retry: { retries: 0, retryBaseMs: 0 },
  })
  const at = parseBackupTimestamp(base.timestamp).getTime()
  const older = [at - 2 * day, at - day].map((t) => {
    const { id, files } = storedBackup(base, t)
    for (const [file, bytes] of files) Effect.runSync(store.putBytes(objectKey(prefix, id, file), bytes))
    return id
  })
  armed = true
  return { store, operations, older }
}

const ids = (store: MemoryStore) => [...new Set([...store.objects.keys()].map((k) => k.split("/")[2]))].sort()

const run = async (store: MemoryStore, keepLast: number | undefined, more: Partial<UploadThenPruneOptions> = {}) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message, logLevel }) => void lines.push(`${logLevel} ${String(message)}`))
  const exit = await Effect.runPromiseExit(
    uploadThenPrune({ backupDir: work, prefix, policy: { keepLast }, graceMs: day, deadlineMs: 60_000, ...more }).pipe(
      Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
      Effect.provide(Logger.layer([logger])),
    ),
  )
  return { exit, lines }
}

describe("upload, then prune the store", () => {
  it("after a successful upload: keeps the newest (the one just uploaded) by the rule, removes the older ones, logs the outcome", async () => {
    const { store, older } = storeWithOlderBackups()
    const { exit, lines } = await run(store, 1)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.prune._tag).toBe("Pruned")
    expect(ids(store)).toEqual([base.timestamp])
    expect(older.every((id) => id < base.timestamp)).toBe(true)
    expect(lines.join("\n")).toContain("pruned the store after the upload")
  })

  it("without a retention rule nothing is pruned", async () => {
    const { store, older, operations } = storeWithOlderBackups()
    const { exit } = await run(store, undefined)
    expect(Exit.isSuccess(exit) && exit.value.prune._tag).toBe("NotAsked")
    expect(ids(store)).toEqual([...older, base.timestamp].sort())
    expect(operations).not.toContain("DELETE")
  })

  it("a failed upload prunes nothing: no listing, no deletion after the failure", async () => {
    const { store, older, operations } = storeWithOlderBackups((operation) => (operation === "PUT" ? Effect.fail(unavailable(operation, "x")) : Effect.void))
    const { exit } = await run(store, 1)
    expect(Exit.isFailure(exit)).toBe(true)
    // Before its first PUT the upload reads what the store holds of its own backup (GET, and the multipart uploads earlier runs
    // of it left); no listing of the store, no deletion, nothing aborted.
    expect(operations.filter((o) => o !== "PUT" && o !== "GET" && o !== "ListMultipartUploads")).toEqual([])
    for (const id of older) expect(ids(store)).toContain(id)
  })

  it("a failed prune leaves a good upload good: success, the backup stored, a warning", async () => {
    const { store } = storeWithOlderBackups((operation) => (operation === "DELETE" ? Effect.fail(unavailable(operation, "x")) : Effect.void))
    const { exit, lines } = await run(store, 1)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.prune._tag).toBe("Failed")
    expect(ids(store)).toContain(base.timestamp)
    expect(lines.join("\n")).toMatch(/Warn backup .* is stored, but pruning the store afterwards failed/)
  })
})

const ours = signingKeyPair()
const stranger = signingKeyPair()
const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string; message: string } }).error : undefined

describe("with --trusted-key, a backup no trusted key signs is stored, but the store is not pruned and the run fails", () => {
  const signedBy = (key: typeof ours.signing) => {
    const dir = copyBackup(work, mkdtempSync(join(tmpdir(), "upload-then-prune-signed-")))
    writeFileSync(join(dir, signatureFileName), signManifest(readFileSync(join(dir, manifestFileName)), key))
    return dir
  }
  it.each([
    ["not signed", () => ({}), /but its manifest is not signed: /],
    [
      "signed by another key",
      () => ({ backupDir: signedBy(stranger.signing) }),
      new RegExp(`but its manifest is signed by key ${stranger.trusted.keyId}, which is not a trusted key: `),
    ],
    [
      "signed as stored by a --signing-key the trusted keys do not hold",
      () => ({ backupDir: signedBy(ours.signing), protection: { signingKey: stranger.signing } }),
      new RegExp(`but it is signed as it is stored by --signing-key ${stranger.signing.keyId}, which is not a trusted key: `),
    ],
  ])("%s: UploadedBackupUntrusted saying why; every older backup kept", async (_what, more, why) => {
    const { store, older, operations } = storeWithOlderBackups()
    const { exit, lines } = await run(store, 1, { trustedKeys: [ours.trusted], ...more() })
    const error = failureOf(exit)
    expect(error?._tag).toBe("UploadedBackupUntrusted")
    expect(error?.message).toMatch(why)
    expect(error?.message).toMatch(new RegExp(`^backup ${base.timestamp} is stored in .*no prune ran; sign the backups with a key --trusted-key holds`))
    expect(ids(store)).toEqual([...older, base.timestamp])
    expect(operations).not.toContain("DELETE")
    expect(lines.join("\n")).toMatch(/Warn the backup in .* is not trusted by --trusted-key: .*; it is stored, but the store is not pruned/)
  })

  it("signed by a trusted key (here as stored, by --signing-key): pruned as without keys", async () => {
    const { store } = storeWithOlderBackups()
    const { exit } = await run(store, 1, { trustedKeys: [ours.trusted], protection: { signingKey: ours.signing } })
    expect(Exit.isSuccess(exit), String(failureOf(exit)?.message)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.prune._tag).toBe("Pruned")
    expect(ids(store)).toEqual([base.timestamp])
  })
})

describe("a store with no room for the backup (a full volume), with a retention rule", () => {
  const allowance = 1024 * 1024
  /** A store of `room` bytes more than two older backups as large as this one take: a volume's free space, or a quota. */
  const fullStore = (room: (need: number, oneBackup: number) => number, limit: "capacityBytes" | "quotaBytes" = "capacityBytes") => {
    const at = parseBackupTimestamp(base.timestamp).getTime()
    const backups = [at - 2 * day, at - day].map((t) => storedBackup(base, t, true, true))
    const used = backups.flatMap((b) => b.files).reduce((n, [, bytes]) => n + bytes.byteLength, 0)
    const store = makeMemoryStore({ [limit]: used + room(base.files.snapshot.size + base.files.resources.size + allowance, used / 2) })
    for (const { id, files } of backups) for (const [file, bytes] of files) Effect.runSync(store.putBytes(objectKey(prefix, id, file), bytes))
    return { store, older: backups.map((b) => b.id) }
  }
  const failure = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string; message: string } }).error : undefined

  it("--keep-last 2: the oldest, which the rule removes once this backup is stored, goes first; the upload then fits", async () => {
    const { store, older } = fullStore((need) => need - 1)
    const { exit, lines } = await run(store, 2)
    expect(Exit.isSuccess(exit), String(failure(exit)?.message)).toBe(true)
    expect(ids(store)).toEqual([older[1], base.timestamp])
    if (Exit.isSuccess(exit)) expect(exit.value.prune).toMatchObject({ _tag: "Pruned", removedBeforeUpload: 1 })
    expect(lines.join("\n")).toMatch(/Warn backup \S+ needs \S+ \S+ free in memory:\/\/, which has \S+ \S+: first removing what the retention rule removes/)
    expect(lines.join("\n")).toContain("made room in the store before the upload: ")
  })

  it("object storage whose quota is used up (RGW's 403 QuotaExceeded), --keep-last 2: the refused upload is aborted, the oldest goes, the upload is tried again and stored", async () => {
    const { store, older } = fullStore((need) => need - allowance - 1, "quotaBytes")
    const { exit, lines } = await run(store, 2)
    expect(Exit.isSuccess(exit), String(failure(exit)?.message)).toBe(true)
    expect(ids(store)).toEqual([older[1], base.timestamp])
    expect(store.uploads.size).toBe(0)
    expect(lines.join("\n")).toMatch(/Warn backup \S+ was refused by memory:\/\/: its quota is used up \(QuotaExceeded\): first removing/)
  })

  // A policy pod lost mid-upload left its parts, which the quota counts: every upload was refused until the grace (24 h) had passed.
  it("a quota used up by the parts of another backup's upload whose writer is gone (no part for two hours): aborted first, the upload stored", async () => {
    // Room for this backup once the lost upload's parts are gone, not before.
    const { store, older } = fullStore((need) => need, "quotaBytes")
    const lost = "2026-01-01_000000"
    const now = Date.now()
    store.uploads.set("lost", { key: objectKey(prefix, lost, `snapshot_${lost}.db`), uploadId: "lost", initiatedAt: now - 3 * 3_600_000, bytes: 2 * allowance })
    store.uploadParts.set("lost", now - 2 * 3_600_000)
    const { exit, lines } = await run(store, 3)
    expect(Exit.isSuccess(exit), String(failure(exit)?.message)).toBe(true)
    expect(ids(store)).toEqual([...older, base.timestamp])
    expect(store.uploads.size).toBe(0)
    expect(lines.join("\n")).toMatch(/removing the abandoned multipart upload of \S+, untouched since /)
  })

  it("the same with the writer's last part ten minutes old: it may be at work, so it stays and the upload is refused", async () => {
    const { store } = fullStore((need) => need, "quotaBytes")
    const lost = "2026-01-01_000000"
    const now = Date.now()
    store.uploads.set("live", { key: objectKey(prefix, lost, `snapshot_${lost}.db`), uploadId: "live", initiatedAt: now - 3 * 3_600_000, bytes: 2 * allowance })
    store.uploadParts.set("live", now - 10 * 60_000)
    expect(failure((await run(store, 3)).exit)).toMatchObject({ _tag: "StoreRequestFailed", code: "QuotaExceeded" })
    expect([...store.uploads.keys()]).toEqual(["live"])
  })

  it("a used-up quota and a rule that removes nothing first: the store's refusal, saying so; without a rule, as it is", async () => {
    const kept = fullStore((need) => need - allowance - 1, "quotaBytes")
    const refused = failure((await run(kept.store, 3)).exit)
    expect(refused).toMatchObject({ _tag: "StoreRequestFailed", code: "QuotaExceeded" })
    expect(refused?.message).toMatch(/\(the retention rule removes nothing before this backup is stored: its newest complete backup stays until then\)$/)
    const plain = fullStore((need) => need - allowance - 1, "quotaBytes")
    expect(failure((await run(plain.store, undefined)).exit)).toMatchObject({ _tag: "StoreRequestFailed", code: "QuotaExceeded" })
    // What fit before the refusal is an incomplete backup (no manifest), which prune removes after the grace period.
    for (const { store, older } of [kept, plain]) {
      expect(ids(store).filter((id) => id !== base.timestamp)).toEqual(older)
      expect(store.objects.has(objectKey(prefix, base.timestamp, "backup-manifest.json"))).toBe(false)
    }
  })

  it("--keep-last 1: the newest stored backup stays until this one is stored, the older goes first; the newest after the upload", async () => {
    const { store, older } = fullStore((need) => need - 1)
    const { exit } = await run(store, 1)
    expect(Exit.isSuccess(exit), String(failure(exit)?.message)).toBe(true)
    expect(ids(store)).toEqual([base.timestamp])
    expect(older).toHaveLength(2)
  })

  it("--keep-last 2 with --trusted-key: the backup to upload counts as trusted (its own signature), so the room made is the oldest signed one and an unsigned one planted after it", async () => {
    const at = parseBackupTimestamp(base.timestamp).getTime()
    const { signing: key, trusted } = signingKeyPair()
    const signedDir = copyBackup(work, join(work, "..", `${basename(work)}-signed`))
    writeFileSync(join(signedDir, signatureFileName), signManifest(readFileSync(join(signedDir, manifestFileName)), key))
    const backups = [
      { b: storedBackup(base, at - 2 * day, true, true), sign: true },
      { b: storedBackup(base, at - day, true, true), sign: true },
      { b: storedBackup(base, at - day / 2, true, true), sign: false },
    ]
    const one = backups[0]!.b.files.reduce((n, [, bytes]) => n + bytes.byteLength, 0)
    const used = 3 * one
    // Room only once two of them are gone.
    const store = makeMemoryStore({ capacityBytes: used - one + base.files.snapshot.size + base.files.resources.size + allowance - 1 })
    for (const { b, sign } of backups) {
      for (const [file, bytes] of b.files) {
        if (file === manifestFileName && sign)
          Effect.runSync(store.putBytes(objectKey(prefix, b.id, signatureFileName), new TextEncoder().encode(signManifest(bytes, key))))
        Effect.runSync(store.putBytes(objectKey(prefix, b.id, file), bytes))
      }
    }
    const exit = await Effect.runPromiseExit(
      uploadThenPrune({ backupDir: signedDir, prefix, policy: { keepLast: 2 }, graceMs: day, deadlineMs: 60_000, trustedKeys: [trusted] }).pipe(
        Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), NodeServices.layer, DiskSpace.live)),
      ),
    )
    expect(Exit.isSuccess(exit), String(failure(exit)?.message)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.prune).toMatchObject({ _tag: "Pruned", removedBeforeUpload: 2 })
    expect(ids(store)).toEqual([backups[1]!.b.id, base.timestamp])
  })

  it("--keep-last 1 with --trusted-key and a backup no trusted key signs: no room made for it, StoreTooSmall, nothing removed", async () => {
    const { store, older } = fullStore((need) => need - 1)
    const { exit } = await run(store, 1, { trustedKeys: [ours.trusted] })
    expect(failure(exit)?._tag).toBe("StoreTooSmall")
    expect(ids(store)).toEqual(older)
  })

  it("a rule that removes nothing before the upload: StoreTooSmall saying so, nothing removed", async () => {
    const { store, older } = fullStore((need) => need - 1)
    const { exit } = await run(store, 3)
    expect(failure(exit)?._tag).toBe("StoreTooSmall")
    expect(failure(exit)?.message).toMatch(
      /nothing was uploaded; .* \(the retention rule removes nothing before this backup is stored: its newest complete backup stays until then\)$/,
    )
    expect(ids(store)).toEqual(older)
  })

  it("a rule that keeps more than the store holds: what it removes goes, then StoreTooSmall saying so", async () => {
    const { store, older } = fullStore((need, oneBackup) => need - oneBackup - 1)
    const { exit } = await run(store, 1)
    expect(failure(exit)?._tag).toBe("StoreTooSmall")
    expect(failure(exit)?.message).toMatch(
      /\(even after removing what the retention rule removes once this backup is stored: the rule keeps more than the store holds; .*\)$/,
    )
    expect(ids(store)).toEqual([older[1]])
  })

  it("without a rule: StoreTooSmall, nothing removed", async () => {
    const { store, older } = fullStore((need) => need - 1)
    const { exit } = await run(store, undefined)
    expect(failure(exit)?._tag).toBe("StoreTooSmall")
    expect(ids(store)).toEqual(older)
  })

  it("with room, nothing is removed before the upload", async () => {
    const { store, older } = fullStore((need) => need)
    const { exit } = await run(store, 2)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.prune).toMatchObject({ _tag: "Pruned", removedBeforeUpload: undefined })
    expect(ids(store)).toEqual([older[1], base.timestamp])
  })
})
