import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { constants, existsSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { randomBytes } from "node:crypto"
import { beforeEach } from "vitest"
import { alignedBuffer, createSnapshotFile, directAlignment } from "../../src/services/snapshot-file.ts"
import { tempDir } from "../support/temp-dir.ts"

let dir: string
beforeEach(() => {
  dir = tempDir("snapshot-file")
})

/** A snapshot file created (direct I/O or not) at `snap.db.part` in the test's directory. */
const created = (direct: boolean) =>
  Effect.gen(function* () {
    const path = join(dir, "snap.db.part")
    return { path, file: yield* createSnapshotFile(path, { direct }) }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit))
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  return (reason as { readonly error: { readonly _tag: string; readonly message: string } }).error
}

describe("createSnapshotFile", () => {
  // This machine's temporary directory is on ext4, which takes direct I/O.
  it.effect("opens with direct I/O where the filesystem takes it: aligned writes, then truncate, give the exact bytes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { path, file } = yield* created(true)
        assert.isTrue(file.direct)
        assert.strictEqual(statSync(path).mode & 0o777, 0o600)
        const data = randomBytes(3 * directAlignment - 100)
        const buffer = alignedBuffer(4 * directAlignment)
        buffer.set(data.subarray(0, 2 * directAlignment))
        yield* file.writeAt(buffer.subarray(0, 2 * directAlignment), 0)
        buffer.fill(0)
        buffer.set(data.subarray(2 * directAlignment))
        yield* file.writeAt(buffer.subarray(0, directAlignment), 2 * directAlignment)
        yield* file.truncate(data.length)
        yield* file.sync
        assert.isTrue(readFileSync(path).equals(data))
      }),
    ),
  )

  it.effect("a direct file really bypasses the cache: the kernel refuses an unaligned write, and the error names the file", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { path, file } = yield* created(true)
        const error = failureOf(yield* Effect.exit(file.writeAt(alignedBuffer(directAlignment).subarray(0, 100), 0)))
        assert.strictEqual(error._tag, "BackupFileError")
        assert.match(error.message, new RegExp(`^cannot write ${path}: EINVAL: .*\\(the filesystem refused a direct write: run with --no-direct-io\\)$`))
      }),
    ),
  )

  it.effect("falls back to a buffered file when the filesystem refuses O_DIRECT (after creating the file, as Linux does)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const path = join(dir, "snap.db.part")
        const flagsSeen: Array<number> = []
        const refusingDirect = async (p: string, flags: number, mode: number) => {
          flagsSeen.push(flags)
          if ((flags & constants.O_DIRECT) !== 0) {
            writeFileSync(p, "", { mode })
            throw Object.assign(new Error("EINVAL: invalid argument, open"), { code: "EINVAL" })
          }
          return open(p, flags, mode)
        }
        const file = yield* createSnapshotFile(path, { direct: true, open: refusingDirect })
        assert.isFalse(file.direct)
        assert.strictEqual(flagsSeen.length, 2)
        yield* file.writeAt(Buffer.from("not aligned at all"), 0)
        yield* file.sync
        assert.strictEqual(readFileSync(path, "utf8"), "not aligned at all")
      }),
    ),
  )

  it.effect("when the buffered retry fails too, the file the refused attempt created is removed", () =>
    Effect.gen(function* () {
      const path = join(dir, "snap.db.part")
      const refusingBoth = async (p: string, flags: number, mode: number) => {
        if ((flags & constants.O_DIRECT) !== 0) {
          writeFileSync(p, "", { mode })
          throw Object.assign(new Error("EINVAL: invalid argument, open"), { code: "EINVAL" })
        }
        throw Object.assign(new Error("EMFILE: too many open files, open"), { code: "EMFILE" })
      }
      const error = failureOf(yield* Effect.exit(Effect.scoped(createSnapshotFile(path, { direct: true, open: refusingBoth }))))
      assert.strictEqual(error.message, `cannot create ${path}: EMFILE: this process has too many open files: raise its limit (ulimit -n), then run again`)
      assert.isFalse(existsSync(path))
    }),
  )

  it.effect("never opens an existing file: another run's part file is left as it was", () =>
    Effect.gen(function* () {
      const path = join(dir, "snap.db.part")
      writeFileSync(path, "another run")
      for (const direct of [true, false]) {
        const error = failureOf(yield* Effect.exit(Effect.scoped(createSnapshotFile(path, { direct }))))
        assert.strictEqual(error._tag, "BackupFileError")
        assert.match(error.message, new RegExp(`^cannot create ${path}: EEXIST`))
      }
      assert.strictEqual(readFileSync(path, "utf8"), "another run")
    }),
  )

  it.effect("other open errors are not mistaken for a refusal of O_DIRECT", () =>
    Effect.gen(function* () {
      const path = join(dir, "missing-dir", "snap.db.part")
      const error = failureOf(yield* Effect.exit(Effect.scoped(createSnapshotFile(path, { direct: true }))))
      assert.match(error.message, new RegExp(`^cannot create ${path}: ENOENT`))
    }),
  )

  it.effect("without direct I/O the file is buffered and takes writes of any size", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { path, file } = yield* created(false)
        assert.isFalse(file.direct)
        yield* file.writeAt(Buffer.from("abc"), 0)
        yield* file.writeAt(Buffer.from("de"), 3)
        assert.strictEqual(readFileSync(path, "utf8"), "abcde")
      }),
    ),
  )
})
