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
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { backupFiles, makeFakeBackup, readManifest } from "../support/bad-backups.ts"
import { runAndKillWhen, seededRandom } from "../support/kill-loop.ts"
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
    // Kills at a seeded random fraction of an uninterrupted run's working time (its directory made to its end).
    const whole = await runAndKillWhen(["download", store, id, into], { begun: () => existsSync(into), delayMs: 600_000 })
    expect(whole.finished && whole.code === 0, whole.stderr).toBe(true)
    rmSync(into, { recursive: true, force: true })
    const random = seededRandom(19)
    // Ten kills that land before the run's end (one that comes too late, on a loaded machine, is one more round); a kill
    // point in the first three quarters of the whole run's time lands but for a run much faster than it.
    let landed = 0
    for (let round = 0; round < 30 && landed < 10; round++) {
      const delayMs = Math.floor(random() * whole.afterLockMs * 0.75)
      const killed = await runAndKillWhen(["download", store, id, into], { begun: () => existsSync(into), delayMs })
      if (!killed.finished) landed++
      // A manifest is written last: when there is one, the files it names are whole.
      if (existsSync(join(into, "backup-manifest.json"))) {
        const m = readManifest(into)
        for (const f of [m.files.snapshot, m.files.resources]) expect(sha256(join(into, f.name))).toBe(f.sha256)
      }
      // A round that finished leaves nothing for the next to pick up: it starts over.
      if (killed.finished) rmSync(into, { recursive: true, force: true })
    }
    expect(landed).toBe(10)
    const last = await runCli(["download", store, id, into], { timeoutMs: 120_000 })
    expect(last.status, last.stderr).toBe(0)
    expect(readdirSync(into).sort()).toEqual(backupFiles(backup))
    for (const f of backupFiles(backup)) expect(sha256(join(into, f))).toBe(sha256(join(backup, f)))
  })
})
