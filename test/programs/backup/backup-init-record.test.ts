import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { readSnapshotRecord, SnapshotRecord, writeSnapshotRecord, type SnapshotRecord as Record_ } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { scopedTempDir } from "../../support/temp-dir.ts"

const record: Record_ = {
  timestamp: "2026-01-02_030405",
  snapshotFile: "snapshot_2026-01-02_030405.db",
  size: 1032,
  sha256: "a".repeat(64),
  etcdRevision: 10,
  etcdRevisionUpperBound: 12,
  raftIndex: 40,
  memberDbSize: 4096,
  memberId: "123",
  etcdVersion: "3.5.16",
  endpoint: "https://etcd:2379",
  operatorRevisions: { etcd: 3, "kube-apiserver": null, "kube-controller-manager": 5, "kube-scheduler": 4 },
  operatorRevisionReasons: { "kube-apiserver": "no status yet" },
  pairing: "verified",
  pairingDetail: "same at both ends",
}
const decode = Schema.decodeUnknownResult(SnapshotRecord)

describe("snapshot record", () => {
  it("accepts a consistent record", () => {
    assert.isTrue(Result.isSuccess(decode(record)))
  })

  it("refuses a snapshot file not named by the record's timestamp, or with the dirty marker", () => {
    const other = decode({ ...record, snapshotFile: "snapshot_2026-01-02_030406.db" })
    assert.isTrue(Result.isFailure(other))
    if (Result.isFailure(other)) assert.include(other.failure.message, "must be snapshot_2026-01-02_030405.db")
    assert.isTrue(Result.isFailure(decode({ ...record, snapshotFile: "snapshot_2026-01-02_030405__POSSIBLY_DIRTY__.db" })))
  })

  it("refuses a revision window that ends before it starts, a bad hash or a zero revision", () => {
    assert.isTrue(Result.isFailure(decode({ ...record, etcdRevisionUpperBound: 9 })))
    assert.isTrue(Result.isFailure(decode({ ...record, sha256: "A".repeat(64) })))
    assert.isTrue(Result.isFailure(decode({ ...record, operatorRevisions: { ...record.operatorRevisions, etcd: 0 } })))
  })

  it.effect("is written atomically (0600 in a 0700 directory, no temp file left) and read back equal", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("record")
      const path = yield* writeSnapshotRecord(dir, record)
      assert.strictEqual(path, join(dir, ".cluster-backup", "snapshot.json"))
      assert.strictEqual(statSync(path).mode & 0o777, 0o600)
      assert.strictEqual(statSync(join(dir, ".cluster-backup")).mode & 0o777, 0o700)
      assert.deepStrictEqual(readdirSync(join(dir, ".cluster-backup")), ["snapshot.json"])
      assert.deepStrictEqual(JSON.parse(readFileSync(path, "utf8")), record)
      assert.deepStrictEqual(yield* readSnapshotRecord(dir), record)
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("a damaged record is SnapshotRecordInvalid naming the file; a missing one a BackupFileError", () =>
    Effect.gen(function* () {
      const dir = yield* scopedTempDir("record-bad")
      const missing = yield* Effect.flip(readSnapshotRecord(dir))
      assert.strictEqual(missing._tag, "BackupFileError")
      yield* writeSnapshotRecord(dir, record)
      const path = join(dir, ".cluster-backup", "snapshot.json")
      writeFileSync(path, JSON.stringify({ ...record, size: -1 }))
      const invalid = yield* Effect.flip(readSnapshotRecord(dir))
      assert.strictEqual(invalid._tag, "SnapshotRecordInvalid")
      assert.include(invalid.message, `${path} is not a valid snapshot record (run backup-init again)`)
      assert.isTrue(existsSync(path))
    }).pipe(Effect.provide(NodeServices.layer)),
  )
})
