/** The room a restore's moves off a dedicated etcd disk need and free, measured on a real tree. */
import { linkSync, mkdirSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { bytesOnDisk, bytesToCopy } from "../../../src/programs/restore/restore-preconditions.ts"
import { DurableFiles } from "../../../src/services/durable-files.ts"
import { tempDir } from "../../support/temp-dir.ts"

const measure = (m: typeof bytesOnDisk, path: string) => Effect.runPromise(m(path).pipe(Effect.provide(DurableFiles.live)))

/** A member directory with a WAL file hard-linked under a second name and a sparse database. */
const member = () => {
  const dir = join(tempDir("restore-room"), "member")
  mkdirSync(join(dir, "wal"), { recursive: true })
  writeFileSync(join(dir, "wal", "0.wal"), Buffer.alloc(64 * 1024, 3))
  linkSync(join(dir, "wal", "0.wal"), join(dir, "wal", "0.wal.linked"))
  mkdirSync(join(dir, "snap"))
  writeFileSync(join(dir, "snap", "db"), "")
  truncateSync(join(dir, "snap", "db"), 8 * 1024 * 1024)
  return dir
}

const blocks = (...paths: ReadonlyArray<string>) => paths.reduce((sum, p) => sum + statSync(p).blocks * 512, 0)

describe("the room of a member moved off a dedicated etcd disk", () => {
  it("removing it frees its allocated blocks, a hard-linked file once", async () => {
    const dir = member()
    expect(await measure(bytesOnDisk, dir)).toBe(blocks(dir, join(dir, "wal"), join(dir, "wal", "0.wal"), join(dir, "snap"), join(dir, "snap", "db")))
  })

  it("copying it writes every name of a hard-linked file and a sparse file's holes", async () => {
    const dir = member()
    const wal = Math.max(statSync(join(dir, "wal", "0.wal")).blocks * 512, 64 * 1024)
    expect(await measure(bytesToCopy, dir)).toBe(blocks(dir, join(dir, "wal"), join(dir, "snap")) + 2 * wal + 8 * 1024 * 1024)
  })

  it("a member that is not there takes nothing", async () => {
    expect(await measure(bytesOnDisk, join(tempDir("restore-room"), "member"))).toBe(0)
    expect(await measure(bytesToCopy, join(tempDir("restore-room"), "member"))).toBe(0)
  })
})
