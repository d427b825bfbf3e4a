/**
 * When backup-init's record vouches for a backup file (vouched-plaintext.ts): only when its
 * sha256 and size are the manifest's and the file still has the recorded inode, size and
 * modification time; anything else (no record, no identity in it, another hash, a file written
 * or replaced since) leaves the upload to hash the file.
 */
import { cpSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { FileDigest } from "../../../src/domain/backup-manifest.ts"
import { readSnapshotRecord, type SnapshotRecord, writeSnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { stillIdentical, vouchedIdentity } from "../../../src/programs/store/vouched-plaintext.ts"
import { makeFakeBackup, readManifest } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { loadedCluster } from "../backup/backup-resources-harness.ts"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) => Effect.runPromise(Effect.provide(effect, NodeServices.layer))

let original: string
beforeAll(async () => {
  original = tempDir("vouched-backup")
  await run(makeFakeBackup(original, loadedCluster()))
}, 60_000)

/** A copy of the backup whose record holds the snapshot's identity and `sha256` (the manifest's unless given). */
const vouchedCopy = async (name: string, sha256?: string) => {
  const dir = join(tempDir(name), "backup")
  cpSync(original, dir, { recursive: true, preserveTimestamps: true })
  const snapshot = readManifest(dir).files.snapshot
  const s = statSync(join(dir, snapshot.name), { bigint: true })
  const record: SnapshotRecord = await run(readSnapshotRecord(dir))
  await run(writeSnapshotRecord(dir, { ...record, file: { sha256: sha256 ?? snapshot.sha256, inode: String(s.ino), mtimeNs: String(s.mtimeNs) } }))
  return { dir, snapshot: snapshot as FileDigest, path: join(dir, snapshot.name) }
}

describe("vouchedIdentity", () => {
  it("vouches for the snapshot as backup-init left it, and the identity stays while nothing writes", async () => {
    const { dir, snapshot, path } = await vouchedCopy("vouched-same")
    const identity = await run(vouchedIdentity(dir, snapshot))
    expect(identity?.size).toBe(snapshot.size)
    expect(await run(stillIdentical(path, identity!))).toBe(true)
  })

  it("does not vouch without a record, without the identity in it, or for the tarball", async () => {
    const { dir, snapshot } = await vouchedCopy("vouched-none")
    expect(await run(vouchedIdentity(dir, readManifest(dir).files.resources))).toBeUndefined()
    expect(await run(vouchedIdentity(original, readManifest(original).files.snapshot))).toBeUndefined()
    const { file: _, ...withoutFile } = await run(readSnapshotRecord(dir))
    await run(writeSnapshotRecord(dir, withoutFile))
    expect(await run(vouchedIdentity(dir, snapshot))).toBeUndefined()
    writeFileSync(join(dir, ".cluster-backup", "snapshot.json"), "{ not json")
    expect(await run(vouchedIdentity(dir, snapshot))).toBeUndefined()
  })

  it("does not vouch when the record's sha256 is not the manifest's", async () => {
    const { dir, snapshot } = await vouchedCopy("vouched-other-hash", "0".repeat(64))
    expect(await run(vouchedIdentity(dir, snapshot))).toBeUndefined()
  })

  it("does not vouch for a file written since (same size) or replaced by a copy; stillIdentical sees both", async () => {
    const written = await vouchedCopy("vouched-written")
    const identity = await run(vouchedIdentity(written.dir, written.snapshot))
    const bytes = readFileSync(written.path)
    bytes[10]! ^= 1
    writeFileSync(written.path, bytes)
    utimesSync(written.path, new Date(), new Date(Date.now() + 5000))
    expect(await run(vouchedIdentity(written.dir, written.snapshot))).toBeUndefined()
    expect(await run(stillIdentical(written.path, identity!))).toBe(false)

    const replaced = await vouchedCopy("vouched-replaced")
    const before = await run(vouchedIdentity(replaced.dir, replaced.snapshot))
    cpSync(replaced.path, `${replaced.path}.copy`, { preserveTimestamps: true })
    renameSync(`${replaced.path}.copy`, replaced.path)
    expect(await run(vouchedIdentity(replaced.dir, replaced.snapshot))).toBeUndefined()
    expect(await run(stillIdentical(replaced.path, before!))).toBe(false)
  })
})
