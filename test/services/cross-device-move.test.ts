/**
 * A move between two file systems (the test's temporary directory and /dev/shm, a tmpfs): the
 * tree arrives whole with its modes, links and times; what cannot be copied is refused with
 * nothing moved; and a process killed at any moment of the move leaves either the original in
 * place or the complete copy at its destination, never neither, with nothing else but a part or a
 * trash that may be removed.
 */
import { spawn } from "node:child_process"
import { execFileSync } from "node:child_process"
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { movePart, moveTrash } from "../../src/services/cross-device-move.ts"
import { DurableFiles } from "../../src/services/durable-files.ts"
import { seededRandom } from "../support/kill-loop.ts"
import { tempDir } from "../support/temp-dir.ts"

const other = mkdtempSync("/dev/shm/cb-cross-move-")
afterAll(() => rmSync(other, { recursive: true, force: true }))

const move = (from: string, to: string, acrossFileSystems = true) =>
  Effect.runPromiseExit(DurableFiles.use((f) => f.move(from, to, { acrossFileSystems })).pipe(Effect.provide(DurableFiles.live)))

/** Every entry under `dir`: relative path -> kind, mode and content (or link target). */
const tree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const visit = (path: string, rel: string) => {
    const s = lstatSync(path)
    const mode = (s.mode & 0o7777).toString(8)
    if (s.isDirectory()) {
      out[rel] = `dir ${mode}`
      for (const name of readdirSync(path)) visit(join(path, name), rel === "" ? name : `${rel}/${name}`)
    } else if (s.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(path)}`
    else if (s.isFIFO()) out[rel] = `fifo ${mode}`
    else out[rel] = `file ${mode} ${readFileSync(path).toString("base64")}`
  }
  visit(dir, "")
  return out
}

/** An old etcd member: directories, files of several modes and sizes, a link. */
const makeMember = (at: string, walBytes = 4096) => {
  mkdirSync(join(at, "snap"), { recursive: true, mode: 0o700 })
  mkdirSync(join(at, "wal"), { mode: 0o700 })
  writeFileSync(join(at, "snap", "db"), "old etcd data\n", { mode: 0o600 })
  for (let i = 0; i < 8; i++) writeFileSync(join(at, "wal", `000${i}.wal`), Buffer.alloc(walBytes, i), { mode: 0o600 })
  writeFileSync(join(at, "wal", "readable"), "x", { mode: 0o644 })
  symlinkSync("snap/db", join(at, "db-link"))
  utimesSync(join(at, "snap", "db"), new Date("2024-05-01T10:00:00Z"), new Date("2024-05-01T10:00:00Z"))
}

describe("moving between file systems", () => {
  it("is needed here: the temporary directory and /dev/shm are two file systems, where a rename fails with EXDEV", async () => {
    const dir = tempDir("cross-move-plain")
    expect(statSync(dir).dev).not.toBe(statSync(other).dev)
    makeMember(join(dir, "member"))
    const exit = await move(join(dir, "member"), join(other, "plain"), false)
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("EXDEV")
    expect(existsSync(join(dir, "member", "snap", "db"))).toBe(true)
  })

  it("moves a whole tree, modes, links and times kept, and leaves no part or trash", async () => {
    const dir = tempDir("cross-move")
    const from = join(dir, "member")
    makeMember(from)
    const before = tree(from)
    const to = join(other, "member-moved")
    expect(Exit.isSuccess(await move(from, to))).toBe(true)
    expect(tree(to)).toEqual(before)
    expect(statSync(join(to, "snap", "db")).mtime.toISOString()).toBe("2024-05-01T10:00:00.000Z")
    expect(existsSync(from)).toBe(false)
    expect(readdirSync(dir)).toEqual([])
    expect(readdirSync(other).filter((n) => n.startsWith(".cluster-backup-"))).toEqual([])
    // And back (the undo of a restore step), a single file too.
    expect(Exit.isSuccess(await move(to, from))).toBe(true)
    expect(tree(from)).toEqual(before)
    writeFileSync(join(dir, "revision.json"), "{}\n", { mode: 0o600 })
    expect(Exit.isSuccess(await move(join(dir, "revision.json"), join(other, "revision.json")))).toBe(true)
    expect(readFileSync(join(other, "revision.json"), "utf8")).toBe("{}\n")
  })

  it("refuses a FIFO inside the tree and a destination that exists, with nothing moved and no part left", async () => {
    const dir = tempDir("cross-move-refused")
    const from = join(dir, "member")
    makeMember(from)
    execFileSync("mkfifo", [join(from, "wal", "fifo")])
    const before = tree(from)
    const fifo = await move(from, join(other, "member-fifo"))
    expect(Exit.isFailure(fifo) && JSON.stringify(fifo.cause)).toContain("a FIFO, a device or a socket")
    expect(tree(from)).toEqual(before)
    expect(existsSync(join(other, "member-fifo"))).toBe(false)
    expect(existsSync(movePart(join(other, "member-fifo")))).toBe(false)

    rmSync(join(from, "wal", "fifo"))
    mkdirSync(join(other, "taken"))
    const taken = await move(from, join(other, "taken"))
    expect(Exit.isFailure(taken) && JSON.stringify(taken.cause)).toContain("already exists")
    expect(existsSync(join(from, "snap", "db"))).toBe(true)
  })

  it("replaces a stale part and a stale trash a killed move left", async () => {
    const dir = tempDir("cross-move-stale")
    const from = join(dir, "member")
    makeMember(from)
    const before = tree(from)
    const to = join(other, "member-stale")
    mkdirSync(join(movePart(to), "snap"), { recursive: true })
    writeFileSync(join(movePart(to), "snap", "db"), "half")
    mkdirSync(moveTrash(from))
    expect(Exit.isSuccess(await move(from, to))).toBe(true)
    expect(tree(to)).toEqual(before)
    expect(existsSync(movePart(to))).toBe(false)
    expect(existsSync(moveTrash(from))).toBe(false)
  })

  // The move runs in a child process, killed with SIGKILL at seeded random points; after each kill
  // the original is whole in place or the copy whole at its destination. Then the leftovers are
  // removed (as the restore's sweep does) and the move is run to its end.
  // Ctrl-C interrupts the restore: its rollback and its sweep of parts and trash run as soon as the interruption returns.
  it("interrupted, returns only once the move has finished: no copy goes on under a part that the sweep removes", async () => {
    const dir = tempDir("cross-move-interrupted")
    const from = join(dir, "member")
    makeMember(from, 4 * 1024 * 1024)
    const before = tree(from)
    const to = join(other, "member-interrupted")
    const fiber = Effect.runFork(DurableFiles.use((f) => f.move(from, to, { acrossFileSystems: true })).pipe(Effect.provide(DurableFiles.live)))
    while (!existsSync(movePart(to))) await new Promise((resolve) => setTimeout(resolve, 1))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(existsSync(movePart(to))).toBe(false)
    expect(existsSync(from)).toBe(false)
    expect(tree(to)).toEqual(before)
  })

  it("killed at any moment, leaves the original whole or the copy whole, never neither", async () => {
    const random = seededRandom(Number(process.env.KILL_LOOP_SEED ?? 7))
    const script = `
      import { Effect } from "effect"
      import { DurableFiles } from ${JSON.stringify(join(import.meta.dirname, "../../src/services/durable-files.ts"))}
      const [from, to] = process.argv.slice(1)
      process.stdout.write("started\\n")
      await Effect.runPromise(DurableFiles.use((f) => f.move(from, to, { acrossFileSystems: true })).pipe(Effect.provide(DurableFiles.live)))
      process.stdout.write("moved\\n")
    `
    const outcomes: Array<string> = []
    // Round 0 is not killed: it times the whole move, so that the kill points of the others fall anywhere in it.
    let wholeMoveMs = 0
    for (let i = 0; i < 6; i++) {
      const dir = tempDir(`cross-move-kill-${i}`)
      const from = join(dir, "member")
      makeMember(from, 2 * 1024 * 1024)
      const before = tree(from)
      const to = join(other, `member-kill-${i}`)
      const delay = i === 0 ? undefined : Math.round(random() * wholeMoveMs * 1.1)
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, from, to], { stdio: ["ignore", "pipe", "inherit"] })
      const closed = new Promise((r) => child.on("close", r))
      let out = ""
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d
          if (out.includes("started")) resolve()
        })
        child.on("close", (code) => reject(new Error(`the mover exited (${code}) before it started: ${out}`)))
      })
      const started = Date.now()
      if (delay === undefined) {
        await closed
        expect(out).toContain("moved")
        wholeMoveMs = Date.now() - started
      } else {
        await new Promise((r) => setTimeout(r, delay))
        child.kill("SIGKILL")
        await closed
      }
      const original = existsSync(from)
      const copied = existsSync(to)
      outcomes.push(`${delay ?? `not killed, ${wholeMoveMs}`} ms: ${original ? "original" : ""}${original && copied ? "+" : ""}${copied ? "copy" : ""}`)
      const context = outcomes.join(", ")
      expect(original || copied, context).toBe(true)
      if (copied) expect(tree(to), context).toEqual(before)
      if (original && !copied) expect(tree(from), context).toEqual(before)
      // The sweep's part: a part and a trash are never the only copy.
      rmSync(movePart(to), { recursive: true, force: true })
      rmSync(moveTrash(from), { recursive: true, force: true })
      if (original && !copied) expect(Exit.isSuccess(await move(from, to)), context).toBe(true)
      expect(tree(to), context).toEqual(before)
    }
    console.log(`cross-device move kill loop: ${outcomes.join(", ")}`)
    // Each round starts a Node process (about 2 s on a quiet machine, several times that beside the whole suite).
  }, 300_000)
})
