/**
 * `backup-upload --bandwidth-limit`: the upload's bytes, every part in flight together, go no faster than the limit,
 * into the real S3 server (Swift) and into a directory store alike, and arrive whole.
 */
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../support/run-cli.ts"
import { writeLargeBackup } from "../support/large-backup.ts"
import { createBucket, s3Env, s3Server } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { keygen } from "../services/crypto/age-cli.ts"

const MiB = 1024 * 1024
const bucket = `bandwidth-${process.pid}`
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
let env: Record<string, string>
const backup = join(tempDir("bandwidth-limit"), "backup")
const manifest = writeLargeBackup(backup, 12 * MiB)
const total = manifest.files.snapshot.size + manifest.files.resources.size

beforeAll(async () => {
  const server = await s3Server()
  await createBucket(server, bucket)
  env = s3Env(server)
}, 200_000)

/** Runs backup-upload into `store` at 4 MiB a second (with `extra` flags); how long it took. */
const uploadAtLimit = async (store: string, extra: ReadonlyArray<string>) => {
  const started = Date.now()
  const run = await runCli(
    [
      ...["backup-upload", "--store", store, "--prefix", "p", "--backup-dir", backup, "--part-size", "5Mi", "--parts-in-flight", "4"],
      ...["--bandwidth-limit", "4Mi/s", ...extra],
    ],
    { env, timeoutMs: 60_000 },
  )
  return { run, seconds: (Date.now() - started) / 1000 }
}

/** A recipients file of a new age key, and the key's file (`download --identity`). */
const ageKey = () => {
  const dir = tempDir("bandwidth-age")
  const key = keygen(join(dir, "key.txt"))
  writeFileSync(join(dir, "recipients"), `${key.recipient}\n`)
  return { recipients: join(dir, "recipients"), identity: key.path }
}

describe("backup-upload --bandwidth-limit", { timeout: 90_000 }, () => {
  // 12 MiB in three parts sent at once: unpaced, they would go in a fraction of a second.
  it.each([
    ["S3 (Swift)", () => `s3://${bucket}/plain`, false],
    ["S3 (Swift), age-encrypted as it goes", () => `s3://${bucket}/sealed`, true],
    ["a directory store", () => tempDir("bandwidth-store"), false],
  ])("into %s sends no faster than the limit, every part together, and the backup arrives whole", async (_, storeOf, encrypted) => {
    const store = storeOf()
    const key = encrypted ? ageKey() : undefined
    const { run, seconds } = await uploadAtLimit(store, key === undefined ? [] : ["--recipients-file", key.recipients])
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain(`uploading ${manifest.files.snapshot.name}${encrypted ? ".age" : ""} (12.0 MiB${encrypted ? ", age-encrypted" : ""}) to `)
    expect(run.stderr).toContain(", at most 4.0 MiB/s")
    // All but one burst (a tenth of a second's worth) waits for the rate.
    expect(seconds).toBeGreaterThanOrEqual((total - 0.4 * MiB) / (4 * MiB))
    const into = tempDir("bandwidth-download")
    const identity = key === undefined ? [] : ["--identity", key.identity]
    const down = await runCli(["download", store, "--prefix", "p", manifest.timestamp, into, ...identity], { env, timeoutMs: 60_000 })
    expect(down.status, down.stderr).toBe(0)
    for (const f of [manifest.files.snapshot, manifest.files.resources]) expect(sha256(join(into, f.name))).toBe(f.sha256)
  })

  it.each([
    ["S3 (Swift)", () => `s3://${bucket}/received`],
    ["a directory store", () => tempDir("bandwidth-received")],
  ])("download, and verify --backup-id, from %s receive no faster than the limit, every range together", async (_, storeOf) => {
    const store = storeOf()
    const up = await runCli(["backup-upload", "--store", store, "--prefix", "p", "--backup-dir", backup], { env, timeoutMs: 60_000 })
    expect(up.status, up.stderr).toBe(0)
    // Ranges of 5 MiB, three at once: unpaced, they would come in a fraction of a second.
    const timed = async (args: ReadonlyArray<string>) => {
      const started = Date.now()
      const run = await runCli([...args, "--bandwidth-limit", "4Mi", "--prefix", "p"], { env, timeoutMs: 60_000 })
      return { run, seconds: (Date.now() - started) / 1000 }
    }
    // All but the burst (a tenth of a second's worth) waits for the rate.
    const least = (total - 0.4 * MiB) / (4 * MiB)
    const into = tempDir("bandwidth-received-into")
    const download = await timed(["download", store, manifest.timestamp, into])
    expect(download.run.status, download.run.stderr).toBe(0)
    expect(download.seconds).toBeGreaterThanOrEqual(least)
    for (const f of [manifest.files.snapshot, manifest.files.resources]) expect(sha256(join(into, f.name))).toBe(f.sha256)
    // The backup is downloaded whole, then refused: its snapshot is random bytes, no etcd database.
    const verify = await timed(["verify", store, "--backup-id", manifest.timestamp])
    expect(verify.run.stderr).toContain(`downloaded backup ${manifest.timestamp}: ${manifest.files.snapshot.name} (downloaded, sha256 checked)`)
    expect(verify.run.status).toBe(1)
    expect(verify.seconds).toBeGreaterThanOrEqual(least)
  })

  it("a backup the limit cannot send within --deadline is refused before anything is sent, saying how long it would take", async () => {
    const store = tempDir("bandwidth-deadline")
    const run = await runCli(["backup-upload", "--store", store, "--prefix", "p", "--backup-dir", backup, "--bandwidth-limit", "64Ki", "--deadline", "2m"])
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(
      `at --bandwidth-limit 64.0 KiB/s, the 12.0 MiB of backup ${manifest.timestamp} take at least 3m12s, longer than --deadline 2m: nothing was uploaded; raise the limit or the deadline`,
    )
    expect(run.stderr).toContain("[UploadDeadlineExceeded]")
    expect(readdirSync(store)).toEqual([])
  })

  it("to S3, a limit at which the parts in flight take over 10 minutes is a usage error (exit 2) naming the flags that help", async () => {
    const run = await runCli(["backup-upload", "--store", `s3://${bucket}/slow`, "--backup-dir", backup, "--bandwidth-limit", "64Ki"], { env })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain("at 64.0 KiB/s, 4 parts of 16.0 MiB in flight take 17m4s to send, over 10m")
    expect(run.stderr).toContain("send fewer or smaller parts (--parts-in-flight, --part-size)")
    const operator = await runCli([
      "render",
      "--revisions",
      "etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6",
      "--upload-bandwidth-limit",
      "64Ki",
    ])
    expect(operator.status).toBe(2)
    expect(operator.stderr).toContain("send fewer or smaller parts (--upload-parts-in-flight, --upload-part-size)")
  })

  it.each(["50", "10Mbps", "63Ki"])("--bandwidth-limit %s is a usage error (exit 2) saying what a limit is, before anything is sent", async (value) => {
    const run = await runCli(["backup-upload", "--store", tempDir("bandwidth-refused"), "--backup-dir", backup, "--bandwidth-limit", value])
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(
      value === "63Ki" ? /is below the lowest limit, 64Ki a second/ : /is not a rate: give bytes a second with the unit, like 50Mi or 20M\/s/,
    )
  })
})
