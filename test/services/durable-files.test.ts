import {
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { syncDirectory } from "../../src/services/atomic-files.ts"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { fsyncDirectory } from "../../src/services/tarball/fs-helpers.ts"
import { tempDir } from "../support/temp-dir.ts"

const run = <A, E>(effect: Effect.Effect<A, E, DurableFiles>) => Effect.runPromiseExit(effect.pipe(Effect.provide(DurableFiles.live)))

const fifo = (path: string) => {
  execFileSync("mkfifo", ["-m", "0600", path])
  return path
}

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

  /** Whether `dir`'s file system makes reflinks (this machine's ext4 does not; XFS and btrfs do). */
  const reflinks = (dir: string) => {
    writeFileSync(join(dir, "probe"), "x")
    try {
      copyFileSync(join(dir, "probe"), join(dir, "probe-clone"), constants.COPYFILE_FICLONE_FORCE)
      return true
    } catch {
      return false
    } finally {
      rmSync(join(dir, "probe"), { force: true })
      rmSync(join(dir, "probe-clone"), { force: true })
    }
  }

  const copy = (from: string, to: string, hardLinkWhenSafe: boolean) => run(DurableFiles.use((f) => f.copyThroughPart(from, to, 0o600, { hardLinkWhenSafe })))

  describe("a copy that may be a hard link", () => {
    it("is a hard link (or a reflink) of a 0600 file of ours on the same file system: the same bytes, no second copy, the source untouched", async () => {
      const dir = tempDir("durable")
      const linked = reflinks(dir) ? "reflinked" : "hard-linked"
      writeFileSync(join(dir, "snapshot.db"), "snapshot bytes", { mode: 0o600 })
      expect(await copy(join(dir, "snapshot.db"), join(dir, "kept.db"), true)).toEqual(Exit.succeed(linked))
      expect(readFileSync(join(dir, "kept.db"), "utf8")).toBe("snapshot bytes")
      expect(statSync(join(dir, "kept.db")).ino === statSync(join(dir, "snapshot.db")).ino).toBe(linked === "hard-linked")
      expect(statSync(join(dir, "snapshot.db")).mode & 0o7777).toBe(0o600)
      expect(readdirSync(dir).sort()).toEqual(["kept.db", "snapshot.db"])
    })

    it("is a copy when the source has another mode (a link would share it), and the source keeps its mode", async () => {
      const dir = tempDir("durable")
      writeFileSync(join(dir, "snapshot.db"), "snapshot bytes", { mode: 0o644 })
      const result = await copy(join(dir, "snapshot.db"), join(dir, "kept.db"), true)
      expect(Exit.isSuccess(result) && result.value !== "hard-linked").toBe(true)
      expect(statSync(join(dir, "kept.db")).ino).not.toBe(statSync(join(dir, "snapshot.db")).ino)
      expect(statSync(join(dir, "kept.db")).mode & 0o7777).toBe(0o600)
      expect(statSync(join(dir, "snapshot.db")).mode & 0o7777).toBe(0o644)
    })

    it("is a copy, a regular file, when the source is a symbolic link to a 0600 file", async () => {
      const dir = tempDir("durable")
      writeFileSync(join(dir, "target.db"), "snapshot bytes", { mode: 0o600 })
      symlinkSync(join(dir, "target.db"), join(dir, "snapshot.db"))
      const result = await copy(join(dir, "snapshot.db"), join(dir, "kept.db"), true)
      expect(Exit.isSuccess(result) && result.value !== "hard-linked").toBe(true)
      expect(lstatSync(join(dir, "kept.db")).isFile()).toBe(true)
      expect(statSync(join(dir, "kept.db")).ino).not.toBe(statSync(join(dir, "target.db")).ino)
    })

    it("is a copy without hardLinkWhenSafe, whatever the source", async () => {
      const dir = tempDir("durable")
      writeFileSync(join(dir, "manifest.yaml"), "kind: Pod", { mode: 0o600 })
      expect(await copy(join(dir, "manifest.yaml"), join(dir, "installed.yaml"), false)).toEqual(Exit.succeed(reflinks(dir) ? "reflinked" : "copied"))
      expect(statSync(join(dir, "installed.yaml")).ino).not.toBe(statSync(join(dir, "manifest.yaml")).ino)
    })

    it("removes a stale .part that is a hard link to the source instead of writing through it (the source keeps its mode and bytes)", async () => {
      const dir = tempDir("durable")
      writeFileSync(join(dir, "snapshot.db"), "snapshot bytes", { mode: 0o644 })
      // As a run killed between the link and the rename would leave it, had the source then been 0600.
      linkSync(join(dir, "snapshot.db"), join(dir, "kept.db.part"))
      const result = await copy(join(dir, "snapshot.db"), join(dir, "kept.db"), true)
      expect(Exit.isSuccess(result)).toBe(true)
      expect(statSync(join(dir, "snapshot.db")).mode & 0o7777).toBe(0o644)
      expect(statSync(join(dir, "snapshot.db")).nlink).toBe(1)
      expect(readFileSync(join(dir, "snapshot.db"), "utf8")).toBe("snapshot bytes")
      expect(statSync(join(dir, "kept.db")).mode & 0o7777).toBe(0o600)
      expect(readdirSync(dir).sort()).toEqual(["kept.db", "snapshot.db"])
    })
  })

  describe("a copy whose source is not a regular file", () => {
    const sources: ReadonlyArray<readonly [string, (dir: string) => string]> = [
      ["a FIFO with no writer", (dir) => fifo(join(dir, "snapshot.db"))],
      [
        "a symbolic link to a FIFO",
        (dir) => {
          symlinkSync(fifo(join(dir, "elsewhere")), join(dir, "snapshot.db"))
          return join(dir, "snapshot.db")
        },
      ],
      ["a character device", () => "/dev/zero"],
    ]
    for (const [what, make] of sources) {
      for (const hardLinkWhenSafe of [true, false]) {
        it(`is refused at once, nothing made, when it is ${what} (${hardLinkWhenSafe ? "link allowed" : "copy"})`, async () => {
          const dir = tempDir("durable")
          const from = make(dir)
          const before = readdirSync(dir).sort()
          const error = failureOf(await copy(from, join(dir, "kept.db"), hardLinkWhenSafe)) as { _tag: string; message: string; path: string }
          expect(error._tag).toBe("BackupFileError")
          expect(error.path).toBe(from)
          expect(error.message).toContain(`${from} is not a regular file`)
          expect(readdirSync(dir).sort()).toEqual(before)
        })
      }
    }
  })

  describe("a copy checked against what was verified (size and last bytes)", () => {
    const expectCopy = (dir: string, expected: { readonly size: number; readonly tail: Uint8Array }, hardLinkWhenSafe = true) =>
      run(DurableFiles.use((f) => f.copyThroughPart(join(dir, "snapshot.db"), join(dir, "kept.db"), 0o600, { hardLinkWhenSafe, expected })))
    const bytes = Buffer.from("database bytes...trailer-of-32-bytes-ending-here!!")
    const tail = bytes.subarray(bytes.length - 32)

    for (const hardLinkWhenSafe of [true, false]) {
      it(`takes its name when it matches (${hardLinkWhenSafe ? "link allowed" : "copy"})`, async () => {
        const dir = tempDir("durable")
        writeFileSync(join(dir, "snapshot.db"), bytes, { mode: 0o600 })
        expect(Exit.isSuccess(await expectCopy(dir, { size: bytes.length, tail }, hardLinkWhenSafe))).toBe(true)
        expect(readFileSync(join(dir, "kept.db")).equals(bytes)).toBe(true)
      })

      it(`is refused, and nothing kept, when the source is not what was verified (${hardLinkWhenSafe ? "link allowed" : "copy"})`, async () => {
        const cases = [
          { found: "another size", source: Buffer.concat([bytes, Buffer.from("x")]), message: `${bytes.length + 1} bytes, not ${bytes.length}` },
          { found: "other last bytes", source: Buffer.from(bytes).fill(0x41, bytes.length - 1), message: "its last 32 bytes differ" },
        ]
        for (const c of cases) {
          const dir = tempDir("durable")
          writeFileSync(join(dir, "snapshot.db"), c.source, { mode: 0o600 })
          const error = failureOf(await expectCopy(dir, { size: bytes.length, tail }, hardLinkWhenSafe)) as { _tag: string; message: string; path: string }
          expect(error._tag, c.found).toBe("BackupFileError")
          expect(error.path).toBe(join(dir, "snapshot.db"))
          expect(error.message, c.found).toContain(`is not the file that was verified (${c.message})`)
          expect(readdirSync(dir), c.found).toEqual(["snapshot.db"])
          expect(readFileSync(join(dir, "snapshot.db")).equals(c.source), c.found).toBe(true)
        }
      })
    }
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

describe("DurableFiles: a record replaced in place", () => {
  it("writeReplacing replaces the file whole with exactly its mode, never writes through a part planted as a link, and leaves no part", async () => {
    const dir = tempDir("cb-durable-replace-")
    const path = join(dir, "restored-member.json")
    writeFileSync(path, "the old record\n", { mode: 0o644 })
    const victim = join(dir, "victim")
    writeFileSync(victim, "not to be written\n")
    symlinkSync(victim, join(dir, ".restored-member.json.part"))
    const oldInode = lstatSync(path).ino
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.writeReplacing(path, new TextEncoder().encode("the new record\n"), 0o600))))).toBe(true)
    expect(readFileSync(path, "utf8")).toBe("the new record\n")
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(lstatSync(path).ino).not.toBe(oldInode)
    expect(readFileSync(victim, "utf8")).toBe("not to be written\n")
    expect(readdirSync(dir).sort()).toEqual(["restored-member.json", "victim"])
  })

  it("a failed writeReplacing leaves the old file as it was and no part", async () => {
    const dir = tempDir("cb-durable-replace-fail-")
    const path = join(dir, "record")
    mkdirSync(path)
    const error = failureOf(await run(DurableFiles.use((f) => f.writeReplacing(path, new TextEncoder().encode("x"), 0o600))))
    expect(error.path).toBe(path)
    expect(lstatSync(path).isDirectory()).toBe(true)
    expect(readdirSync(dir)).toEqual(["record"])
  })

  it("identity is the device and inode of what is there, a link itself not followed, and undefined for nothing", async () => {
    const dir = tempDir("cb-durable-identity-")
    mkdirSync(join(dir, "member"))
    symlinkSync(join(dir, "member"), join(dir, "link"))
    const identity = (p: string) => run(DurableFiles.use((f) => f.identity(p)))
    const expected = (p: string) => {
      const s = lstatSync(p, { bigint: true })
      return { device: String(s.dev), inode: String(s.ino) }
    }
    expect(await identity(join(dir, "member"))).toEqual(Exit.succeed(expected(join(dir, "member"))))
    expect(await identity(join(dir, "link"))).toEqual(Exit.succeed(expected(join(dir, "link"))))
    expect(await identity(join(dir, "absent"))).toEqual(Exit.succeed(undefined))
  })
})

describe("DurableFiles: removing", () => {
  const code = (exit: Exit.Exit<unknown, { readonly code?: string | undefined }>) => (Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "succeeded")

  it("removeFile removes a file, is fine when nothing is there, and refuses a directory (EISDIR)", async () => {
    const dir = tempDir("remove-file")
    writeFileSync(join(dir, "f"), "x")
    mkdirSync(join(dir, "d"))
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.removeFile(join(dir, "f")))))).toBe(true)
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.removeFile(join(dir, "f")))))).toBe(true)
    expect(code(await run(DurableFiles.use((f) => f.removeFile(join(dir, "d")))))).toContain('"code":"EISDIR"')
    expect(readdirSync(dir)).toEqual(["d"])
  })

  it("removeTree removes a directory with its contents, or a file", async () => {
    const dir = tempDir("remove-tree")
    mkdirSync(join(dir, "d", "e"), { recursive: true })
    writeFileSync(join(dir, "d", "e", "f"), "x")
    writeFileSync(join(dir, "g"), "x")
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.removeTree(join(dir, "d")))))).toBe(true)
    expect(Exit.isSuccess(await run(DurableFiles.use((f) => f.removeTree(join(dir, "g")))))).toBe(true)
    expect(readdirSync(dir)).toEqual([])
  })

  it("a file the system refuses to remove (immutable) fails with EPERM, not Node's ENOTDIR", async () => {
    const dir = tempDir("remove-refused")
    const pinned = join(dir, "f")
    writeFileSync(pinned, "x")
    execFileSync("chattr", ["+i", pinned])
    try {
      for (const remove of ["removeFile", "removeTree"] as const) {
        const failed = code(await run(DurableFiles.use((f) => f[remove](pinned))))
        expect(failed).toContain('"code":"EPERM"')
        expect(failed).toContain("not permitted")
      }
      expect(existsSync(pinned)).toBe(true)
    } finally {
      execFileSync("chattr", ["-i", pinned])
    }
  })
})
