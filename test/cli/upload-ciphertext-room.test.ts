/**
 * An encrypted `backup-upload` writes each file's ciphertext beside it in the backup directory
 * first (the whole of it for a directory store): on a volume without room for it, the upload is
 * refused before anything is written (the free space of a real tmpfs), instead of failing at
 * ENOSPC part-way through the encryption.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { volumeSizeLimitsEnv } from "../../src/domain/volume-size-limits.ts"
import { makeFakeBackup } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { cliOnFilledTmpfs, volumeListing } from "../support/filled-tmpfs.ts"
import { tempDir } from "../support/temp-dir.ts"
import { keygen } from "../services/crypto/age-cli.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"

const MiB = 1024 * 1024
const work = tempDir("upload-ciphertext-room")
const seed = join(work, "seed")
const recipients = join(work, "recipients")

beforeAll(async () => {
  await Effect.runPromise(makeFakeBackup(join(seed, "backup"), loadedCluster(), undefined, 4 * MiB))
  writeFileSync(recipients, `${keygen(join(work, "key")).recipient}\n`)
}, 60_000)

const upload = (room: number, store: string) => {
  mkdirSync(store)
  return cliOnFilledTmpfs(room, ["backup-upload", "--store", store, "--prefix", "p", "--backup-dir", "backup", "--recipients-file", recipients], {
    seed,
    depth: 2,
  })
}

describe("an encrypted backup-upload from a volume without room for the ciphertext", () => {
  it("is refused at once with what it needs and has: nothing written there or in the store", () => {
    const store = join(work, "refused")
    const run = upload(2 * MiB, store)
    expect(run.status, run.stderr).toBe(1)
    expect(run.stderr).toMatch(
      /encrypting the backup for \S+ writes each file's ciphertext beside it in \S*backup first \(\S+ \S+ at most\), which has \S+ \S+ free: nothing was uploaded; .* \[BackupDirTooSmall\]/,
    )
    expect(volumeListing(run.stdout).filter((p) => p.endsWith(".age"))).toEqual([])
    expect(readdirSync(store)).toEqual([])
  })

  it("with room, uploads", () => {
    const store = join(work, "stored")
    const run = upload(6 * MiB, store)
    expect(run.status, run.stderr).toBe(0)
    expect(readdirSync(join(store, "p"))).toHaveLength(1)
  })
})

describe("an encrypted backup-upload in the pod, whose backup volume's size limit leaves no room for the ciphertext", () => {
  it("is refused before anything is written, naming the limit and the pod option that sets it; within the limit it uploads", async () => {
    const volume = join(work, "pod-volume")
    cpSync(join(seed, "backup"), volume, { recursive: true })
    const args = (store: string) => ["backup-upload", "--store", store, "--prefix", "p", "--backup-dir", volume, "--recipients-file", recipients]
    const store = join(work, "pod-store")
    mkdirSync(store)
    // The node's disk has room; the emptyDir's 6 MiB limit, with the 4 MiB snapshot in it, has not.
    const refused = await runCli(args(store), { env: { [volumeSizeLimitsEnv]: JSON.stringify({ [volume]: 6 * MiB }) } })
    expect(refused.status, refused.stderr).toBe(1)
    expect(refused.stderr).toMatch(
      /which has \S+ \S+ free: nothing was uploaded; the pod's size limit of \S+pod-volume is 6\.0 MiB and 4\.\d MiB of it is in use .*a larger --backup-volume-size \[BackupDirTooSmall\]/,
    )
    expect(readdirSync(volume).filter((n) => n.endsWith(".age"))).toEqual([])
    expect(readdirSync(store)).toEqual([])

    const uploaded = await runCli(args(store), { env: { [volumeSizeLimitsEnv]: JSON.stringify({ [volume]: 16 * MiB }) } })
    expect(uploaded.status, uploaded.stderr).toBe(0)
    expect(readdirSync(join(store, "p"))).toHaveLength(1)
  }, 60_000)
})
