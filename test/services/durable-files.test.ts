import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { syncDirectory } from "../../src/services/atomic-files.ts"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { fsyncDirectory } from "../../src/services/tarball/fs-helpers.ts"
import { tempDir } from "../support/temp-dir.ts"

const run = <A, E>(effect: Effect.Effect<A, E, DurableFiles>) => Effect.runPromiseExit(effect.pipe(Effect.provide(DurableFiles.live)))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  return exit.cause.reasons.flatMap((r) => (r._tag === "Fail" ? [r.error] : []))[0] as E
}

describe("one fsync of a directory", () => {
  // procfs has no fsync: the kernel answers EINVAL, as some FUSE and network file systems do.
  it("lets be a file system that refuses to fsync a directory (procfs: EINVAL), in every caller", async () => {
    expect(Exit.isSuccess(await Effect.runPromiseExit(syncDirectory("/proc")))).toBe(true)
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.syncDirectory("/proc"))))).toBe(true)
    await expect(fsyncDirectory("/proc")).resolves.toBeUndefined()
  })

  it("still fails on a directory that is not there, with the errno code, the path and what to do", async () => {
    const missing = join(tempDir("durable"), "missing")
    const error = failureOf(await Effect.runPromiseExit(syncDirectory(missing)))
    expect(error).toMatchObject({ _tag: "BackupFileError", code: "ENOENT", path: missing, operation: "sync directory" })
    expect(error.message).toBe(`cannot sync directory ${missing}: ENOENT: ${missing} or a directory above it does not exist: check the path`)
  })
})

describe("DurableFiles", () => {
  it("lstat says undefined when nothing is there, also below a file, and does not follow a link", async () => {
    const dir = tempDir("durable")
    writeFileSync(join(dir, "file"), "x")
    const found = await run(
      Effect.gen(function* () {
        const f = yield* DurableFiles
        return [yield* f.lstat(join(dir, "missing")), yield* f.lstat(join(dir, "file", "below")), (yield* f.lstat(join(dir, "file")))?.isFile()]
      }),
    )
    expect(found).toEqual(Exit.succeed([undefined, undefined, true]))
  })

  it("a move refuses to replace what exists, and changes nothing", async () => {
    const dir = tempDir("durable")
    writeFileSync(join(dir, "from"), "new")
    writeFileSync(join(dir, "to"), "old")
    const error = failureOf(await run(DurableFiles.use((f) => f.move(join(dir, "from"), join(dir, "to")))))
    expect(error).toMatchObject({ _tag: "BackupFileError", code: "EEXIST", path: join(dir, "to") })
    expect(error.message).toBe(`${join(dir, "to")} already exists; refusing to replace it`)
    expect([readFileSync(join(dir, "from"), "utf8"), readFileSync(join(dir, "to"), "utf8")]).toEqual(["new", "old"])
  })

  it("a copy goes through <to>.part with the mode asked for, and a failed one leaves neither the copy nor the .part", async () => {
    const dir = tempDir("durable")
    writeFileSync(join(dir, "source"), "data", { mode: 0o644 })
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.copyThroughPart(join(dir, "source"), join(dir, "copy"), 0o600))))).toBe(true)
    expect(statSync(join(dir, "copy")).mode & 0o777).toBe(0o600)
    mkdirSync(join(dir, "unreadable"))
    const error = failureOf(await run(DurableFiles.use((f) => f.copyThroughPart(join(dir, "unreadable"), join(dir, "second"), 0o600))))
    expect(error._tag).toBe("BackupFileError")
    expect(readdirSync(dir).sort()).toEqual(["copy", "source", "unreadable"])
    expect(existsSync(join(dir, "second.part"))).toBe(false)
  })

  it("makes a directory with exactly its mode, whatever the umask", async () => {
    const dir = tempDir("durable")
    const previous = process.umask(0o077)
    try {
      expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.makeDirectory(join(dir, "made"), 0o755))))).toBe(true)
    } finally {
      process.umask(previous)
    }
    expect(statSync(join(dir, "made")).mode & 0o777).toBe(0o755)
  })
})
