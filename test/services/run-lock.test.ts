import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { beforeEach } from "vitest"
import { acquireRunLock, inspectRunLock, type RunLockOwner } from "../../src/services/run-lock.ts"
import { tempDir } from "../support/temp-dir.ts"

let dir: string
let lock: string
beforeEach(() => {
  dir = tempDir("run-lock")
  lock = join(dir, "run.lock")
})

const owner = (fields: Partial<RunLockOwner>): RunLockOwner => ({
  pid: process.pid,
  startTicks: null,
  host: hostname(),
  command: "backup-init",
  startedAt: "2026-12-02T00:00:00.000Z",
  ...fields,
})

/** A PID that is certainly not running: a child that has exited and been reaped. */
const deadPid = () =>
  new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", () => resolve(child.pid!))
  })

describe("acquireRunLock", () => {
  it.effect("takes a free lock, records this process, and removes it when the scope closes", () =>
    Effect.gen(function* () {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { replaced } = yield* acquireRunLock(lock, "backup-init")
          assert.strictEqual(replaced._tag, "Free")
          const written = JSON.parse(readFileSync(lock, "utf8")) as RunLockOwner
          assert.strictEqual(written.pid, process.pid)
          assert.strictEqual(written.command, "backup-init")
          assert.isString(written.startTicks)
          assert.strictEqual((yield* inspectRunLock(lock))._tag, "Held")
        }),
      )
      assert.isFalse(existsSync(lock))
      assert.deepStrictEqual(readdirSync(dir), [])
    }),
  )

  it.effect("refuses while a live run holds it, naming the owner and what to do", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(lock, "prune")
          return yield* Effect.exit(Effect.scoped(acquireRunLock(lock, "prune")))
        }),
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      const failure = (error as { error: { _tag: string; message: string } }).error
      assert.strictEqual(failure._tag, "RunLockHeld")
      assert.include(failure.message, `PID ${process.pid}`)
      assert.include(failure.message, "wait for it to finish")
    }),
  )

  it.effect("replaces the lock of a run that is gone, and says so", () =>
    Effect.gen(function* () {
      const pid = yield* Effect.promise(deadPid)
      writeFileSync(lock, JSON.stringify(owner({ pid })))
      assert.strictEqual((yield* inspectRunLock(lock))._tag, "Stale")
      const { replaced } = yield* Effect.scoped(acquireRunLock(lock, "backup-init"))
      assert.strictEqual(replaced._tag, "Stale")
      assert.strictEqual(replaced._tag === "Stale" ? replaced.owner?.pid : undefined, pid)
      assert.isFalse(existsSync(lock))
    }),
  )

  it.effect("a PID reused by another process (another start time) is not the owner", () =>
    Effect.gen(function* () {
      writeFileSync(lock, JSON.stringify(owner({ startTicks: "1" })))
      assert.strictEqual((yield* inspectRunLock(lock))._tag, "Stale")
    }),
  )

  /** A lock whose owner cannot be checked from here: held, and neither taken over nor removed. */
  const heldUnchecked = (fields: Partial<RunLockOwner>, command: string) =>
    Effect.gen(function* () {
      writeFileSync(lock, JSON.stringify(owner(fields)))
      assert.strictEqual((yield* inspectRunLock(lock))._tag, "Held")
      const exit = yield* Effect.exit(Effect.scoped(acquireRunLock(lock, command)))
      assert.isTrue(Exit.isFailure(exit))
      assert.isTrue(existsSync(lock))
    })

  it.effect("a lock from another host cannot be checked and counts as held", () => heldUnchecked({ host: `${hostname()}-elsewhere` }, "prune"))

  // Its PID, looked up here, would be another process (or none): judged by it, the lock of a live run looked stale.
  it.effect("a lock from another PID namespace on the same host (a container on the host network) cannot be checked and counts as held", () =>
    heldUnchecked({ pid: 1, startTicks: "1", pidNamespace: "pid:[1]" }, "backup-init"),
  )

  it.effect("records its PID namespace; a lock of this namespace is judged by its PID", () =>
    Effect.gen(function* () {
      const ours = readlinkSync("/proc/self/ns/pid")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(lock, "backup-init")
          assert.strictEqual((JSON.parse(readFileSync(lock, "utf8")) as RunLockOwner).pidNamespace, ours)
        }),
      )
      writeFileSync(lock, JSON.stringify(owner({ startTicks: "1", pidNamespace: ours })))
      assert.strictEqual((yield* inspectRunLock(lock))._tag, "Stale")
    }),
  )

  it.effect("an unreadable lock was not written by this code: stale", () =>
    Effect.gen(function* () {
      writeFileSync(lock, "{not json")
      assert.strictEqual((yield* inspectRunLock(lock))._tag, "Stale")
      const { replaced } = yield* Effect.scoped(acquireRunLock(lock, "prune"))
      assert.strictEqual(replaced._tag, "Stale")
    }),
  )

  it.effect("the lock is not removed at scope close once another run took it over", () =>
    Effect.gen(function* () {
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* acquireRunLock(lock, "prune")
          writeFileSync(lock, JSON.stringify(owner({ host: "other", command: "other" })))
        }),
      )
      assert.include(readFileSync(lock, "utf8"), '"other"')
    }),
  )

  it.effect("of many concurrent takers of a stale lock, exactly one wins", () =>
    Effect.gen(function* () {
      const pid = yield* Effect.promise(deadPid)
      writeFileSync(lock, JSON.stringify(owner({ pid })))
      // One process runs them all, so they share a PID: only the first may win, the rest see it held.
      const results = yield* Effect.scoped(
        Effect.all(
          Array.from({ length: 8 }, () => Effect.exit(acquireRunLock(lock, "prune"))),
          { concurrency: "unbounded" },
        ),
      )
      assert.strictEqual(results.filter(Exit.isSuccess).length, 1)
    }),
  )
})
