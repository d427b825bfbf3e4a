/**
 * `backup-upload` to Swift's s3api (and to a directory store) SIGKILLed at random points of its work (a seeded fraction of an
 * uninterrupted run's time from the moment it holds the backup directory's lock), plain and age-encrypted,
 * then run again to the end. After every kill, a backup the store lists as complete downloads whole (its
 * manifest is written last, so it never describes objects that are not all there). The last run stores
 * the backup, leaves the backup directory as it was (no `.age`, `.age.part` or lock of a killed run) and
 * aborts the multipart uploads the killed runs abandoned; a prune then keeps the backup.
 */
import { createHash } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { PendingUpload } from "../../src/domain/store-layout.ts"
import { makeDirectoryStore } from "../../src/services/store/directory-store.ts"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { backupFiles } from "../support/bad-backups.ts"
import { settled } from "../support/eventually.ts"
import { runAndKillWhen, seededRandom } from "../support/kill-loop.ts"
import { writeLargeBackup } from "../support/large-backup.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, s3Endpoint, s3Env, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { keygen } from "../services/crypto/age-cli.ts"

const MiB = 1024 * 1024
const bucket = `upload-kill-${process.pid}`
const work = tempDir("upload-kill")
let server: S3TestServer
let env: Record<string, string>
let key: { readonly path: string; readonly recipient: string }
const recipients = join(work, "recipients")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

/** Where the uploads go: a bucket of the local Swift, or a directory store. */
interface Target {
  readonly name: string
  /** The store's arguments for a prefix: the store itself, then its flags. */
  readonly store: (prefix: string) => Array<string>
  readonly pending: (prefix: string) => Promise<ReadonlyArray<PendingUpload>>
}

const s3Target: Target = {
  name: "Swift",
  store: (prefix) => [`s3://${bucket}/${prefix}`],
  pending: (prefix) => Effect.runPromise(makeS3Store(s3Endpoint(server, bucket)).pendingUploads(`${prefix}/`)),
}

const directoryTarget: Target = {
  name: "a directory store",
  store: (prefix) => [join(work, "directory-store"), "--prefix", prefix],
  pending: (prefix) => Effect.runPromise(makeDirectoryStore(join(work, "directory-store")).pendingUploads(`${prefix}/`)),
}

interface Listed {
  readonly id: string
  readonly complete: boolean
}

const listed = async (target: Target, prefix: string): Promise<ReadonlyArray<Listed>> => {
  const list = await runCli(["list", ...target.store(prefix), "--json"], { env })
  expect(list.status, list.stderr).toBe(0)
  return JSON.parse(list.stdout)
}

/** Downloads every complete backup under `prefix` and checks its snapshot and tarball against the original backup's (an encrypted one's manifest is the store's). */
const expectCompleteOnesWhole = async (target: Target, prefix: string, backup: string, identity: ReadonlyArray<string>, round: number) => {
  for (const b of (await listed(target, prefix)).filter((b) => b.complete)) {
    const into = join(work, `check-${target.name}-${prefix}-${round}`)
    const [store, ...flags] = target.store(prefix)
    const down = await runCli(["download", store!, b.id, into, ...flags, ...identity], { env, timeoutMs: 120_000 })
    expect(down.status, down.stderr).toBe(0)
    for (const f of backupFiles(backup).filter((f) => f !== "backup-manifest.json")) expect(sha256(join(into, f)), f).toBe(sha256(join(backup, f)))
  }
}

beforeAll(async () => {
  server = await s3Server()
  env = s3Env(server)
  await createBucket(server, bucket)
  key = keygen(join(work, "key.txt"))
  writeFileSync(recipients, `${key.recipient}\n`)
  mkdirSync(join(work, "directory-store"))
}, 200_000)

describe("backup-upload killed at any moment", { timeout: 400_000 }, () => {
  it.each([
    { target: s3Target, form: "plain", flags: [] as Array<string>, identity: [] as Array<string>, seed: 23 },
    { target: s3Target, form: "age-encrypted", flags: ["--recipients-file", recipients], identity: ["--identity", join(work, "key.txt")], seed: 29 },
    { target: directoryTarget, form: "plain", flags: [] as Array<string>, identity: [] as Array<string>, seed: 31 },
  ])(
    "to $target.name, $form: six kills, then a run to the end; a listed complete backup is always whole, and the last run clears what the kills left",
    async ({ target, form, flags, identity, seed }) => {
      const backup = join(work, `backup-${target.name}-${form}`)
      // Three parts of 5 MiB and a last one: a kill lands between parts, inside one, or while the manifest is written.
      const manifest = writeLargeBackup(backup, 18 * MiB + 4321)
      const original = readdirSync(backup).sort()
      const upload = (prefix: string) => ["backup-upload", "--store", ...target.store(prefix), "--backup-dir", backup, "--part-size", "5Mi", ...flags]
      const lock = join(backup, ".cluster-backup", "run.lock")
      // Its own lock: a killed run leaves a stale one, which the next run replaces (and a run that ends removes: read, not asked first).
      const lockText = () => {
        try {
          return readFileSync(lock, "utf8")
        } catch {
          return ""
        }
      }
      const begun = (pid: number) => lockText().includes(`"pid":${pid},`)

      const whole = await runAndKillWhen(upload(`${form}-whole`), { begun, delayMs: 600_000, env })
      expect(whole.finished && whole.code === 0, whole.stderr).toBe(true)

      const prefix = `${form}-killed`
      const random = seededRandom(seed)
      // Six kills that land before the run's end (one that comes too late, on a loaded machine, is one more round); a
      // kill point in the first three quarters of the whole run's time lands but for a run much faster than it.
      let landed = 0
      for (let round = 0; round < 18 && landed < 6; round++) {
        const killed = await runAndKillWhen(upload(prefix), { begun, delayMs: Math.floor(random() * whole.afterLockMs * 0.75), env })
        if (!killed.finished) landed++
        else expect(killed.code, killed.stderr).toBe(0)
        await expectCompleteOnesWhole(target, prefix, backup, identity, round)
      }
      expect(landed).toBe(6)
      const pending = () => target.pending(prefix)
      if (target === s3Target) {
        // One more run, killed as soon as the store lists a multipart upload it started (Swift lists them a moment after they
        // begin), so that the last run surely has one to abort. A directory store's `.part` names are the next run's own.
        const seen = new Set((await pending()).map((u) => u.uploadId))
        await runCli(upload(prefix), {
          env,
          timeoutMs: 120_000,
          during: async (child) => {
            while (!child.ended()) {
              if ((await pending()).some((u) => !seen.has(u.uploadId))) return child.kill("SIGKILL")
              await sleep(20)
            }
          },
        })
        expect((await pending()).length).toBeGreaterThan(0)
      }

      const last = await runCli(upload(prefix), { env, timeoutMs: 120_000 })
      expect(last.status, last.stderr).toBe(0)
      // It aborted the multipart uploads the killed runs left (Swift's listing shows it a moment later).
      expect(await settled(pending, (p) => p.length === 0, { everyMs: 100 })).toEqual([])
      expect((await listed(target, prefix)).map((b) => [b.id, b.complete])).toEqual([[manifest.timestamp, true]])
      await expectCompleteOnesWhole(target, prefix, backup, identity, 99)
      // What the backup directory holds is the backup as it was: the last run removed what the killed ones left.
      expect(
        readdirSync(backup)
          .filter((n) => n !== ".cluster-backup")
          .sort(),
      ).toEqual(original.filter((n) => n !== ".cluster-backup"))
      expect(readdirSync(join(backup, ".cluster-backup")).filter((n) => n.includes("lock") || n.includes(".part"))).toEqual([])

      const prune = await runCli(["prune", ...target.store(prefix), "--keep-last", "1", "--leftover-grace", "0s"], { env })
      expect(prune.status, prune.stderr).toBe(0)
      expect(await settled(pending, (p) => p.length === 0, { everyMs: 100 })).toEqual([])
      expect((await listed(target, prefix)).map((b) => [b.id, b.complete])).toEqual([[manifest.timestamp, true]])
      await expectCompleteOnesWhole(target, prefix, backup, identity, 100)
    },
  )
})
