import { createHash } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { beforeAll, describe, expect } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { encodeBackupManifest, encryptedSuffix, type BackupManifest, type FileDigest } from "../../../src/domain/backup-manifest.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { verificationFileName } from "../../../src/domain/verification-file.ts"
import { listBackups } from "../../../src/programs/store/store-list.ts"
import { pruneStore, storePruneSummary } from "../../../src/programs/store/store-prune.ts"
import { BackupStore, type ObjectPage } from "../../../src/services/store/backup-store.ts"
import { type FaultInjector, makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { StoreRequestFailed } from "../../../src/services/store/store-errors.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { storedBackup } from "../../support/stored-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "cluster-backup/c1"
const hour = 3_600_000
const day = 24 * hour
const t0 = Date.parse("2026-03-01T00:00:00Z")
let base: BackupManifest

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "store-prune-"))
  await Effect.runPromise(makeFakeBackup(dir, loadedCluster()))
  base = readManifest(dir)
}, 60_000)

/** A store whose objects are stamped with the TestClock's time; with `faults`, each request meets them unretried. */
const setupWith = (faults?: FaultInjector) =>
  Effect.gen(function* () {
    let now = 0
    const store = makeMemoryStore({ now: () => now, ...(faults === undefined ? {} : { faults, retry: { retries: 0, retryBaseMs: 0 } }) })
    const tick = Effect.flatMap(
      Effect.clockWith((c) => c.currentTimeMillis),
      (t) =>
        Effect.sync(() => {
          now = t
        }),
    )
    return { store, tick }
  })
const setup = setupWith()

/** Writes a backup made at `at` (the TestClock set there first), manifest last unless `complete` is false. */
const putBackup = (store: MemoryStore, tick: Effect.Effect<void>, at: number, complete = true) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at)
    yield* tick
    const { id, files } = storedBackup(base, at, complete)
    for (const [file, bytes] of files) yield* store.putBytes(objectKey(prefix, id, file), bytes)
    return id
  })

/**
 * Writes a backup made at `at` as backup-upload stores it encrypted (its manifest names the `.age`
 * forms), with the plain files beside them as older versions of backup-upload left them.
 */
const putEncryptedWithPlainCopies = (store: MemoryStore, tick: Effect.Effect<void>, at: number) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at)
    yield* tick
    const { id, files } = storedBackup(base, at)
    const { manifestSha256: _, ...m } = JSON.parse(new TextDecoder().decode(files.find(([f]) => f === manifestFileName)![1])) as BackupManifest & {
      manifestSha256: string
    }
    const ciphertext = (f: FileDigest) => new TextEncoder().encode(`age-encryption.org/v1 ${f.name}`)
    const encrypted = (f: FileDigest): FileDigest => {
      const c = ciphertext(f)
      const sha256 = createHash("sha256").update(c).digest("hex")
      return { ...f, encrypted: { name: `${f.name}${encryptedSuffix}`, size: c.byteLength, sha256, recipientsSha256: "0".repeat(64) } }
    }
    const manifest = { ...m, files: { snapshot: encrypted(m.files.snapshot), resources: encrypted(m.files.resources) } }
    for (const [file, bytes] of files) if (file !== manifestFileName) yield* store.putBytes(objectKey(prefix, id, file), bytes)
    for (const f of [m.files.snapshot, m.files.resources]) yield* store.putBytes(objectKey(prefix, id, `${f.name}${encryptedSuffix}`), ciphertext(f))
    yield* store.putBytes(objectKey(prefix, id, manifestFileName), new TextEncoder().encode(encodeBackupManifest(manifest)))
    return { id, plain: [m.files.snapshot.name, m.files.resources.name].map((name) => objectKey(prefix, id, name)) }
  })

const ids = (store: MemoryStore) => [...new Set([...store.objects.keys()].map((k) => k.split("/")[2]))].sort()
const provide = (store: MemoryStore) => Effect.provide(Layer.succeed(BackupStore, BackupStore.of(store)))

describe("prune on a store", () => {
  it.effect("keeps exactly what the policy says, and never the newest complete backup", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const made = []
      for (let i = 0; i < 5; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
      yield* TestClock.setTime(t0 + 10 * day)
      const dry = yield* pruneStore({ prefix, policy: { keepLast: 2 }, graceMs: day, dryRun: true }).pipe(provide(store))
      expect(dry.retention.remove.map((r) => r.unit.id).sort()).toEqual(made.slice(0, 3))
      expect(ids(store)).toEqual(made)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 2 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.keep.map((k) => k.unit.id).sort()).toEqual(made.slice(3))
      expect(ids(store)).toEqual(made.slice(3))
      // A maximum age every backup exceeds still keeps the newest complete one.
      yield* pruneStore({ prefix, policy: { maxAgeMs: hour }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(ids(store)).toEqual([made[4]])
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete"])
    }),
  )

  it.effect("in a bucket that keeps versions, says the bytes it removed are not freed, and how they will be", () =>
    Effect.gen(function* () {
      let now = 0
      const prune = (status: "Enabled" | "Suspended" | "Unversioned") =>
        Effect.gen(function* () {
          const store = makeMemoryStore({ now: () => now, versioning: { _tag: "Known", status } })
          const tick = Effect.sync(() => {
            now = t0
          })
          for (let i = 0; i < 2; i++) yield* putBackup(store, tick, t0 + i * day)
          yield* TestClock.setTime(t0 + 10 * day)
          return storePruneSummary(yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store)))
        })
      expect(yield* prune("Enabled")).toMatch(
        / removed, not freed: the bucket keeps versions: deleted objects stay as noncurrent versions, stored and billed, until a lifecycle rule \(NoncurrentVersionExpiration\) expires them$/,
      )
      expect(yield* prune("Suspended")).toMatch(
        / freed \(the bucket's versioning is suspended: objects written while it was enabled stay as noncurrent versions/,
      )
      expect(yield* prune("Unversioned")).toMatch(/ freed$/)
    }),
  )

  it.effect("a backup copied under another id takes no slot: keep-last 1 keeps the original beside it, which download and restore accept", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const original = yield* putBackup(store, tick, t0)
      for (const [key, object] of [...store.objects]) {
        if (key.split("/")[2] === original) yield* store.putBytes(key.replace(`/${original}/`, `/keep-${original}/`), object.bytes)
      }
      yield* TestClock.setTime(t0 + day)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.remove).toEqual([])
      expect(report.retention.keep.find((k) => k.unit.id === `keep-${original}`)?.reason).toContain(`its manifest is backup ${original}'s`)
      expect(ids(store)).toEqual([original, `keep-${original}`].sort())
    }),
  )

  // Out of order, a backup's objects come apart into pieces that each look incomplete, and a repeated page would never end.
  it.effect("a store that lists its keys out of order, or repeats a page: list and prune refuse it, naming the keys, and nothing is removed", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const made = [yield* putBackup(store, tick, t0), yield* putBackup(store, tick, t0 + day)]
      yield* TestClock.setTime(t0 + 10 * day)
      const byFileName = (page: ObjectPage): ObjectPage => ({
        ...page,
        objects: [...page.objects].sort((a, b) => (a.key.split("/").at(-1)! < b.key.split("/").at(-1)! ? -1 : 1)),
      })
      const interleaved = BackupStore.of({ ...store, listPage: (p, next) => Effect.map(store.listPage(p, next), byFileName) })
      const repeating = BackupStore.of({ ...store, listPage: (p) => Effect.map(store.listPage(p), (page) => ({ ...page, next: "again" })) })
      for (const shown of [interleaved, repeating]) {
        const withStore = Effect.provide(Layer.succeed(BackupStore, shown))
        const listed = yield* Effect.flip(listBackups(prefix).pipe(withStore))
        expect(listed).toMatchObject({ _tag: "StoreRequestFailed", code: "ListingOutOfOrder", retryable: false })
        expect(listed.message).toMatch(/listed cluster-backup\/c1\/\S+ after cluster-backup\/c1\/\S+: an S3 listing ascends/)
        const pruned = yield* Effect.flip(pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: 0, dryRun: false }).pipe(withStore))
        expect(pruned).toMatchObject({ code: "ListingOutOfOrder" })
        expect(ids(store)).toEqual(made)
      }
    }),
  )

  it.effect("incomplete backups and abandoned uploads go only after the grace period; an incomplete backup is never a retention slot", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const complete = yield* putBackup(store, tick, t0)
      const incomplete = yield* putBackup(store, tick, t0 + day, false)
      store.uploads.set("u1", { key: objectKey(prefix, "2026-03-02_120000", "snapshot_2026-03-02_120000.db"), uploadId: "u1", initiatedAt: t0 + day })
      // Its writer stored a part half an hour ago: it may still be at work.
      store.uploadParts.set("u1", t0 + day + 22.5 * hour)
      yield* TestClock.setTime(t0 + day + 23 * hour)
      const early = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(early.incompleteKept.map((b) => b.id)).toEqual([incomplete])
      expect(early.uploadsKept.map((u) => u.uploadId)).toEqual(["u1"])
      expect(ids(store)).toEqual([complete, incomplete])
      expect(store.uploads.size).toBe(1)
      yield* TestClock.setTime(t0 + 2 * day + hour)
      const dry = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: true }).pipe(provide(store))
      expect(dry.incomplete.map((b) => b.id)).toEqual([incomplete])
      expect(ids(store)).toEqual([complete, incomplete])
      yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(ids(store)).toEqual([complete])
      expect(store.uploads.size).toBe(0)
    }),
  )

  // A policy pod lost mid-upload: its multipart upload took the bucket's quota until the grace period (24 h) had passed.
  it.effect("an upload whose newest part is over 90 minutes old is a dead writer's: aborted within the grace; one with a recent part, or young, is kept", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      yield* putBackup(store, tick, t0)
      const upload = (n: number, initiatedAt: number) => {
        const id = `2026-03-0${n}_000000`
        store.uploads.set(`u${n}`, { key: objectKey(prefix, id, `snapshot_${id}.db`), uploadId: `u${n}`, initiatedAt })
      }
      const now = t0 + day
      upload(2, now - 3 * hour)
      store.uploadParts.set("u2", now - 2 * hour)
      upload(3, now - 3 * hour)
      store.uploadParts.set("u3", now - 10 * 60_000)
      upload(4, now - 2 * hour)
      upload(5, now - 10 * 60_000)
      yield* TestClock.setTime(now)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.uploads.map((u) => [u.uploadId, u.lastActiveAt])).toEqual([
        ["u2", now - 2 * hour],
        ["u4", now - 2 * hour],
      ])
      expect(report.uploadsKept.map((u) => u.uploadId)).toEqual(["u3", "u5"])
      expect([...store.uploads.keys()]).toEqual(["u3", "u5"])
    }),
  )

  it.effect("an upload completed (or aborted) between the listing and the question: at work just now, so kept, never reported abandoned", () =>
    Effect.gen(function* () {
      const now = t0 + 3 * hour
      const store: MemoryStore = makeMemoryStore({
        now: () => now,
        faults: (operation) => (operation === "ListParts" ? Effect.sync(() => void store.uploads.delete("u1")) : Effect.void),
      })
      store.uploads.set("u1", { key: objectKey(prefix, "2026-03-02_000000", "snapshot_2026-03-02_000000.db"), uploadId: "u1", initiatedAt: t0 })
      yield* TestClock.setTime(now)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.uploads).toEqual([])
      expect(report.uploadsKept.map((u) => [u.uploadId, u.lastActiveAt])).toEqual([["u1", now]])
    }),
  )

  it.effect("a store that cannot tell when an upload last stored a part (denied): the upload waits out the grace period, with a warning", () =>
    Effect.gen(function* () {
      let now = 0
      const denied = new StoreRequestFailed({
        store: "memory://",
        operation: "ListParts",
        key: "",
        status: 403,
        code: "AccessDenied",
        retryable: false,
        message: "ListParts: AccessDenied (HTTP 403)",
      })
      const store = makeMemoryStore({ now: () => now, faults: (operation) => (operation === "ListParts" ? Effect.fail(denied) : Effect.void) })
      store.uploads.set("u1", { key: objectKey(prefix, "2026-03-02_000000", "snapshot_2026-03-02_000000.db"), uploadId: "u1", initiatedAt: t0 })
      yield* TestClock.setTime(t0 + 3 * hour)
      now = t0 + 3 * hour
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.uploadsKept.map((u) => u.uploadId)).toEqual(["u1"])
      expect(store.uploads.size).toBe(1)
    }),
  )

  it.effect(
    "a listing that omits objects of a complete backup (its manifest, or its snapshot): the backup is kept with a warning, not deleted as an abandoned upload",
    () =>
      Effect.gen(function* () {
        const { store, tick } = yield* setup
        const newest = yield* putBackup(store, tick, t0 + 2 * day)
        const noManifest = yield* putBackup(store, tick, t0)
        const noSnapshot = yield* putBackup(store, tick, t0 + day)
        const incomplete = yield* putBackup(store, tick, t0 + day + hour, false)
        const hidden = new Set([
          objectKey(prefix, noManifest, manifestFileName),
          [...store.objects.keys()].find((k) => k.startsWith(objectKey(prefix, noSnapshot, "snapshot_")))!,
        ])
        // The store's index lags behind its objects: the listing leaves out two keys that GET and HEAD find.
        const lying: MemoryStore = {
          ...store,
          listPage: (p, next) => store.listPage(p, next).pipe(Effect.map((page) => ({ ...page, objects: page.objects.filter((o) => !hidden.has(o.key)) }))),
        }
        yield* TestClock.setTime(t0 + 3 * day)
        const report = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: false }).pipe(provide(lying))
        expect(report.incomplete.map((b) => b.id)).toEqual([incomplete])
        expect(report.incompleteKept.map((b) => b.id).sort()).toEqual([noManifest, noSnapshot].sort())
        expect(ids(store)).toEqual([noManifest, noSnapshot, newest].sort())
      }),
  )

  it.effect("another program's old multipart uploads under the prefix are left alone", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      yield* putBackup(store, tick, t0)
      store.uploads.set("x1", { key: `${prefix}/exports/2026/march.csv`, uploadId: "x1", initiatedAt: t0 })
      store.uploads.set("x2", { key: `${prefix}/notes.txt`, uploadId: "x2", initiatedAt: t0 })
      yield* TestClock.setTime(t0 + 3 * day)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.uploads).toEqual([])
      expect(report.uploadsKept).toEqual([])
      expect([...store.uploads.keys()].sort()).toEqual(["x1", "x2"])
      // Under a backup's id too: a file backup-upload never writes is not its upload to abort.
      const backup = [...store.objects.keys()][0]!.split("/")[2]!
      store.uploads.set("x3", { key: objectKey(prefix, backup, "notes.txt"), uploadId: "x3", initiatedAt: t0 })
      const again = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(again.uploads).toEqual([])
      expect([...store.uploads.keys()].sort()).toEqual(["x1", "x2", "x3"])
    }),
  )

  it.effect("objects under the prefix that no backup-upload writes (a user's notes/readme.txt) are not an incomplete backup: never removed, however old", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const complete = yield* putBackup(store, tick, t0)
      const incomplete = yield* putBackup(store, tick, t0 + hour, false)
      yield* store.putBytes(objectKey(prefix, "notes", "readme.txt"), new TextEncoder().encode("where the backups are"))
      yield* TestClock.setTime(t0 + 3 * day)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.incomplete.map((b) => b.id)).toEqual([incomplete])
      expect(report.incompleteKept.map((b) => b.id)).toEqual(["notes"])
      expect(ids(store)).toEqual([complete, "notes"])
    }),
  )

  it.effect("removing a backup removes only its own files: another program's beside them (<id>/notes.txt) stays", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const old = yield* putBackup(store, tick, t0)
      const incomplete = yield* putBackup(store, tick, t0 + hour, false)
      const newest = yield* putBackup(store, tick, t0 + 2 * hour)
      const theirs = [objectKey(prefix, old, "notes.txt"), `${prefix}/${old}/docs/runbook.md`, objectKey(prefix, incomplete, "notes.txt")]
      for (const key of theirs) yield* store.putBytes(key, new TextEncoder().encode("the on-call's notes"))
      yield* TestClock.setTime(t0 + 3 * day)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.remove.map((r) => r.unit.id)).toEqual([old])
      expect(report.incomplete.map((b) => b.id)).toEqual([incomplete])
      const left = [...store.objects.keys()].filter((k) => !k.includes(`/${newest}/`)).sort()
      expect(left).toEqual([...theirs].sort())
      // What is left is not a backup: a later prune leaves it alone too.
      const again = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(again.incompleteKept.map((b) => b.id).sort()).toEqual([old, incomplete].sort())
      expect([...store.objects.keys()].filter((k) => !k.includes(`/${newest}/`)).sort()).toEqual([...theirs].sort())
    }),
  )

  // Older backup-uploads left the plain snapshot and tarball beside the .age files the manifest names:
  // every Secret of the cluster in the clear, which no prune ever removed.
  it.effect("removes the plain copies beside the .age files a kept backup's manifest names, once older than the grace period", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const old = yield* putEncryptedWithPlainCopies(store, tick, t0)
      const notes = objectKey(prefix, old.id, "notes.txt")
      yield* store.putBytes(notes, new TextEncoder().encode("the on-call's notes"))
      const young = yield* putEncryptedWithPlainCopies(store, tick, t0 + 3 * day - hour)
      yield* TestClock.setTime(t0 + 3 * day)
      const before = [...store.objects.keys()].sort()
      const dry = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: true }).pipe(provide(store))
      expect(dry.strayForms.map((o) => o.key).sort()).toEqual([...old.plain].sort())
      expect(storePruneSummary(dry)).toContain("2 plain copies beside .age files would be removed")
      expect([...store.objects.keys()].sort()).toEqual(before)
      const report = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.remove).toEqual([])
      expect([...store.objects.keys()].sort()).toEqual(before.filter((k) => !old.plain.includes(k)))
      expect(store.objects.has(notes)).toBe(true)
      expect(young.plain.every((k) => store.objects.has(k))).toBe(true)
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete", "Complete"])
    }),
  )

  // An encrypted upload killed after its .age objects, before its manifest; then a plain upload completed the backup
  // (or an older backup-upload that did not remove the other form): the ciphertext stayed beside the plain files.
  it.effect("removes the .age copies beside the plain files a kept backup's manifest names, once older than the grace period", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const old = yield* putBackup(store, tick, t0)
      const stray = [base.files.snapshot.name, base.files.resources.name].map((name) =>
        objectKey(prefix, old, name.replace(base.timestamp, old) + encryptedSuffix),
      )
      for (const key of stray) yield* store.putBytes(key, new TextEncoder().encode("age-encryption.org/v1 ..."))
      const young = yield* putBackup(store, tick, t0 + 3 * day - hour)
      const youngStray = objectKey(prefix, young, base.files.snapshot.name.replace(base.timestamp, young) + encryptedSuffix)
      yield* store.putBytes(youngStray, new TextEncoder().encode("age-encryption.org/v1 ..."))
      yield* TestClock.setTime(t0 + 3 * day)
      const dry = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: true }).pipe(provide(store))
      expect(dry.strayForms.map((o) => [o.key, o.encrypted]).sort()).toEqual(stray.map((k) => [k, true]).sort())
      expect(storePruneSummary(dry)).toContain("2 .age copies beside plain files would be removed")
      expect(storePruneSummary(dry)).not.toContain("plain copies")
      yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(stray.some((k) => store.objects.has(k))).toBe(false)
      expect(store.objects.has(youngStray)).toBe(true)
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([
        [old, "Complete"],
        [young, "Complete"],
      ])
    }),
  )

  it.effect("another program's file beside a backup's is not the backup's size: --max-total-size does not remove backups for it", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const older = yield* putBackup(store, tick, t0)
      const newer = yield* putBackup(store, tick, t0 + day)
      yield* store.putBytes(objectKey(prefix, newer, "core.dump"), new Uint8Array(1_000_000))
      yield* TestClock.setTime(t0 + 2 * day)
      const report = yield* pruneStore({ prefix, policy: { maxTotalBytes: 100_000 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.remove).toEqual([])
      expect(ids(store)).toEqual([older, newer])
    }),
  )

  it.effect("an old incomplete backup with an upload in progress under it is kept", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const incomplete = yield* putBackup(store, tick, t0, false)
      yield* TestClock.setTime(t0 + 3 * day)
      store.uploads.set("u2", { key: objectKey(prefix, incomplete, "snapshot.db"), uploadId: "u2", initiatedAt: t0 + 3 * day - hour })
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.incompleteKept.map((b) => b.id)).toEqual([incomplete])
      expect(ids(store)).toEqual([incomplete])
    }),
  )

  it.effect("a backup is deleted manifest first: a delete failing after it leaves an incomplete backup, not a complete one", () =>
    Effect.gen(function* () {
      let failing = false
      const { store, tick } = yield* setupWith((operation, key) =>
        failing && operation === "DELETE" && !key.endsWith(manifestFileName)
          ? Effect.fail(
              new StoreRequestFailed({ store: "memory://", operation, key, status: 500, code: "InternalError", retryable: false, message: "injected" }),
            )
          : Effect.void,
      )
      const old = yield* putBackup(store, tick, t0)
      const newest = yield* putBackup(store, tick, t0 + day)
      failing = true
      const exit = yield* Effect.exit(pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(provide(store)))
      expect(Exit.isFailure(exit)).toBe(true)
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual([
        [old, "Incomplete"],
        [newest, "Complete"],
      ])
    }),
  )

  // A lifecycle rule that moves old backups to Glacier made every GET of their manifests a 403: list and prune failed
  // as if the credentials were wrong, and retention stopped for every backup.
  it.effect(
    "a backup whose manifest the store archived (InvalidObjectState): listed, kept with a warning; the rules apply to the rest; an archived verify record reads as none",
    () =>
      Effect.gen(function* () {
        let archived = ""
        const { store, tick } = yield* setupWith((operation, key) =>
          operation === "GET" && archived !== "" && (key === objectKey(prefix, archived, manifestFileName) || key.endsWith(verificationFileName))
            ? Effect.fail(
                new StoreRequestFailed({
                  store: "memory://",
                  operation,
                  key,
                  status: 403,
                  code: "InvalidObjectState",
                  retryable: false,
                  message: "The operation is not valid for the object's storage class",
                }),
              )
            : Effect.void,
        )
        const made = []
        for (let i = 0; i < 4; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
        // verify's record of another backup, archived too: that backup is listed complete, not verified.
        yield* store.putBytes(objectKey(prefix, made[3]!, verificationFileName), new TextEncoder().encode("{}"))
        archived = made[0]!
        yield* TestClock.setTime(t0 + 40 * day)
        const listed = yield* listBackups(prefix).pipe(provide(store))
        expect(listed[3]!.verified).toBeUndefined()
        expect(listed.map((b) => [b.completeness.id, b.completeness._tag])).toEqual(made.map((id) => [id, id === archived ? "Incomplete" : "Complete"]))
        expect(listed[0]!.completeness).toMatchObject({
          archivedManifest: true,
          reasons: [expect.stringMatching(/the store archived it \(InvalidObjectState\)/)],
        })
        const warnings: Array<string> = []
        const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: 0, dryRun: false }).pipe(
          provide(store),
          Effect.provide(Logger.layer([Logger.make(({ message, logLevel }) => void (logLevel === "Warn" && warnings.push(String(message))))])),
        )
        expect(report.retention.keep.map((k) => k.unit.id)).toEqual([made[3]])
        expect(ids(store)).toEqual([archived, made[3]])
        expect(warnings.some((w) => w.startsWith(`keeping backup ${archived}: the store archived its manifest`))).toBe(true)
      }),
  )

  it.effect("an upload whose writer shows itself between the listing and the abort is kept, and counted kept", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      yield* putBackup(store, tick, t0)
      const key = objectKey(prefix, "2026-03-01_120000", "snapshot_2026-03-01_120000.db")
      store.uploads.set("u1", { key, uploadId: "u1", initiatedAt: t0 })
      yield* TestClock.setTime(t0 + 3 * day)
      const warnings: Array<string> = []
      const resuming = { ...store, abortUpload: () => Effect.succeed(false) }
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: false }).pipe(
        Effect.provide(Layer.succeed(BackupStore, BackupStore.of(resuming))),
        Effect.provide(Logger.layer([Logger.make(({ message, logLevel }) => void (logLevel === "Warn" && warnings.push(String(message))))])),
      )
      expect(report.uploads).toEqual([])
      expect(report.uploadsKept.map((u) => u.uploadId)).toEqual(["u1"])
      expect(storePruneSummary(report)).toMatch(/0 abandoned uploads aborted, 1 kept/)
      expect(warnings).toContain(`kept the upload of ${key} after all: its writer refreshed it since it was listed, so it is at work`)
    }),
  )

  it.effect("refuses to run without a rule", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(pruneStore({ prefix, policy: {}, graceMs: day, dryRun: false }).pipe(provide(makeMemoryStore())))
      expect(JSON.stringify(exit)).toMatch(/StorePruneRefused.*no retention rule/)
    }),
  )
})

describe("prune on a store with verify's records", () => {
  /** verify's JSON report of backup `id`, every check passed. */
  const passedRecord = (id: string) =>
    new TextEncoder().encode(
      JSON.stringify({ backupDir: "/backup", timestamp: id, snapshot: null, resources: null, passed: true, checks: [{ id: "manifest", verdict: "PASS" }] }),
    )

  it.effect("keeps the newest backup verify passed beside the newest complete one, whatever the rules; list says which is verified", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const made = []
      for (let i = 0; i < 4; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
      yield* store.putBytes(objectKey(prefix, made[1]!, verificationFileName), passedRecord(made[1]!))
      // A record of another backup vouches for nothing.
      yield* store.putBytes(objectKey(prefix, made[2]!, verificationFileName), passedRecord(made[0]!))
      yield* TestClock.setTime(t0 + 10 * day)
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => b.verified)).toEqual([undefined, "Full", undefined, undefined])
      yield* pruneStore({ prefix, policy: { keepLast: 1, maxAgeMs: hour }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(ids(store)).toEqual([made[1], made[3]])
      expect([...store.objects.keys()]).toContain(objectKey(prefix, made[1]!, verificationFileName))
    }),
  )
  it.effect("its log says 'verified' only of a backup verify passed, as list's VERIFIED column does: the newest backup is 'complete'", () =>
    Effect.gen(function* () {
      const { store, tick } = yield* setup
      const made = []
      for (let i = 0; i < 3; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
      yield* store.putBytes(objectKey(prefix, made[0]!, verificationFileName), passedRecord(made[0]!))
      yield* TestClock.setTime(t0 + 10 * day)
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => b.verified !== undefined)).toEqual([true, false, false])
      const report = yield* pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: day, dryRun: true }).pipe(provide(store))
      const reasons = new Map([...report.retention.keep, ...report.retention.remove].map((x) => [x.unit.id, x.reason]))
      expect(reasons.get(made[2]!)).toBe("the newest complete backup (always kept)")
      expect(reasons.get(made[0]!)).toBe("the newest backup verify passed (always kept)")
      for (const id of made.slice(1)) expect(reasons.get(id)).not.toMatch(/\bverified\b/)
    }),
  )
})

describe("prune on a store holding manifests this version cannot read", () => {
  it.effect(
    "a backup whose manifest is there but unreadable here (a newer cluster-backup's: a key this version does not know) is never removed as garbage",
    () =>
      Effect.gen(function* () {
        const { store, tick } = yield* setup
        const made = []
        for (let i = 0; i < 3; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
        // The two newest as a later version wrote them: one more key in each manifest.
        for (const id of made.slice(1)) {
          const key = objectKey(prefix, id, manifestFileName)
          const text = new TextDecoder().decode(store.objects.get(key)!.bytes)
          yield* store.putBytes(key, new TextEncoder().encode(text.replace(/^\{/, '{"addedLater":true,')))
        }
        yield* TestClock.setTime(t0 + 10 * day)
        const listed = yield* listBackups(prefix).pipe(provide(store))
        expect(listed.map((b) => b.completeness._tag)).toEqual(["Complete", "Incomplete", "Incomplete"])
        const report = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: false }).pipe(provide(store))
        expect(report.incomplete).toEqual([])
        expect(report.incompleteKept.map((b) => b.id)).toEqual(made.slice(1))
        expect(ids(store)).toEqual(made)
      }),
  )
})

describe("list and prune while another prune removes backups", () => {
  it.effect("a backup removed between the listing and the read of its manifest (another run's prune) is not an error: list and prune go on", () =>
    Effect.gen(function* () {
      let victim: string | undefined
      // Another prune deletes the backup (manifest first, as it does) just before this run reads its manifest.
      const { store, tick } = yield* setupWith((operation, key) =>
        Effect.sync(() => {
          if (operation !== "GET" || victim === undefined || !key.includes(`/${victim}/`)) return
          for (const k of [...store.objects.keys()]) if (k.includes(`/${victim}/`)) store.objects.delete(k)
        }),
      )
      const made = []
      for (let i = 0; i < 3; i++) made.push(yield* putBackup(store, tick, t0 + i * day))
      yield* TestClock.setTime(t0 + 10 * day)
      victim = made[0]
      const listed = yield* listBackups(prefix).pipe(provide(store))
      expect(listed.map((b) => b.completeness.id)).toEqual(made)
      expect(listed.map((b) => b.completeness._tag)).toEqual(["Incomplete", "Complete", "Complete"])
      victim = made[1]
      const report = yield* pruneStore({ prefix, policy: { keepLast: 5 }, graceMs: day, dryRun: false }).pipe(provide(store))
      expect(report.retention.keep.map((k) => k.unit.id)).toEqual([made[2]])
      expect(ids(store)).toEqual([made[2]])
    }),
  )
})
