import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { makeDirectories, writeFileAtomic } from "../../src/services/atomic-files.ts"
import { repoRoot } from "../support/tools.ts"

const atomicFiles = pathToFileURL(join(repoRoot, "src", "services", "atomic-files.ts")).href

/**
 * Runs writeFileAtomic (how the manifest is written) in a child, in its own mount namespace, on a
 * 64 KiB tmpfs that `fill` bytes already occupy: a real ENOSPC from the kernel through effect's
 * FileSystem. Prints the failure as JSON and what the directory holds afterwards.
 */
const writeOnFullTmpfs = (fill: number, size: number) => {
  const script = `
    import { Effect } from "effect"
    import { NodeServices } from "@effect/platform-node"
    import { writeFileSync, readdirSync } from "node:fs"
    const { writeFileAtomic } = await import(${JSON.stringify(atomicFiles)})
    const dir = process.argv[1]
    writeFileSync(dir + "/backup-manifest.json", "the old manifest")
    writeFileSync(dir + "/filler", Buffer.alloc(${fill}))
    const exit = await Effect.runPromiseExit(writeFileAtomic(dir + "/backup-manifest.json", new Uint8Array(${size})).pipe(Effect.provide(NodeServices.layer)))
    const error = exit._tag === "Failure" ? exit.cause.reasons[0].error : undefined
    console.log(JSON.stringify({ error: error && { ...error, message: error.message }, files: readdirSync(dir).sort() }))
  `
  const mount = 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && cd "$1" && exec "$2" --input-type=module -e "$3" "$d"'
  const run = spawnSync("unshare", ["--map-root-user", "--mount", "sh", "-c", mount, "sh", repoRoot, process.execPath, script], {
    encoding: "utf8",
    timeout: 60_000,
  })
  assert.strictEqual(run.status, 0, run.stderr)
  return JSON.parse(run.stdout) as { error?: { _tag: string; code?: string; path: string; operation: string; message: string }; files: Array<string> }
}

describe("atomic file writes", () => {
  it("a full volume fails the manifest write with ENOSPC, the path and what to do, and leaves the old file and no temp file", () => {
    const { error, files } = writeOnFullTmpfs(48 * 1024, 64 * 1024)
    assert.isDefined(error)
    assert.strictEqual(error._tag, "BackupFileError")
    assert.strictEqual(error.code, "ENOSPC")
    assert.match(error.path, /\/backup-manifest\.json$/)
    assert.strictEqual(
      error.message,
      `cannot write ${error.path}: ENOSPC: the volume holding ${error.path} is full: free space or give it more room, then run again`,
    )
    assert.deepStrictEqual(files, ["backup-manifest.json", "filler"])
  })

  it("the same write with room succeeds (the tmpfs above really is what fails it)", () => {
    const { error, files } = writeOnFullTmpfs(0, 16 * 1024)
    assert.isUndefined(error)
    assert.deepStrictEqual(files, ["backup-manifest.json", "filler"])
  })
})

describe("making directories", () => {
  it.effect("refuses a directory under /proc at once (Node's recursive mkdir spins there forever)", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const exit = yield* Effect.exit(makeDirectories("/proc/nope/deeper"))
      assert.isBelow(Date.now() - started, 2000)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons[0]!
        assert.strictEqual(error._tag, "Fail")
        if (error._tag === "Fail") {
          assert.strictEqual(error.error.code, "ENOENT")
          assert.strictEqual(error.error.path, "/proc/nope")
          assert.include(error.error.message, "refuses new directories")
        }
      }
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("creates every missing level with the mode, and accepts what exists", () =>
    Effect.gen(function* () {
      const base = mkdtempSync(join(tmpdir(), "cb-mkdirs-"))
      yield* makeDirectories(join(base, "a", "b", "c"), 0o700)
      yield* makeDirectories(join(base, "a", "b", "c"), 0o700)
      for (const dir of ["a", "a/b", "a/b/c"]) assert.strictEqual(statSync(join(base, dir)).mode & 0o777, 0o700)
      assert.deepStrictEqual(readdirSync(join(base, "a", "b")), ["c"])
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("names a file in the way", () =>
    Effect.gen(function* () {
      const base = mkdtempSync(join(tmpdir(), "cb-mkdirs-"))
      writeFileSync(join(base, "file"), "")
      const error = yield* Effect.flip(makeDirectories(join(base, "file", "sub")))
      assert.strictEqual(error.code, "ENOTDIR")
      assert.strictEqual(
        error.message,
        `cannot create directory ${join(base, "file", "sub")}: ${join(base, "file")} exists and is not a directory: check the path`,
      )
    }).pipe(Effect.provide(NodeServices.layer)),
  )

  it.effect("writeFileAtomic writes the bytes with mode 0600", () =>
    Effect.gen(function* () {
      const base = mkdtempSync(join(tmpdir(), "cb-atomic-"))
      yield* writeFileAtomic(join(base, "m.json"), new TextEncoder().encode("{}"))
      assert.strictEqual(statSync(join(base, "m.json")).mode & 0o777, 0o600)
      assert.deepStrictEqual(readdirSync(base), ["m.json"])
    }).pipe(Effect.provide(NodeServices.layer)),
  )
})
