/**
 * `backup-upload` into a directory store on a volume too small for the backup: refused before
 * anything is written (the free space read from the kernel of a real tmpfs), with what it needs and
 * has, instead of writing the snapshot until ENOSPC. With a retention rule, what the rule removes
 * once the backup is stored goes first, so a volume sized for the backups the rule keeps goes on
 * taking backups.
 */
import { mkdirSync, utimesSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { formatBackupTimestamp, parseBackupTimestamp } from "../../src/domain/archive-names.ts"
import { fakeBackupForSuite, readManifest } from "../support/bad-backups.ts"
import { cliOnFilledTmpfs, volumeListing } from "../support/filled-tmpfs.ts"
import { writeLargeBackup } from "../support/large-backup.ts"
import { storedBackup } from "../support/stored-backups.ts"

const { work, backup } = fakeBackupForSuite("upload-full-disk")

/** Runs `backup-upload` into a directory store at the root of a 16 MiB tmpfs filled until `room` bytes are free. */
const uploadOnTmpfs = (room: number) => cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", backup])

describe("backup-upload into a directory store too small for the backup", () => {
  it("is refused at once with what it needs and has: nothing written", () => {
    const run = uploadOnTmpfs(256 * 1024)
    expect(run.status, run.stderr).toBe(1)
    expect(run.stderr).toMatch(
      /backup \S+ needs \S+ \S+ free in the store \S+, which has \S+ \S+ \(snapshot_\S+\.db would not fit\): nothing was uploaded; remove old backups from it \(prune with a retention rule\) or give its volume more room \[StoreTooSmall\]/,
    )
    expect(volumeListing(run.stdout)).toEqual(["filler"])
  })

  it("with room, uploads", () => {
    const run = uploadOnTmpfs(8 * 1024 * 1024)
    expect(run.status, run.stderr).toBe(0)
    expect(volumeListing(run.stdout)).toEqual(["filler", "p"])
  })
})

// Before, the part a killed upload of the same backup left counted as taken: the re-upload, which replaces it as it
// begins, was refused on a volume it fits in, until prune's grace period had passed.
describe("backup-upload after a killed upload of the same backup", () => {
  it("fits in the room the killed upload's part takes: stored, the part gone", () => {
    const large = join(work, "large")
    const base = writeLargeBackup(large, 4 * 1024 * 1024)
    const seed = join(work, "seed-killed")
    const part = join(seed, "p", base.timestamp, `${base.files.snapshot.name}.part`)
    mkdirSync(dirname(part), { recursive: true })
    writeFileSync(part, new Uint8Array(base.files.snapshot.size))
    // Less than the snapshot needs beside the part; enough once the part is replaced.
    const room = base.files.resources.size + 1024 * 1024 + 256 * 1024
    expect(room).toBeLessThan(base.files.snapshot.size + base.files.resources.size + 1024 * 1024)
    const run = cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", large], { seed, depth: 3 })
    expect(run.status, run.stderr).toBe(0)
    expect(volumeListing(run.stdout)).toEqual(
      [
        "filler",
        "p",
        `p/${base.timestamp}`,
        ...[base.files.snapshot.name, base.files.resources.name, "backup-manifest.json"].map((f) => `p/${base.timestamp}/${f}`),
      ].sort(),
    )
  })
})

describe("backup-upload into a full directory store, with a retention rule", () => {
  /** A store (`p/` of the volume's root) holding two backups as large as this one, a day and two days older. */
  const seeded = (name = "seed") => {
    const seed = join(work, name)
    const base = readManifest(backup)
    const at = parseBackupTimestamp(base.timestamp).getTime()
    const ids = [at - 2 * 86_400_000, at - 86_400_000].map((t) => {
      const { id, files } = storedBackup(base, t, true, true)
      for (const [file, bytes] of files) {
        mkdirSync(dirname(join(seed, "p", id, file)), { recursive: true })
        writeFileSync(join(seed, "p", id, file), bytes)
      }
      return id
    })
    return { seed, ids, id: base.timestamp }
  }
  // Less than the backup and the 1 MiB kept for the manifest; more once the oldest backup is gone.
  const room = 1024 * 1024

  it("--keep-last 2: the oldest backup goes first, the upload fits; the store holds the two newest", () => {
    const { seed, ids, id } = seeded()
    const run = cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", backup, "--keep-last", "2"], { seed, depth: 2 })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain("first removing what the retention rule removes once it is stored")
    expect(volumeListing(run.stdout)).toEqual(["filler", "p", `p/${ids[1]}`, `p/${id}`])
  })

  /** The store as `seeded` has it, with the snapshot's part a run lost an hour before this backup's left, last written `ago` ms back. */
  const withLostPart = (name: string, ago: number) => {
    const { seed, ids, id } = seeded(name)
    const base = readManifest(backup)
    const lost = formatBackupTimestamp(new Date(parseBackupTimestamp(base.timestamp).getTime() - 3_600_000))
    const part = join(seed, "p", lost, `snapshot_${lost}.db.part`)
    mkdirSync(dirname(part), { recursive: true })
    writeFileSync(part, new Uint8Array(base.files.snapshot.size + base.files.resources.size))
    const lastWritten = new Date(Date.now() - ago)
    utimesSync(part, lastWritten, lastWritten)
    return { seed, ids, id, lost }
  }

  // Before, a part whose writer died (a policy pod lost mid-upload) kept its room for prune's grace, 24 h: until then
  // every upload onto the volume was refused, though the rule had nothing more to remove.
  it("--keep-last 3, a part a lost run left 20 minutes ago: removed as its writer is gone, the upload fits", () => {
    const { seed, ids, id } = withLostPart("seed-lost", 20 * 60_000)
    const run = cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", backup, "--keep-last", "3"], { seed, depth: 2 })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/removing the abandoned multipart upload of p\/\S+\/snapshot_\S+\.db, untouched since /)
    expect(volumeListing(run.stdout)).toEqual(["filler", "p", ...[...ids, id].map((i) => `p/${i}`)])
  })

  it("--keep-last 3, a part written a minute ago: its writer may be at work, so it stays and the upload is refused", () => {
    const { seed, ids, lost } = withLostPart("seed-live", 60_000)
    const run = cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", backup, "--keep-last", "3"], { seed, depth: 2 })
    expect(run.status, run.stderr).toBe(1)
    expect(run.stderr).toContain("[StoreTooSmall]")
    expect(volumeListing(run.stdout)).toEqual(["filler", "p", ...[...ids, lost].map((i) => `p/${i}`)].sort())
  })

  it("--keep-last 3 removes nothing first: refused, the store as it was", () => {
    const { seed, ids } = seeded()
    const run = cliOnFilledTmpfs(room, ["backup-upload", "--store", ".", "--prefix", "p", "--backup-dir", backup, "--keep-last", "3"], { seed, depth: 2 })
    expect(run.status, run.stderr).toBe(1)
    expect(run.stderr).toContain("[StoreTooSmall]")
    expect(volumeListing(run.stdout)).toEqual(["filler", "p", ...ids.map((i) => `p/${i}`)])
  })
})
