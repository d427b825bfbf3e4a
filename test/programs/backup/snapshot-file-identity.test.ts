/**
 * backup-create's check of the snapshot: the record's whole-file sha256 is taken as is only while the file is, by inode,
 * size and modification time, the one backup-init left; any other file is re-read and held to the record.
 */
import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { closeSync, constants, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { SnapshotRecord } from "../../../src/programs/backup-dir/snapshot-record.ts"
import { checkSnapshotFile } from "../../../src/programs/backup/snapshot-file-check.ts"
import { fileIdentity } from "../../../src/services/file-identity.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { writeFakeSnapshot } from "./backup-resources-harness.ts"

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 4 }
const run = <A, E>(effect: Effect.Effect<A, E, never>) => Effect.runPromiseExit(effect)

/** A fake snapshot and its record, with the identity backup-init would record and `sha256` as the whole-file hash. */
const recorded = async (name: string, sha256?: string) => {
  const dir = join(tempDir(name), "backup")
  const { record } = await Effect.runPromise(writeFakeSnapshot(dir, revisions))
  const path = join(dir, record.snapshotFile)
  const identity = await Effect.runPromise(fileIdentity(path))
  const whole = createHash("sha256").update(readFileSync(path)).digest("hex")
  const withFile: SnapshotRecord = { ...record, file: { sha256: sha256 ?? whole, inode: identity.inode, mtimeNs: identity.mtimeNs } }
  return { path, record: withFile, whole }
}

const check = (path: string, record: SnapshotRecord) => run(checkSnapshotFile(path, record).pipe(Effect.provide(NodeServices.layer)))

describe("checkSnapshotFile", () => {
  it("takes the record's whole-file sha256 without reading the file while its identity is unchanged", async () => {
    // A value no hash of the file gives: only the record can be its source.
    const { path, record } = await recorded("identity-same", "ab".repeat(32))
    const exit = await check(path, record)
    expect(exit).toEqual(Exit.succeed({ size: record.size, sha256: "ab".repeat(32) }))
  })

  it("re-reads a file whose modification time moved, and gives its real sha256 when the contents still match the record", async () => {
    const { path, record, whole } = await recorded("identity-touched", "ab".repeat(32))
    utimesSync(path, new Date(), new Date(Date.now() - 60_000))
    expect(await check(path, record)).toEqual(Exit.succeed({ size: record.size, sha256: whole }))
  })

  it("refuses a file rewritten with other bytes (same size): the identity changed, the contents do not match", async () => {
    const { path, record } = await recorded("identity-rewritten")
    const bytes = readFileSync(path)
    bytes[100] = bytes[100]! ^ 0xff
    writeFileSync(path, bytes)
    const exit = await check(path, record)
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("SnapshotFileMismatch")
  })

  it("re-reads when the record is an older run's, without the file's identity", async () => {
    const { path, record, whole } = await recorded("identity-old-record")
    const { file: _file, ...older } = record
    expect(await check(path, older)).toEqual(Exit.succeed({ size: record.size, sha256: whole }))
  })

  it("refuses a FIFO in place of the snapshot at once, naming it, instead of waiting on it for ever", async () => {
    const { path, record } = await recorded("identity-fifo")
    rmSync(path)
    execFileSync("mkfifo", [path])
    const exit = await Promise.race([check(path, record), new Promise<"waited">((resolve) => setTimeout(() => resolve("waited"), 5_000))])
    // A reader stuck in open() waits for a writer: give it one that closes at once, so the failing run ends.
    if (exit === "waited") closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
    expect(exit).not.toBe("waited")
    const failure = exit !== "waited" && Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    expect(failure === undefined ? undefined : (failure as unknown as { error: { _tag: string; message: string } }).error).toMatchObject({
      _tag: "SnapshotFileMismatch",
      message: expect.stringMatching(/FIFO/),
    })
  })
})
