import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../src/services/disk-space.ts"
/**
 * `latest` for the backup id: `download STORE latest DIR`, `verify`/`restore STORE --backup-id
 * latest` take the store's newest complete backup, saying which, and name the newer ones passed
 * over (an upload not finished, a backup copied under another id); a store with none is an error.
 */
import { cpSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { backupFiles, fakeBackupForSuite, makeHostTree, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const id = "2026-01-02_030405"
const incomplete = "2026-01-03_000000"
const moved = "2026-01-04_000000"
const { work, backup } = fakeBackupForSuite("store-latest")
let etcdutl: string
let store: string

const cli = (args: ReadonlyArray<string>) => runCli(args, { timeoutMs: 90_000 })

beforeAll(async () => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
  store = join(work, "store")
  mkdirSync(store)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live))))
  // Newer than the backup: an upload that stopped after the snapshot, and the whole backup copied under another id.
  const snapshot = readManifest(backup).files.snapshot.name
  mkdirSync(join(store, incomplete))
  cpSync(join(store, id, snapshot), join(store, incomplete, snapshot))
  cpSync(join(store, id), join(store, moved), { recursive: true })
})

const passedOver = (stderr: string) => {
  expect(stderr).toMatch(new RegExp(`latest: passing over backup ${moved}: its manifest describes backup ${id}`))
  expect(stderr).toMatch(new RegExp(`latest: passing over backup ${incomplete}: incomplete`))
  expect(stderr).toMatch(new RegExp(`latest: backup ${id}, the newest complete one in ${store}`))
}

describe("latest as the backup id", { timeout: 150_000 }, () => {
  it("download STORE latest DIR downloads the newest complete backup", async () => {
    const into = join(tempDir("latest-download", work), "out")
    const run = await cli(["download", store, "latest", into])
    expect(run.status, run.stderr).toBe(0)
    passedOver(run.stderr)
    expect(run.stdout.trim()).toBe(into)
    expect(backupFiles(into)).toEqual(backupFiles(backup))
  })

  it("verify and restore --backup-id latest take the same backup; restore downloads under its id", async () => {
    const verified = await cli(["verify", store, "--backup-id", "latest", "--etcdutl", etcdutl])
    expect(verified.status, verified.stderr).toBe(0)
    passedOver(verified.stderr)

    const host = makeHostTree(work, backup)
    const restored = await cli(["restore", store, "--backup-id", "latest", "--root", host.root, "--member-name", "master-0", "--etcdutl", etcdutl, "--dry-run"])
    expect(restored.status, restored.stderr + restored.stdout).toBe(0)
    expect(readdirSync(join(host.root, "var/lib/etcd-backup/downloads"))).toEqual(expect.arrayContaining([id]))
    expect(readdirSync(join(host.root, "var/lib/etcd-backup/downloads"))).not.toContain("latest")
  })

  it("a store without a complete backup: NoCompleteBackup, nothing downloaded", async () => {
    const empty = join(tempDir("latest-empty", work), "store")
    mkdirSync(join(empty, incomplete), { recursive: true })
    cpSync(join(store, incomplete), join(empty, incomplete), { recursive: true })
    const into = join(tempDir("latest-none", work), "out")
    const run = await cli(["download", empty, "latest", into])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /there is no complete backup in \S+ under its root to take as latest \(1 passed over, logged above\): see list \[NoCompleteBackup\]/,
    )
    expect(readdirSync(join(into, ".."))).toEqual([])
  })
})
