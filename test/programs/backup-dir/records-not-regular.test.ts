/**
 * The backup directory's records and lock are read only as regular files, opened without waiting:
 * a FIFO planted where one is read made backup-init, backup-resources and backup-create block
 * forever on the read.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readEncryptedSample } from "../../../src/programs/backup-dir/encrypted-sample-file.ts"
import { bundledConfigPath, checkBundleDecryption } from "../../../src/programs/backup/bundle-decryption-check.ts"
import { defaultOperands } from "../../../src/domain/operands.ts"
import { readSnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { readResourcesRecord } from "../../../src/programs/backup/resources-record.ts"
import { inspectRunLock } from "../../../src/services/run-lock.ts"
import { tempDir } from "../../support/temp-dir.ts"

const withFifo = (name: string) => {
  const backupDir = tempDir("records-fifo")
  mkdirSync(join(backupDir, ".cluster-backup"), { mode: 0o700 })
  execFileSync("mkfifo", [join(backupDir, ".cluster-backup", name)])
  return backupDir
}

describe("a FIFO where a record or the lock is read", () => {
  it("snapshot.json: refused as no snapshot record, at once", async () => {
    const backupDir = withFifo("snapshot.json")
    const error = await Effect.runPromise(Effect.flip(readSnapshotRecord(backupDir)).pipe(Effect.provide(NodeServices.layer)))
    expect(error._tag).toBe("SnapshotRecordInvalid")
    expect(error.message).toMatch(/FIFO.*not a snapshot record \(run backup-init again\)/)
  }, 5_000)

  it("resources-etcd.json: refused as no resources record, at once", async () => {
    const backupDir = withFifo("resources-etcd.json")
    const error = await Effect.runPromise(Effect.flip(readResourcesRecord(backupDir, "etcd")).pipe(Effect.provide(NodeServices.layer)))
    expect(error._tag).toBe("ResourcesRecordInvalid")
    expect(error.message).toMatch(/FIFO.*not a resources record \(run backup-resources for etcd again\)/)
  }, 5_000)

  it("encrypted-sample.json: refused as no sample (run the backup pod again), at once", async () => {
    const backupDir = withFifo("encrypted-sample.json")
    const error = await Effect.runPromise(Effect.flip(readEncryptedSample(backupDir)).pipe(Effect.provide(NodeServices.layer)))
    expect(error._tag).toBe("EncryptedSampleInvalid")
    expect(error.message).toMatch(/not a valid sample of encrypted values \(run the backup pod again\): .* is a FIFO/)
  }, 5_000)

  it("the staged encryption configuration backup-create decrypts the sample with: refused, naming it, at once", async () => {
    const backupDir = tempDir("records-fifo")
    const config = join(backupDir, ".cluster-backup", "staging", bundledConfigPath(7, defaultOperands))
    mkdirSync(dirname(config), { recursive: true, mode: 0o700 })
    execFileSync("mkfifo", [config])
    const error = await Effect.runPromise(Effect.flip(checkBundleDecryption(backupDir, true, 7, defaultOperands)).pipe(Effect.provide(NodeServices.layer)))
    expect(error._tag).toBe("BackupFileError")
    expect(error.message).toContain(config)
    expect(error.message).toMatch(/FIFO/)
  }, 5_000)

  it("run.lock: not a lock this code wrote, so stale (the next run replaces it), at once", async () => {
    const backupDir = withFifo("run.lock")
    const state = await Effect.runPromise(inspectRunLock(join(backupDir, ".cluster-backup", "run.lock")))
    expect(state).toEqual({ _tag: "Stale", owner: undefined })
  }, 5_000)
})
