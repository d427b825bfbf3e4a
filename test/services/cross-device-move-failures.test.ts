/**
 * A move between two file systems that fails after its copy took the destination's name: the
 * original could not be put in the trash (the copy is taken back, nothing moved), the copy could
 * not be taken back either (both whole, said so), or the trash could not be removed (the move is
 * done, said so). The file system's failures are injected into node:fs/promises, as none of them
 * can be caused for root on a tmpfs.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import type * as FsPromises from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import { moveAcrossFileSystems, movePart, moveTrash } from "../../src/services/cross-device-move.ts"
import { tempDir } from "../support/temp-dir.ts"

/** Failures to inject: a predicate per operation, on its arguments; the first call it accepts fails with EIO. */
const inject: { rename?: ((from: string, to: string) => boolean) | undefined; rm?: ((path: string) => boolean) | undefined } = {}
const eio = (syscall: string, path: string) => Object.assign(new Error(`EIO: i/o error, ${syscall} '${path}'`), { code: "EIO", errno: -5, syscall, path })

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>()
  return {
    ...actual,
    rename: (from: string, to: string) => (inject.rename?.(from, to) === true ? Promise.reject(eio("rename", from)) : actual.rename(from, to)),
    rm: (path: string, options?: Parameters<typeof actual.rm>[1]) => (inject.rm?.(path) === true ? Promise.reject(eio("rm", path)) : actual.rm(path, options)),
  }
})

const other = mkdtempSync("/dev/shm/cb-cross-move-failures-")
afterAll(() => rmSync(other, { recursive: true, force: true }))
afterEach(() => {
  inject.rename = undefined
  inject.rm = undefined
})

/** A member-like tree in the test's directory, and a free destination on /dev/shm. */
const setup = (name: string) => {
  const from = join(tempDir(`cross-move-failures-${name}`), "member")
  mkdirSync(join(from, "snap"), { recursive: true })
  writeFileSync(join(from, "snap", "db"), "the database")
  return { from, to: join(other, `${name}-member`) }
}

const ioAdvice = (path: string) => `the device holding ${path} reported an I/O error: check the disk and the kernel log (dmesg) before trusting it again`

const failure = async (from: string, to: string) => {
  const error = await moveAcrossFileSystems(from, to).then(
    () => undefined,
    (e: unknown) => e as { readonly _tag?: string; readonly code?: string; readonly message: string },
  )
  expect(error).toBeDefined()
  return error!
}

describe("a move across file systems that fails after its copy took its name", () => {
  it("the original cannot go to the trash: the copy is taken back, the original alone is left, and the error says nothing was moved", async () => {
    const { from, to } = setup("trash-refused")
    inject.rename = (source, target) => source === from && target === moveTrash(from)
    const error = await failure(from, to)
    expect(error._tag).toBe("BackupFileError")
    expect(error.code).toBe("EIO")
    expect(error.message).toBe(`cannot move ${from}: EIO: ${ioAdvice(from)}; its copy at ${to} was taken back: nothing was moved, ${from} is in place`)
    expect(readFileSync(join(from, "snap", "db"), "utf8")).toBe("the database")
    expect(existsSync(to)).toBe(false)
    expect(existsSync(movePart(to))).toBe(false)
  })

  it("nor can the copy be taken back: both are whole, and the error names the copy to remove", async () => {
    const { from, to } = setup("both-left")
    inject.rename = (source, target) => (source === from && target === moveTrash(from)) || (source === to && target === movePart(to))
    const error = await failure(from, to)
    expect(error.message).toMatch(
      new RegExp(`; ${to} holds a whole copy of ${from}, which is still in place, and the copy could not be taken back: remove ${to}, then run again$`),
    )
    expect(readFileSync(join(from, "snap", "db"), "utf8")).toBe("the database")
    expect(readFileSync(join(to, "snap", "db"), "utf8")).toBe("the database")
  })

  it("the trash cannot be removed: the move is done, and the error says so and that the next restore removes the trash", async () => {
    const { from, to } = setup("trash-kept")
    const trash = moveTrash(from)
    // The first removal of the trash (a stale one, before the original is renamed to it) finds nothing; the second fails.
    inject.rm = (path) => path === trash && existsSync(trash)
    const error = await failure(from, to)
    expect(error.message).toBe(
      `cannot remove ${trash}: EIO: ${ioAdvice(trash)}; ${from} was moved (its whole copy is ${to}) but its original, renamed to ${trash}, is still there: the next restore removes it`,
    )
    expect(existsSync(from)).toBe(false)
    expect(readFileSync(join(to, "snap", "db"), "utf8")).toBe("the database")
    expect(readdirSync(dirname(from))).toEqual([basename(trash)])
  })
})
