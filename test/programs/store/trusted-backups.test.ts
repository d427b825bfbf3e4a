/**
 * Retention with trusted keys: backups written into the store that no trusted key signed (here: dated after the real
 * ones, as an attacker able to write there would make them) must not push the signed ones out.
 */
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { beforeAll, describe, expect } from "vitest"
import { manifestFileName } from "../../../src/domain/archive-names.ts"
import { maxManifestBytes, type BackupManifest } from "../../../src/domain/backup-manifest.ts"
import { signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { objectKey } from "../../../src/domain/store-layout.ts"
import { listBackups } from "../../../src/programs/store/store-list.ts"
import { pruneStore } from "../../../src/programs/store/store-prune.ts"
import { resolveBackupId } from "../../../src/programs/store/resolve-backup-id.ts"
import { backupTrust } from "../../../src/programs/store/trusted-backups.ts"
import { signManifest, type SigningKey } from "../../../src/services/crypto/manifest-signature.ts"
import { signingKeyPair } from "../../support/signing-keys.ts"
import { BackupStore, type BackupStoreShape } from "../../../src/services/store/backup-store.ts"
import { makeMemoryStore, type MemoryStore } from "../../../src/services/store/memory-store.ts"
import { makeDirectoryStore } from "../../../src/services/store/directory-store.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { storedBackup } from "../../support/stored-backups.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const prefix = "cluster-backup/c1"
const hour = 3_600_000
const t0 = Date.parse("2026-03-01T00:00:00Z")
let base: BackupManifest

const ours = signingKeyPair()
const rotated = signingKeyPair()
const strangers = signingKeyPair()

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "trusted-backups-"))
  await Effect.runPromise(makeFakeBackup(dir, loadedCluster()))
  base = readManifest(dir)
}, 60_000)

/** A backup made at `at`, its manifest signed by `key` (none: unsigned). */
const putBackup = (store: MemoryStore, at: number, key: SigningKey | undefined) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at)
    const { id, files } = storedBackup(base, at)
    for (const [file, bytes] of files) {
      if (file === manifestFileName && key !== undefined)
        yield* store.putBytes(objectKey(prefix, id, signatureFileName), new TextEncoder().encode(signManifest(bytes, key)))
      yield* store.putBytes(objectKey(prefix, id, file), bytes)
    }
    return id
  })

const withStore = <A, E>(store: BackupStoreShape, effect: Effect.Effect<A, E, BackupStore>) =>
  effect.pipe(Effect.provide(Layer.succeed(BackupStore, BackupStore.of(store))))

/** Three signed backups, then three planted after them: unsigned, signed by a stranger's key, and with a signature that does not match. */
const plantedStore = Effect.gen(function* () {
  let now = t0
  const store = makeMemoryStore({ now: () => now })
  const real: Array<string> = []
  for (const i of [0, 1, 2]) {
    now = t0 + i * hour
    real.push(yield* putBackup(store, now, i === 0 ? rotated.signing : ours.signing))
  }
  const planted: Array<string> = []
  for (const [i, key] of [undefined, strangers.signing, ours.signing].entries()) {
    now = t0 + (3 + i) * hour
    const id = yield* putBackup(store, now, key)
    planted.push(id)
  }
  // The last one's signature is over other bytes than its manifest's.
  const manifest = storedBackup(base, t0 + 5 * hour).files.find(([f]) => f === manifestFileName)![1]
  const signed = signManifest(Buffer.concat([manifest, Buffer.from(" ")]), ours.signing)
  yield* store.putBytes(objectKey(prefix, planted[2]!, signatureFileName), new TextEncoder().encode(signed))
  now = t0 + 6 * hour
  yield* TestClock.setTime(now)
  return { store, real, planted }
})

describe("retention with trusted keys", () => {
  it.effect("without them, backups planted after the real ones push the real ones out (the attack)", () =>
    Effect.gen(function* () {
      const { store, real, planted } = yield* plantedStore
      const report = yield* withStore(store, pruneStore({ prefix, policy: { keepLast: 3 }, graceMs: 0, dryRun: true }))
      expect(report.retention.keep.map((k) => k.unit.id).sort()).toEqual([...planted].sort())
      expect(report.retention.remove.map((r) => r.unit.id).sort()).toEqual([...real].sort())
    }),
  )

  it.effect("with them, the signed backups keep the slots and the newest place; the planted ones go, each named with why", () =>
    Effect.gen(function* () {
      const { store, real, planted } = yield* plantedStore
      const trustedKeys = [ours.trusted, rotated.trusted]
      const report = yield* withStore(store, pruneStore({ prefix, policy: { keepLast: 3 }, graceMs: 0, dryRun: false, trustedKeys }))
      expect(report.retention.keep.map((k) => k.unit.id).sort()).toEqual([...real].sort())
      expect(report.retention.keep.find((k) => k.unit.id === real[2])?.reason).toBe("the newest trusted backup (always kept)")
      expect(report.retention.remove.map((r) => r.unit.id).sort()).toEqual([...planted].sort())
      for (const r of report.retention.remove) expect(r.reason).toContain("untrusted")
      const left = yield* withStore(store, listBackups(prefix))
      expect(left.map((b) => b.completeness.id).sort()).toEqual([...real].sort())
    }),
  )

  it.effect("a key rotated out of the trusted set makes its backups untrusted: they keep only the slots no trusted backup needs", () =>
    Effect.gen(function* () {
      const { store, real } = yield* plantedStore
      const report = yield* withStore(store, pruneStore({ prefix, policy: { keepLast: 4 }, graceMs: 0, dryRun: true, trustedKeys: [ours.trusted] }))
      const kept = new Map(report.retention.keep.map((k) => [k.unit.id, k.reason]))
      expect(kept.get(real[1]!)).toBe("one of the newest")
      // Of the four slots, two go to the trusted backups; the two left to the newest untrusted ones, the rotated key's oldest too old for one.
      expect(kept.has(real[0]!)).toBe(false)
      expect(report.retention.keep.filter((k) => k.reason.includes("untrusted: a slot no trusted backup needed"))).toHaveLength(2)
    }),
  )

  it.effect("says why each backup is untrusted: unsigned, another key, a signature that does not match, a manifest changed since the listing", () =>
    Effect.gen(function* () {
      const { store, real, planted } = yield* plantedStore
      const listed = yield* withStore(store, listBackups(prefix))
      const sums = listed.map((b) => ({ id: b.completeness.id, manifestSha256: b.manifestSha256! }))
      // The first real backup's manifest is replaced after the listing.
      yield* store.putBytes(objectKey(prefix, real[1]!, manifestFileName), new TextEncoder().encode("{}"))
      const trust = new Map((yield* withStore(store, backupTrust(prefix, sums, [ours.trusted, rotated.trusted]))).map((t) => [t.id, t]))
      expect(trust.get(real[0]!)).toMatchObject({ trusted: true, keyId: rotated.trusted.keyId })
      expect(trust.get(real[2]!)).toMatchObject({ trusted: true, keyId: ours.trusted.keyId })
      expect(trust.get(real[1]!)).toEqual({ id: real[1], trusted: false, why: "its manifest changed since the listing" })
      expect(trust.get(planted[0]!)).toEqual({ id: planted[0], trusted: false, why: "its manifest is not signed" })
      expect(trust.get(planted[1]!)).toMatchObject({
        trusted: false,
        why: expect.stringContaining(`signed by key ${strangers.trusted.keyId}, which is not a trusted key`),
      })
      expect(trust.get(planted[2]!)).toMatchObject({ trusted: false, why: expect.stringContaining("does not match the manifest") })
    }),
  )
})

describe("objects larger than any manifest or signature, written into a directory store", () => {
  /** A signed backup beside one whose manifest (or signature) is a sparse file past the limit. */
  const hostileStore = (oversized: "manifest" | "signature") =>
    Effect.gen(function* () {
      const root = mkdtempSync(join(tmpdir(), "trusted-hostile-"))
      const store = makeDirectoryStore(root)
      const put = (id: string, file: string, bytes: Uint8Array) => {
        mkdirSync(join(root, prefix, id), { recursive: true })
        writeFileSync(join(root, prefix, id, file), bytes)
      }
      const { id: real, files } = storedBackup(base, t0)
      for (const [file, bytes] of files) {
        if (file === manifestFileName) put(real, signatureFileName, new TextEncoder().encode(signManifest(bytes, ours.signing)))
        put(real, file, bytes)
      }
      const planted = storedBackup(base, t0 + hour)
      for (const [file, bytes] of planted.files) put(planted.id, file, bytes)
      const big = join(root, prefix, planted.id, oversized === "manifest" ? manifestFileName : signatureFileName)
      writeFileSync(big, "")
      // Past what the store reads whole, so that read, either would fail the listing or the prune.
      truncateSync(big, maxManifestBytes + 1)
      yield* TestClock.setTime(t0 + 2 * hour)
      return { store, real, planted: planted.id }
    })

  it.effect("an oversized manifest is an unreadable one, kept with a warning: list and prune go on (read, it failed both)", () =>
    Effect.gen(function* () {
      const { store, real, planted } = yield* hostileStore("manifest")
      const listed = yield* withStore(store, listBackups(prefix))
      const big = listed.find((b) => b.completeness.id === planted)!
      expect(big.completeness._tag).toBe("Incomplete")
      expect(big.completeness._tag === "Incomplete" ? big.completeness.reasons.join() : "").toContain("more than any manifest")
      const report = yield* withStore(store, pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: 0, dryRun: false, trustedKeys: [ours.trusted] }))
      expect(report.retention.keep.map((k) => k.unit.id)).toEqual([real])
      expect(report.incompleteKept.map((b) => b.id)).toEqual([planted])
    }),
  )

  it.effect("latest with a trusted key passes over a newer backup whose signature is too large to read, and takes the signed one", () =>
    Effect.gen(function* () {
      const { store, real } = yield* hostileStore("signature")
      expect(yield* withStore(store, resolveBackupId(prefix, "latest", [ours.trusted]))).toBe(real)
    }),
  )

  it.effect("an oversized signature makes its backup untrusted without being read: the prune goes on", () =>
    Effect.gen(function* () {
      const { store, real, planted } = yield* hostileStore("signature")
      const report = yield* withStore(store, pruneStore({ prefix, policy: { keepLast: 1 }, graceMs: 0, dryRun: false, trustedKeys: [ours.trusted] }))
      expect(report.retention.keep.map((k) => k.unit.id)).toEqual([real])
      expect(report.retention.remove.map((r) => r.unit.id)).toEqual([planted])
    }),
  )
})
