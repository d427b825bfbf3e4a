/**
 * One manifest reader for every command: a manifest with a UTF-8 byte order mark (or any byte
 * the writer would not write) is refused by `verify` and by `restore` alike, with the same words.
 * Before, verify read it through effect's `readFileString`, which strips a BOM, and accepted it
 * while restore refused it as "not JSON".
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBackupManifestBytes, readBackupManifest } from "../../../src/programs/backup-dir/backup-manifest-file.ts"
import { verifyBackup } from "../../../src/programs/verify/verify.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { fakeBackupForSuite, fakeSnapshotStatuses, makeHostTree, restoreOnHost } from "../../support/bad-backups.ts"
import { tempDir } from "../../support/temp-dir.ts"

const { work, backup } = fakeBackupForSuite("manifest-file")

const failureMessage = async <A, E>(effect: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.pretty(exit.cause)
}

describe("readBackupManifest", () => {
  it("reads the manifest the writer wrote", async () => {
    const manifest = await Effect.runPromise(readBackupManifest(join(backup, "backup-manifest.json")))
    expect(manifest.formatVersion).toBe(2)
  })

  it.each<[string, (bytes: Buffer) => Buffer, string]>([
    ["a UTF-8 byte order mark", (b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]), "begins with a UTF-8 byte order mark"],
    ["bytes that are not UTF-8", (b) => Buffer.concat([b.subarray(0, 40), Buffer.from([0xc3, 0x28]), b.subarray(42)]), "is not valid UTF-8"],
    ["Windows line ends", (b) => Buffer.from(b.toString("utf8").replaceAll("\n", "\r\n")), "is not byte for byte the canonical JSON"],
  ])("refuses a manifest with %s", async (_what, spoil, words) => {
    const dir = tempDir("m", work)
    const path = join(dir, "backup-manifest.json")
    writeFileSync(path, spoil(readFileSync(join(backup, "backup-manifest.json"))))
    expect(await failureMessage(readBackupManifest(path))).toContain(words)
  })
})

describe("decodeBackupManifestBytes (a manifest read from a store)", () => {
  it("refuses a byte order mark too: it is not stripped the way a default TextDecoder strips it", () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(join(backup, "backup-manifest.json"))])
    const decoded = decodeBackupManifestBytes(bytes, "prefix/2026-01-02_030405/backup-manifest.json")
    expect(decoded._tag).toBe("Failure")
    expect(decoded._tag === "Failure" ? decoded.failure.message : "").toContain("begins with a UTF-8 byte order mark")
  })
})

describe("verify and restore read the manifest alike", () => {
  it("both refuse a manifest with a byte order mark, saying so", async () => {
    const host = makeHostTree(work, backup)
    const layer = Layer.mergeAll(Etcdutl.inMemory({ statuses: fakeSnapshotStatuses(host.backupDir) }), DiskSpace.live, Tarball.live, NodeServices.layer)
    const path = join(host.backupDir, "backup-manifest.json")
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(path)]))

    const report = await Effect.runPromise(verifyBackup({ backupDir: host.backupDir }).pipe(Effect.provide(layer)))
    const manifestCheck = report.checks.find((c) => c.id === "manifest")
    expect(report.checks.filter((c) => c.verdict === "FAIL").map((c) => c.id)).toEqual(["manifest"])
    expect(manifestCheck?.verdict).toBe("FAIL")
    expect(manifestCheck?.found).toContain("begins with a UTF-8 byte order mark")

    for (const dryRun of [true, false]) {
      const said = await failureMessage(restoreOnHost(host, [], { restoreId: "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", dryRun }).pipe(Effect.provide(layer)))
      expect(said).toContain("begins with a UTF-8 byte order mark")
    }
  })
})
