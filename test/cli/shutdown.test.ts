/**
 * SIGINT and SIGTERM end every command within a bounded time, even one blocked where nothing can
 * interrupt it (an open() of a FIFO with no writer sits in libuv's thread pool, and then even
 * process.exit waits for it forever). Timing bounds are generous: they prove an upper bound on a
 * loaded 2-core machine, not a speed.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { shutdownGraceMs } from "../../src/cli/shutdown.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"
import { repoRoot } from "../support/tools.ts"

const work = tempDir("shutdown")
const fifo = (name: string) => {
  const path = join(work, name)
  execFileSync("mkfifo", [path])
  return path
}

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  /** Milliseconds from the first signal to the end. */
  readonly afterSignalMs: number
}

/** Whether one of the process's threads waits in the kernel for the other end of a FIFO. */
const waitsOnFifo = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => readFileSync(`/proc/${pid}/task/${t}/wchan`, "utf8").includes("wait_for_partner"))
  } catch {
    return false
  }
}

/**
 * Starts `entry args` (the command unless `entry` is given), waits until `ready` (by default:
 * blocked on the FIFO), then sends `signals` one second apart.
 */
const blockThenSignal = async (
  args: ReadonlyArray<string>,
  signals: ReadonlyArray<NodeJS.Signals>,
  { ready = waitsOnFifo, entry }: { readonly ready?: (pid: number, stderr: string) => boolean; readonly entry?: string } = {},
): Promise<Ended> => {
  let signalledAt = 0
  const run = await runCli(args, {
    ...(entry === undefined ? {} : { entry }),
    // A process that outlives every bound is killed, and the test then fails on its time.
    timeoutMs: 150_000,
    during: async (child) => {
      const started = Date.now()
      while (!ready(child.pid, child.stderr())) {
        if (Date.now() - started > 90_000) throw new Error(`never ready: ${child.stderr()}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      signalledAt = Date.now()
      for (const [i, s] of signals.entries()) setTimeout(() => child.kill(s), i * 1000)
    },
  })
  return { code: run.status, signal: run.signal, stderr: run.stderr, afterSignalMs: Date.now() - signalledAt }
}

const blockedCommand = join(repoRoot, "test", "support", "blocked-command.ts")

describe("signals end a command", () => {
  // SIGTERM ends hold with exit 0 (its early end is its job: hold-command.test.ts); the next test ends another command by it.
  it.each(["SIGINT"] as const)(
    "%s ends a running command by the signal, saying it was interrupted",
    async (signal) => {
      const holding = (_pid: number, stderr: string) => stderr.includes("holding")
      const ended = await blockThenSignal(["hold", "--backup-dir", work, "--duration", "1h"], [signal], { ready: holding })
      expect(ended.signal).toBe(signal)
      expect(ended.code).toBeNull()
      expect(ended.stderr).toContain("error: interrupted before the command finished")
      expect(ended.afterSignalMs).toBeLessThan(30_000)
    },
    180_000,
  )

  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s ends an interrupted command whose thread is blocked on a FIFO (process.exit would wait for it)",
    async (signal) => {
      const ended = await blockThenSignal([fifo(`interruptible-${signal}`), "interruptible"], [signal], { entry: blockedCommand })
      expect(ended.signal).toBe(signal)
      expect(ended.stderr).toContain("error: interrupted before the command finished")
      // Ended by the interruption itself, not by the grace period's safety net.
      expect(ended.stderr).not.toContain("did not stop within")
      expect(ended.afterSignalMs).toBeLessThan(30_000)
    },
    180_000,
  )

  it.each(["SIGTERM", "SIGINT"] as const)(
    "an uninterruptible command is ended %s after the grace period, saying so",
    async (signal) => {
      const ended = await blockThenSignal([fifo(`uninterruptible-${signal}`)], [signal], { entry: blockedCommand })
      expect(ended.signal).toBe(signal)
      expect(ended.stderr).toContain(`error: the command did not stop within ${shutdownGraceMs / 1000} s of ${signal}`)
      expect(ended.afterSignalMs).toBeGreaterThanOrEqual(shutdownGraceMs)
      expect(ended.afterSignalMs).toBeLessThan(shutdownGraceMs + 20_000)
    },
    180_000,
  )

  it("a second Ctrl-C ends it at once, without waiting for the grace period", async () => {
    const ended = await blockThenSignal([fifo("twice")], ["SIGINT", "SIGINT"], { entry: blockedCommand })
    expect(ended.signal).toBe("SIGINT")
    expect(ended.stderr).toContain("error: SIGINT again: exiting now, without finishing the clean-up")
    expect(ended.afterSignalMs).toBeLessThan(shutdownGraceMs)
  }, 180_000)
})
