/**
 * `download` onto a volume too small for the backup: refused before anything is written (the
 * free space read from the kernel of a real tmpfs, in the child's own mount namespace), instead of
 * writing until ENOSPC; the directory to download into is not even made.
 */
import { mkdirSync } from "node:fs"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { fakeBackupForSuite, readManifest } from "../support/bad-backups.ts"
import { cliOnFilledTmpfs, volumeListing } from "../support/filled-tmpfs.ts"

const { work, backup } = fakeBackupForSuite("download-full-disk")
const store = join(work, "store")

beforeAll(async () => {
  mkdirSync(store)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live))))
})

/** Runs `download STORE ID out` on a 16 MiB tmpfs filled until `room` bytes are free. */
const downloadOnTmpfs = (room: number) => cliOnFilledTmpfs(room, ["download", store, readManifest(backup).timestamp, "out"])

describe("download onto a volume too small for the backup", () => {
  it("is refused at once with what it needs and has: nothing written, no directory made", () => {
    const run = downloadOnTmpfs(256 * 1024)
    expect(run.status, run.stderr).toBe(1)
    expect(run.stderr).toMatch(
      /needs \S+ \S+ in \S*out, which has \S+ \S+ free: nothing downloaded; free space there or download into a directory on a larger file system/,
    )
    expect(volumeListing(run.stdout)).toEqual(["filler"])
  })

  it("with room, downloads", () => {
    const run = downloadOnTmpfs(8 * 1024 * 1024)
    expect(run.status, run.stderr).toBe(0)
    expect(volumeListing(run.stdout)).toEqual(["filler", "out"])
  })
})
