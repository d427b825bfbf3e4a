/**
 * `download` holds `<dir>.lock` beside its directory while it runs: a second download into the same directory
 * (which would remove the first's partial files, and could rename one it is writing) is refused, changing nothing.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { acquireRunLock } from "../../src/services/run-lock.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { backupFiles, fakeBackupForSuite } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"

const id = "2026-01-02_030405"
const { work, backup } = fakeBackupForSuite("download-lock")
const store = join(work, "store")

beforeAll(async () => {
  mkdirSync(store)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live))))
})

describe("download's lock on its directory", () => {
  it("refuses while another live run holds the directory, then downloads and leaves no lock", async () => {
    const into = join(work, "into")
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(`${into}.lock`, "download (another run)")
          const refused = yield* Effect.promise(() => runCli(["download", store, id, into], { timeoutMs: 60_000 }))
          expect(refused.status).toBe(1)
          expect(refused.stderr).toContain(`${into}.lock is held by download (another run)`)
          expect(existsSync(into)).toBe(false)
        }),
      ),
    )
    const done = await runCli(["download", store, id, into], { timeoutMs: 60_000 })
    expect(done.status, done.stderr).toBe(0)
    expect(done.stdout).toBe(`${into}\n`)
    expect(readdirSync(into).sort()).toEqual(backupFiles(backup))
    expect(readdirSync(work).filter((n) => n.endsWith(".lock"))).toEqual([])
  })
})
