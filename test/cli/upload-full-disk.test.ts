/**
 * `backup-upload` into a directory store on a volume too small for the backup: refused before
 * anything is written (the free space read from the kernel of a real tmpfs), with what it needs and
 * has, instead of writing the snapshot until ENOSPC.
 */
import { describe, expect, it } from "vitest"
import { fakeBackupForSuite } from "../support/bad-backups.ts"
import { cliOnFilledTmpfs, volumeListing } from "../support/filled-tmpfs.ts"

const { backup } = fakeBackupForSuite("upload-full-disk")

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
