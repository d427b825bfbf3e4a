/**
 * `DurableFiles.reflinks`: whether a copy into a directory would be a reflink, tried for real into an unnamed file, on
 * an XFS with reflinks (as RHCOS formats its disks) and on file systems without them (this machine's ext4, tmpfs).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { mountXfs } from "../support/xfs-mount.ts"

const reflinks = (file: string, directory: string) =>
  Effect.runPromise(DurableFiles.use((files) => files.reflinks(file, directory)).pipe(Effect.provide(DurableFiles.live)))

const freeBytes = (path: string) => {
  const s = statfsSync(path)
  return s.bavail * s.bsize
}

const xfs = mountXfs(mkdtempSync(join(tmpdir(), "cb-reflinks-xfs-")))
const ext4 = mkdtempSync(join(tmpdir(), "cb-reflinks-"))
const tmpfs = mkdtempSync(join("/dev/shm", "cb-reflinks-"))
afterAll(() => {
  xfs.unmount()
  rmSync(xfs.mountPoint, { recursive: true, force: true })
  for (const dir of [ext4, tmpfs]) rmSync(dir, { recursive: true, force: true })
})

describe("DurableFiles.reflinks", () => {
  it("on an XFS with reflinks: true for a directory there, leaving nothing behind, the room it had still free", async () => {
    const file = join(xfs.mountPoint, "snapshot.db")
    writeFileSync(file, Buffer.alloc(32 * 1024 * 1024, 7))
    const into = join(xfs.mountPoint, "var/lib")
    mkdirSync(into, { recursive: true })
    const free = freeBytes(xfs.mountPoint)
    expect(await reflinks(file, into)).toBe(true)
    expect(readdirSync(into)).toEqual([])
    expect(
      readdirSync(xfs.mountPoint)
        .filter((n) => n.startsWith("snapshot") || n === "var")
        .sort(),
    ).toEqual(["snapshot.db", "var"])
    // The clone's unnamed file is gone with its descriptor: no block of it stays allocated.
    expect(Math.abs(freeBytes(xfs.mountPoint) - free)).toBeLessThan(1024 * 1024)
  })

  it("false from another file system, and on file systems without reflinks (ext4, tmpfs), leaving nothing there either", async () => {
    const onXfs = join(xfs.mountPoint, "other.db")
    writeFileSync(onXfs, "data")
    expect(await reflinks(onXfs, ext4)).toBe(false)
    for (const dir of [ext4, tmpfs]) {
      const file = join(dir, "snapshot.db")
      writeFileSync(file, Buffer.alloc(1024 * 1024, 7))
      expect(await reflinks(file, dir)).toBe(false)
      expect(readdirSync(dir)).toEqual(["snapshot.db"])
    }
  })

  it("false for a directory that is not there, and for a file that is not there", async () => {
    const file = join(xfs.mountPoint, "present.db")
    writeFileSync(file, "data")
    expect(await reflinks(file, join(xfs.mountPoint, "missing"))).toBe(false)
    expect(await reflinks(join(xfs.mountPoint, "missing.db"), xfs.mountPoint)).toBe(false)
  })
})
