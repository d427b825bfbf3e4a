import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../src/services/disk-space.ts"
/**
 * `download` SIGKILLed at random points of its work (a seeded fraction of an uninterrupted run's
 * time from the moment its directory appears, not from Node's start-up), then run again to the end: the backup is there byte for byte, with
 * nothing a killed run left beside it (`.download`, `.part`, the manifest's `.tmp-<pid>`), and a
 * killed run never leaves a manifest, the mark of a finished download, beside files it does not
 * describe. The snapshot is 64 MiB so that a kill can land while a file is being written.
 */
import { createHash } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../support/bad-backups.ts"
import { killRoundsInto } from "../support/kill-loop.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"
import { loadedCluster, revisions } from "../programs/backup/backup-resources-harness.ts"

const work = tempDir("download-kill")
const backup = join(work, "backup")
const store = join(work, "store")
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

beforeAll(async () => {
  await Effect.runPromise(makeFakeBackup(backup, loadedCluster(), revisions, 64 * 1024 * 1024))
  mkdirSync(store)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live))))
}, 120_000)

describe("download killed at any moment", { timeout: 300_000 }, () => {
  it("ten kills, then a run to the end: the whole backup, nothing left over, never a manifest beside other files", async () => {
    const id = readManifest(backup).timestamp
    const into = join(work, "out")
    // Never a manifest beside files it does not describe (checked after each round).
    const landed = await killRoundsInto(["download", store, id, into], into, { landings: 10, seed: 19 })
    expect(landed).toBe(10)
    const last = await runCli(["download", store, id, into], { timeoutMs: 120_000 })
    expect(last.status, last.stderr).toBe(0)
    expect(readdirSync(into).sort()).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })
})
