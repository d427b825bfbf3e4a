/**
 * SIGINT and SIGTERM end every command within a bounded time, even one blocked where nothing can
 * interrupt it (an open() of a FIFO with no writer sits in libuv's thread pool, and then even
 * process.exit waits for it forever). Timing bounds are generous: they prove an upper bound on a
 * loaded 2-core machine, not a speed.
 */
import { spawn, execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { shutdownGraceMs } from "../../src/cli/shutdown.ts"
import { cliEntry, repoRoot } from "../support/tools.ts"

const work = mkdtempSync(join(tmpdir(), "cb-shutdown-"))
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

/** Starts `args`, waits until `ready` (by default: blocked on the FIFO), then sends `signals` one second apart. */
const blockThenSignal = (
  args: ReadonlyArray<string>,
  signals: ReadonlyArray<NodeJS.Signals>,
  ready: (pid: number, stderr: string) => boolean = waitsOnFifo,
) =>
  new Promise<Ended>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBECONFIG: "" } })
    let stderr = ""
    let signalledAt = 0
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout.resume()
    const started = Date.now()
    const poll = setInterval(() => {
      if (Date.now() - started > 90_000) {
        clearInterval(poll)
        child.kill("SIGKILL")
        reject(new Error(`never ready: ${stderr}`))
      } else if (signalledAt === 0 && ready(child.pid!, stderr)) {
        clearInterval(poll)
        signalledAt = Date.now()
        signals.forEach((s, i) => setTimeout(() => child.kill(s), i * 1000))
      }
    }, 200)
    // A process that outlives every bound is killed, and the test then fails on its time.
    const guard = setTimeout(() => child.kill("SIGKILL"), 150_000)
    child.on("exit", (code, signal) => {
      clearInterval(poll)
      clearTimeout(guard)
      resolve({ code, signal, stderr, afterSignalMs: Date.now() - signalledAt })
    })
  })

const blockedCommand = join(repoRoot, "test", "support", "blocked-command.ts")

describe("signals end a command", () => {
  it.each(["SIGTERM", "SIGINT"] as const)("%s ends a running command by the signal, saying it was interrupted", async (signal) => {
    const holding = (_pid: number, stderr: string) => stderr.includes("holding")
    const ended = await blockThenSignal([cliEntry, "hold", "--backup-dir", work, "--duration", "1h"], [signal], holding)
    expect(ended.signal).toBe(signal)
    expect(ended.code).toBeNull()
    expect(ended.stderr).toContain("error: interrupted before the command finished")
    expect(ended.afterSignalMs).toBeLessThan(30_000)
  }, 180_000)

  it.each(["SIGTERM", "SIGINT"] as const)("%s ends an interrupted command whose thread is blocked on a FIFO (process.exit would wait for it)", async (signal) => {
    const ended = await blockThenSignal([blockedCommand, fifo(`interruptible-${signal}`), "interruptible"], [signal])
    expect(ended.signal).toBe(signal)
    expect(ended.stderr).toContain("error: interrupted before the command finished")
    // Ended by the interruption itself, not by the grace period's safety net.
    expect(ended.stderr).not.toContain("did not stop within")
    expect(ended.afterSignalMs).toBeLessThan(30_000)
  }, 180_000)

  it.each(["SIGTERM", "SIGINT"] as const)("an uninterruptible command is ended %s after the grace period, saying so", async (signal) => {
    const ended = await blockThenSignal([blockedCommand, fifo(`uninterruptible-${signal}`)], [signal])
    expect(ended.signal).toBe(signal)
    expect(ended.stderr).toContain(`error: the command did not stop within ${shutdownGraceMs / 1000} s of ${signal}`)
    expect(ended.afterSignalMs).toBeGreaterThanOrEqual(shutdownGraceMs)
    expect(ended.afterSignalMs).toBeLessThan(shutdownGraceMs + 20_000)
  }, 180_000)

  it("a second Ctrl-C ends it at once, without waiting for the grace period", async () => {
    const ended = await blockThenSignal([blockedCommand, fifo("twice")], ["SIGINT", "SIGINT"])
    expect(ended.signal).toBe("SIGINT")
    expect(ended.stderr).toContain("error: SIGINT again: exiting now, without finishing the clean-up")
    expect(ended.afterSignalMs).toBeLessThan(shutdownGraceMs)
  }, 180_000)
})
