import { createHash, randomBytes } from "node:crypto"
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { describeFileSystemFailure } from "../../../src/services/file-system-error.ts"
import { makeDirectoryStore } from "../../../src/services/store/directory-store.ts"
import { settled } from "../../support/eventually.ts"
import { repoRoot } from "../../support/tools.ts"

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const fresh = () => {
  const base = mkdtempSync(join(tmpdir(), "directory-store-"))
  const root = join(base, "store")
  mkdirSync(root)
  return { base, root, store: makeDirectoryStore(root) }
}
const run = Effect.runPromise
const failure = async (e: Effect.Effect<unknown, unknown>) => JSON.stringify(await Effect.runPromiseExit(e))

describe("the directory store", () => {
  it("names its backups by the directory's absolute path, with no slash doubled (url)", () => {
    expect(makeDirectoryStore("/mnt/backups/").url).toBe("/mnt/backups")
    expect(makeDirectoryStore("/").url).toBe("")
    expect(makeDirectoryStore("backups").url).toBe(join(process.cwd(), "backups"))
  })

  it("reports the progress of a file copied in and out: the key, the bytes done so far (growing, ending at the size), the size", async () => {
    const base = mkdtempSync(join(tmpdir(), "directory-store-"))
    const root = join(base, "store")
    mkdirSync(root)
    const progress: Array<[string, number, number]> = []
    const store = makeDirectoryStore(root, { onProgress: (key, done, total) => void progress.push([key, done, total]) })
    const data = randomBytes(3 * 1024 * 1024 + 17)
    writeFileSync(join(base, "snap.db"), data)
    const expectProgress = (calls: ReadonlyArray<[string, number, number]>) => {
      expect(calls.length).toBeGreaterThan(1)
      expect(new Set(calls.map(([k, , t]) => `${k} ${t}`))).toEqual(new Set([`c/b1/snap.db ${data.length}`]))
      const done = calls.map(([, d]) => d)
      expect(done).toEqual([...new Set(done)].sort((x, y) => x - y))
      expect(done.at(-1)).toBe(data.length)
    }
    await run(store.putFile("c/b1/snap.db", join(base, "snap.db"), { sha256: sha256(data) }))
    expectProgress(progress.splice(0))
    await run(store.getFile("c/b1/snap.db", join(base, "back.db")))
    expectProgress(progress.splice(0))
    expect(readFileSync(join(base, "back.db")).equals(data)).toBe(true)
  })

  it("round-trips files byte for byte through <prefix>/<id>/<file>, with no .part left", async () => {
    const { base, root, store } = fresh()
    const data = randomBytes(3 * 1024 * 1024 + 17)
    writeFileSync(join(base, "snap.db"), data)
    expect(await run(store.putFile("c/b1/snap.db", join(base, "snap.db"), { sha256: sha256(data) }))).toEqual({
      key: "c/b1/snap.db",
      size: data.length,
      sha256: sha256(data),
    })
    await run(store.putBytes("c/b1/backup-manifest.json", new TextEncoder().encode("{}\n")))
    expect(readdirSync(join(root, "c", "b1")).sort()).toEqual(["backup-manifest.json", "snap.db"])
    const got = await run(store.getFile("c/b1/snap.db", join(base, "back.db")))
    expect(got.sha256).toBe(sha256(data))
    expect(readFileSync(join(base, "back.db")).equals(data)).toBe(true)
    expect(existsSync(join(base, "back.db.part"))).toBe(false)
    expect(await run(store.head("c/b1/snap.db"))).toMatchObject({ size: data.length })
    expect(await run(store.head("c/b1/none"))).toBeUndefined()
  })

  it("getStart reads an object's first bytes only, fewer when it is shorter; a missing object is StoreObjectMissing", async () => {
    const { store } = fresh()
    const data = randomBytes(100_000)
    await run(store.putBytes("c/b1/snap.db.age", data))
    expect(Buffer.from(await run(store.getStart("c/b1/snap.db.age", 1000))).equals(data.subarray(0, 1000))).toBe(true)
    expect(Buffer.from(await run(store.getStart("c/b1/snap.db.age", 200_000))).equals(data)).toBe(true)
    expect(await failure(store.getStart("c/b1/none", 10))).toContain("StoreObjectMissing")
  })

  // list, latest and prune read every backup's manifest: a FIFO in its place would hang them, a huge file exhaust memory.
  it("getBytes reads a regular file of a manifest's size at most, getStart a regular file: a FIFO or a larger file is refused at once, a missing one is StoreObjectMissing", async () => {
    const { root, store } = fresh()
    mkdirSync(join(root, "c", "b1"), { recursive: true })
    expect(spawnSync("mkfifo", [join(root, "c", "b1", "backup-manifest.json")]).status).toBe(0)
    expect(await run(Effect.flip(store.getBytes("c/b1/backup-manifest.json")))).toMatchObject({ _tag: "BackupFileRefused", reason: "not-regular" })
    // getStart reads an encrypted file's header: opened to read, a FIFO would wait for a writer.
    expect(await run(Effect.flip(store.getStart("c/b1/backup-manifest.json", 64)))).toMatchObject({ _tag: "BackupFileRefused", reason: "not-regular" })
    mkdirSync(join(root, "c", "b2"))
    const large = join(root, "c", "b2", "backup-manifest.json")
    expect(spawnSync("truncate", ["-s", String(64 * 1024 * 1024 + 1), large]).status).toBe(0)
    expect(await run(Effect.flip(store.getBytes("c/b2/backup-manifest.json")))).toMatchObject({
      _tag: "BackupFileRefused",
      reason: "too-large",
      maxBytes: 64 * 1024 * 1024,
    })
    expect(await run(Effect.flip(store.getBytes("c/b3/backup-manifest.json")))).toMatchObject({ _tag: "StoreObjectMissing", key: "c/b3/backup-manifest.json" })
    writeFileSync(large, "{}\n")
    expect(new TextDecoder().decode(await run(store.getBytes("c/b2/backup-manifest.json")))).toBe("{}\n")
  })

  it("lists in key order without .part files, which are pending uploads until aborted", async () => {
    const { root, store } = fresh()
    for (const k of ["c/b/2", "c/a/1", "c/b/1"]) await run(store.putBytes(k, new Uint8Array([1])))
    writeFileSync(join(root, "c", "b", "3.part"), "half")
    const page = await run(store.listPage("c/"))
    expect(page.objects.map((o) => o.key)).toEqual(["c/a/1", "c/b/1", "c/b/2"])
    expect(page.next).toBeUndefined()
    const pending = await run(store.pendingUploads("c/"))
    expect(pending.map((u) => u.key)).toEqual(["c/b/3"])
    await run(store.abortUpload(pending[0]!))
    expect(existsSync(join(root, "c", "b", "3.part"))).toBe(false)
    await run(store.remove("c/a/1"))
    expect(existsSync(join(root, "c", "a"))).toBe(false)
  })

  it("a writer refreshes its part while it copies, so a pause does not make it look dead", async () => {
    const base = mkdtempSync(join(tmpdir(), "directory-store-"))
    mkdirSync(join(base, "store"))
    const store = makeDirectoryStore(join(base, "store"), { refreshEveryMs: 1 })
    writeFileSync(join(base, "snap.db"), randomBytes(64 * 1024 * 1024))
    const before = Date.now()
    await run(store.putFile("c/b1/snap.db", join(base, "snap.db")))
    const after = Date.now()
    // Writes move the modification time only; the refresh moves the access time too, which creating the part set.
    expect(statSync(join(base, "store", "c", "b1", "snap.db")).atimeMs).toBeGreaterThan(before + (after - before) / 2)
  })

  // Two uploads of one file at once (one backup uploaded from two places): with one shared <file>.part, the second's start
  // replaced the first's part, and the first renamed the second's unfinished file into place, reporting its own sha256.
  it("two puts of one key at once: each renames only what it wrote; the one whose part the other replaced fails, saying so", async () => {
    const { base, root, store } = fresh()
    // The second is four times the first, so the first ends while the second is still writing.
    writeFileSync(join(base, "first"), randomBytes(64 * 1024 * 1024))
    writeFileSync(join(base, "second"), "")
    truncateSync(join(base, "second"), 256 * 1024 * 1024)
    const second = readFileSync(join(base, "second"))
    const a = Effect.runPromiseExit(store.putFile("c/id/f", join(base, "first")))
    const dir = join(root, "c", "id")
    const partSize = () =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((n) => n.endsWith(".part"))
            .map((n) => statSync(join(dir, n)).size)
        : []
    await settled(partSize, (sizes) => sizes.some((n) => n > 4 * 1024 * 1024), { ms: 30_000, everyMs: 1 })
    const b = Effect.runPromiseExit(store.putFile("c/id/f", join(base, "second")))
    const [ea, eb] = await Promise.all([a, b])
    // The file in place is whole and the put that wrote it succeeded (before, the first renamed the second's unfinished
    // part and succeeded, the second failed). The second began after the first's part was under way: it stood.
    const stored = sha256(readFileSync(join(dir, "f")))
    expect(stored).toBe(sha256(second))
    expect(Exit.isSuccess(eb) && eb.value.sha256).toBe(stored)
    // Unless the first was done before the second began, it failed, saying why.
    if (Exit.isFailure(ea))
      expect(JSON.stringify(ea)).toMatch(/was removed while it was written( \(stopped after \d+ bytes\))?: another upload of c\/id\/f began/)
    expect(readdirSync(dir)).toEqual(["f"])
  })

  // It wrote on into the unlinked file to the end: room on the volume nobody could see or free, until its rename failed.
  it("a part removed while it is written: the writer stops at its next refresh, not at the end, and closes its source", async () => {
    const base = mkdtempSync(join(tmpdir(), "directory-store-"))
    mkdirSync(join(base, "store"))
    const store = makeDirectoryStore(join(base, "store"), { refreshEveryMs: 5 })
    const source = join(base, "snap.db")
    writeFileSync(source, "")
    truncateSync(source, 512 * 1024 * 1024)
    const put = Effect.runPromiseExit(store.putFile("c/b1/snap.db", source))
    const dir = join(base, "store", "c", "b1")
    const parts = await settled(
      () => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".part")) : []),
      (names) => names.length > 0,
      { ms: 30_000, everyMs: 1 },
    )
    rmSync(join(dir, parts[0]!))
    const exit = await put
    const written = /was removed while it was written \(stopped after (\d+) bytes\)/.exec(JSON.stringify(exit))
    expect(written, JSON.stringify(exit)).not.toBeNull()
    expect(Number(written![1])).toBeLessThan(512 * 1024 * 1024)
    const open = readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        return [readlinkSync(join("/proc/self/fd", fd))]
      } catch {
        return []
      }
    })
    expect(open.filter((target) => target.startsWith(base))).toEqual([])
    expect(readdirSync(dir)).toEqual([])
  })

  it("a dead writer's part: its last change and when that shows the writer gone; aborted, its directory goes with it", async () => {
    const { root, store } = fresh()
    mkdirSync(join(root, "c", "lost"), { recursive: true })
    writeFileSync(join(root, "c", "lost", "snap.db.part"), "half")
    const lastWritten = new Date("2026-01-02T03:04:05Z")
    utimesSync(join(root, "c", "lost", "snap.db.part"), lastWritten, lastWritten)
    const [pending] = await run(store.pendingUploads("c/"))
    expect(pending).toEqual({
      key: "c/lost/snap.db",
      uploadId: "c/lost/snap.db.part",
      initiatedAt: lastWritten.getTime(),
      bytes: 4,
      abandonedAfterMs: 15 * 60_000,
      lastActiveAt: lastWritten.getTime(),
    })
    expect(await run(store.uploadActiveAt(pending!))).toBe(lastWritten.getTime())
    await run(store.abortUpload(pending!))
    expect(await run(store.uploadActiveAt(pending!))).toBeUndefined()
    expect(readdirSync(join(root, "c"))).toEqual([])
  })

  // prune listed a part unchanged for 15 minutes, and its writer (frozen that long) refreshed it before the removal.
  it("a part refreshed since it was listed is not aborted: its writer is at work; one unchanged, or gone, is", async () => {
    const { root, store } = fresh()
    mkdirSync(join(root, "c", "b"), { recursive: true })
    const part = join(root, "c", "b", "snap.db.part")
    writeFileSync(part, "half")
    const listedAt = new Date("2026-01-02T03:04:05Z")
    utimesSync(part, listedAt, listedAt)
    const [pending] = await run(store.pendingUploads("c/"))
    const refreshed = new Date(listedAt.getTime() + 30_000)
    utimesSync(part, refreshed, refreshed)
    expect(await run(store.abortUpload(pending!))).toBe(false)
    expect(existsSync(part)).toBe(true)
    const [again] = await run(store.pendingUploads("c/"))
    expect(await run(store.abortUpload(again!))).toBe(true)
    expect(existsSync(join(root, "c", "b"))).toBe(false)
    expect(await run(store.abortUpload(again!))).toBe(true)
  })

  it("empty folders under a prefix, with their last change; one is removed only while it is still empty", async () => {
    const { root, store } = fresh()
    for (const d of ["c/left", "c/full", "c/deep/er", "other/empty"]) mkdirSync(join(root, ...d.split("/")), { recursive: true })
    writeFileSync(join(root, "c", "full", "f"), "x")
    const when = new Date("2026-01-02T03:04:05Z")
    utimesSync(join(root, "c", "left"), when, when)
    expect(await run(store.emptyFolders("c/"))).toEqual([
      { key: "c/deep/er", modifiedAt: expect.any(Number) },
      { key: "c/left", modifiedAt: when.getTime() },
    ])
    expect(await run(store.emptyFolders("c/left/"))).toEqual([])
    expect(await run(store.removeEmptyFolder("c/full"))).toBe(false)
    expect(readdirSync(join(root, "c", "full"))).toEqual(["f"])
    expect(await run(store.removeEmptyFolder("c/left"))).toBe(true)
    expect(await run(store.removeEmptyFolder("c/left"))).toBe(false)
    expect(readdirSync(join(root, "c")).sort()).toEqual(["deep", "full"])
    expect(await failure(store.removeEmptyFolder("c/../other"))).toMatch(/not a relative path of plain segments/)
    expect(existsSync(join(root, "other", "empty"))).toBe(true)
  })

  it("a full volume: StoreLocalIoFailed with ENOSPC and what to do; nothing stored, no .part left", () => {
    // A real ENOSPC: a 64 KiB tmpfs in the child's own mount namespace, the store's root on it.
    const script = `
      import { mkdirSync, readdirSync } from "node:fs"
      import { Effect } from "effect"
      const { makeDirectoryStore } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, "src", "services", "store", "directory-store.ts")).href)})
      const root = process.argv[1]
      mkdirSync(root + "/c/b1", { recursive: true })
      const exit = await Effect.runPromiseExit(makeDirectoryStore(root).putBytes("c/b1/snap.db", new Uint8Array(1 << 20)))
      const error = exit._tag === "Failure" ? exit.cause.reasons[0].error : undefined
      console.log(JSON.stringify({ error: error && { ...error, message: error.message }, files: readdirSync(root + "/c/b1") }))
    `
    const mount = 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && cd "$1" && exec "$2" --input-type=module -e "$3" "$d"'
    const run = spawnSync("unshare", ["--map-root-user", "--mount", "sh", "-c", mount, "sh", repoRoot, process.execPath, script], {
      encoding: "utf8",
      timeout: 60_000,
    })
    expect(run.status, run.stderr).toBe(0)
    const { error, files } = JSON.parse(run.stdout) as { error?: { _tag: string; code?: string; path: string; message: string }; files: Array<string> }
    expect(error?._tag).toBe("StoreLocalIoFailed")
    expect(error?.code).toBe("ENOSPC")
    expect(error?.path).toMatch(/\/c\/b1\/snap\.db\.[0-9a-f]{16}\.part$/)
    // The one errno mapper's words (file-system-error.ts), not a table of the store's own.
    expect(error?.message).toBe(describeFileSystemFailure("write", error!.path, { code: "ENOSPC" }).message)
    expect(files).toEqual([])
  })

  it("a part it cannot create (its name too long for the file system): the write's failure, never an unhandled rejection; a directory named as a part is none", async () => {
    const { root, base, store } = fresh()
    mkdirSync(join(root, "c", "b1", "snap.db.part"), { recursive: true })
    writeFileSync(join(base, "snap.db"), "snapshot bytes")
    const unhandled: Array<unknown> = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on("unhandledRejection", onUnhandled)
    const long = `c/b1/${"s".repeat(250)}`
    try {
      for (const put of [store.putFile(long, join(base, "snap.db")), store.putBytes(long, randomBytes(64))]) {
        const message = await failure(put)
        expect(message).toMatch(/StoreLocalIoFailed/)
        expect(message).toMatch(/ENAMETOOLONG/)
      }
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      process.off("unhandledRejection", onUnhandled)
    }
    expect(unhandled).toEqual([])
    // An earlier version's part name, but a directory: not a part, left alone.
    await run(store.putFile("c/b1/snap.db", join(base, "snap.db")))
    expect(readdirSync(join(root, "c", "b1")).sort()).toEqual(["snap.db", "snap.db.part"])
  })

  it("a directory it cannot read (a volume root's lost+found, as a user other than its owner): skipped with a warning, the backups still listed", async () => {
    const { base, root, store } = fresh()
    await run(store.putBytes("2026-01-01_000000/backup-manifest.json", randomBytes(16)))
    mkdirSync(join(root, "lost+found"), { mode: 0o700 })
    // The store belongs to uid 65534, lost+found to root (0700), as on a volume mounted without fsGroup.
    chmodSync(base, 0o755)
    for (const path of [root, join(root, "2026-01-01_000000"), join(root, "2026-01-01_000000", "backup-manifest.json")]) chownSync(path, 65534, 65534)
    const script = [
      'import { Effect } from "effect"',
      `import { makeDirectoryStore } from ${JSON.stringify(join(repoRoot, "src/services/store/directory-store.ts"))}`,
      `const page = await Effect.runPromise(makeDirectoryStore(${JSON.stringify(root)}).listPage(""))`,
      "console.log(JSON.stringify(page.objects.map((o) => o.key)))",
    ].join("\n")
    const child = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], {
      cwd: repoRoot,
      encoding: "utf8",
    })
    expect(child.status, child.stderr).toBe(0)
    expect(child.stdout).toContain(JSON.stringify(["2026-01-01_000000/backup-manifest.json"]))
    expect(`${child.stdout}${child.stderr}`).toMatch(/cannot read \S*lost\+found \(EACCES\): skipped/)
  })

  it("a missing store directory or a file of another sha256: a clear error and nothing stored", async () => {
    const { base, root, store } = fresh()
    expect(await failure(makeDirectoryStore(join(base, "absent")).putBytes("c/x", new Uint8Array([1])))).toMatch(
      /StoreBucketMissing.*does not exist.*mount the volume/,
    )
    writeFileSync(join(base, "f"), "content")
    expect(await failure(store.putFile("c/b/f", join(base, "f"), { sha256: "0".repeat(64) }))).toMatch(/StoreIntegrityFailed.*nothing stored under c\/b\/f/)
    expect(readdirSync(join(root, "c", "b"))).toEqual([])
    expect(await failure(store.putBytes("c/../x", new Uint8Array([1])))).toMatch(/not a relative path of plain segments/)
  })
})
