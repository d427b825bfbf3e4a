import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { BackupManifest } from "../../src/domain/backup-manifest.ts"
import { objectKey } from "../../src/domain/store-layout.ts"
import { s3Request, type S3Endpoint } from "../../src/services/store/s3-http.ts"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { makeFakeBackup, readManifest } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, s3Endpoint, s3Env, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { storedBackup } from "../support/stored-backups.ts"
import { tempDir } from "../support/temp-dir.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"

const bucket = `prune-${process.pid}`
const prefix = "cluster-backup/prune"
const day = 86_400_000
let server: S3TestServer
let base: BackupManifest
let env: Record<string, string>
let endpoint: S3Endpoint
const dir = tempDir("store-prune-cli")

beforeAll(async () => {
  server = await s3Server()
  await Effect.runPromise(makeFakeBackup(dir, loadedCluster()))
  base = readManifest(dir)
  endpoint = s3Endpoint(server, bucket)
  await createBucket(server, bucket)
  env = s3Env(server)
}, 200_000)

describe("prune on a Swift store", { timeout: 150_000 }, () => {
  it("keeps exactly what the rules say; an incomplete backup and an abandoned upload go only after the grace period", async () => {
    const store = makeS3Store(endpoint)
    const t0 = Date.parse("2026-03-01T00:00:00Z")
    const ids: Array<string> = []
    for (const [i, complete] of [true, true, true, false].entries()) {
      const { id, files } = storedBackup(base, t0 + i * day, complete)
      for (const [file, bytes] of files) await Effect.runPromise(store.putBytes(objectKey(prefix, id, file), bytes))
      ids.push(id)
    }
    await Effect.runPromise(
      s3Request(endpoint, {
        operation: "CreateMultipartUpload",
        method: "POST",
        key: objectKey(prefix, "2026-03-09_000000", "snapshot_2026-03-09_000000.db"),
        query: { uploads: "" },
      }),
    )
    const keys = async () => (await Effect.runPromise(store.listPage(`${prefix}/`))).objects.map((o) => o.key.split("/")[2])
    const uploads = async () => (await Effect.runPromise(store.pendingUploads(`${prefix}/`))).length

    // The default grace (24 h): only the retention rule acts.
    const first = await runCli(["prune", `s3://${bucket}/${prefix}`, "--keep-last", "2"], { env })
    expect(first.status).toBe(0)
    expect(first.stdout).toMatch(/2 kept, 1 removed; 0 incomplete removed, 1 kept .*0 abandoned uploads aborted, 1 kept/)
    expect([...new Set(await keys())]).toEqual(ids.slice(1))
    expect(await uploads()).toBe(1)

    // Past the grace: a dry run changes nothing, then the incomplete backup and the upload go.
    await new Promise((r) => setTimeout(r, 1_100))
    const dry = await runCli(["prune", `s3://${bucket}/${prefix}`, "--keep-last", "2", "--leftover-grace", "0s", "--dry-run"], { env })
    expect(dry.stdout).toMatch(/1 incomplete would be removed/)
    expect([...new Set(await keys())]).toEqual(ids.slice(1))
    const second = await runCli(["prune", `s3://${bucket}/${prefix}`, "--keep-last", "2", "--leftover-grace", "0s"], { env })
    expect(second.status).toBe(0)
    expect([...new Set(await keys())]).toEqual(ids.slice(1, 3))
    expect(await uploads()).toBe(0)
    const list = await runCli(["list", `s3://${bucket}/${prefix}`, "--json"], { env })
    expect(JSON.parse(list.stdout).map((b: { id: string; complete: boolean }) => [b.id, b.complete])).toEqual([
      [ids[1], true],
      [ids[2], true],
    ])
  })
})

// A part whose writer died (a policy pod lost mid-upload) took its room for the whole grace, 24 h.
describe("prune on a directory store", { timeout: 150_000 }, () => {
  it("removes a part unchanged for 15 minutes (its writer refreshes it while it runs) at the default grace, with its directory; keeps a fresh one", async () => {
    const root = tempDir("store-prune-dir")
    const t0 = Date.parse("2026-03-01T00:00:00Z")
    const ids = [0, 1].map((i) => {
      const { id, files } = storedBackup(base, t0 + i * day, true)
      for (const [file, bytes] of files) {
        mkdirSync(join(root, "p", id), { recursive: true })
        writeFileSync(join(root, "p", id, file), bytes)
      }
      return id
    })
    const part = (id: string, minutesAgo: number) => {
      const path = join(root, "p", id, `snapshot_${id}.db.part`)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, "half a snapshot")
      const at = new Date(Date.now() - minutesAgo * 60_000)
      utimesSync(path, at, at)
    }
    part("2026-03-05_000000", 20)
    part("2026-03-06_000000", 1)
    const run = await runCli(["prune", root, "--prefix", "p", "--keep-last", "2"])
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/1 abandoned upload aborted, 1 kept/)
    expect(run.stderr).toMatch(/removing the abandoned multipart upload of p\/2026-03-05_000000\/snapshot_2026-03-05_000000\.db, untouched since /)
    expect(run.stderr).toMatch(
      /keeping the multipart upload of p\/2026-03-06_000000\/snapshot_2026-03-06_000000\.db: untouched since \S+, so its writer may still be at work/,
    )
    expect(readdirSync(join(root, "p")).sort()).toEqual([...ids, "2026-03-06_000000"])
  })

  // A run killed between removing a backup's last file and its directory (or between making it and its first part) left
  // it, and nothing listed it again: `ls` of the volume showed a backup that is not there, forever.
  it("removes a backup's empty directory unchanged for 15 minutes; keeps a young one, one deeper and one not named as a backup", async () => {
    const root = tempDir("store-prune-empty")
    const { id, files } = storedBackup(base, Date.parse("2026-03-01T00:00:00Z"), true)
    mkdirSync(join(root, "p", id), { recursive: true })
    for (const [file, bytes] of files) writeFileSync(join(root, "p", id, file), bytes)
    const folder = (path: string, minutesAgo: number) => {
      mkdirSync(join(root, path), { recursive: true })
      const at = new Date(Date.now() - minutesAgo * 60_000)
      utimesSync(join(root, path), at, at)
    }
    folder("p/2026-03-02_000000/kept/deeper", 20)
    folder("p/2026-03-03_000000", 1)
    folder("p/2026-03-04_000000", 20)
    folder("p/lost+found", 20)
    const dry = await runCli(["prune", root, "--prefix", "p", "--keep-last", "1", "--dry-run"])
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/1 empty folder would be removed/)
    expect(dry.stderr).toMatch(/would remove the empty folder p\/2026-03-04_000000\/, untouched since \S+: an interrupted run left it/)
    expect(readdirSync(join(root, "p"))).toContain("2026-03-04_000000")
    const run = await runCli(["prune", root, "--prefix", "p", "--keep-last", "1"])
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/1 kept, 0 removed; .*1 empty folder removed/)
    expect(readdirSync(join(root, "p")).sort()).toEqual([id, "2026-03-02_000000", "2026-03-03_000000", "lost+found"])
    expect(readdirSync(join(root, "p", "2026-03-02_000000", "kept"))).toEqual(["deeper"])
  })
})
