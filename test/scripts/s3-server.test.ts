import { execFile, execFileSync, spawn } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { s3Server, s3ServerScript } from "../support/s3-server.ts"
import { waitUntil } from "../support/eventually.ts"

const run = promisify(execFile)

/** Command lines of the running processes that mention `dir`. */
const processesUsing = (dir: string): Array<string> =>
  execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(dir) && !line.startsWith("ps "))

describe("scripts/s3-server.sh", () => {
  it("serves the whole test run from one server: a second caller gets the same one", async () => {
    const first = await s3Server()
    const second = await s3Server()
    expect(second).toEqual(first)
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const { stdout } = await run("bash", [s3ServerScript, "status", first.dir])
    expect(stdout).toMatch(/^proxy running pid \d+$/m)
  }, 200_000)

  it("stops the server and removes its directory when the watched test run dies during start-up", async () => {
    const dir = join(tmpdir(), `cb-s3-watchdog-${process.pid}-${Date.now()}`)
    const testRun = spawn("sleep", ["120"], { stdio: "ignore" })
    const start = run("bash", [s3ServerScript, "start", dir, "auto", String(testRun.pid), "remove"])
    await waitUntil("the servers to be spawned", () => existsSync(join(dir, "run", "proxy.pid")), { ms: 30_000, everyMs: 100 })
    testRun.kill("SIGKILL")
    await expect(start).rejects.toMatchObject({ stderr: expect.stringContaining(`process ${testRun.pid} is gone`) })
    // The watchdog polls each second, then gives the servers 10 s to stop on TERM before KILL: on a loaded machine
    // (Swift still importing, a graceful shutdown waiting for a CPU) all of that, then the removal, took over 15 s.
    await waitUntil("no process left and the directory removed", () => processesUsing(dir).length === 0 && !existsSync(dir), { ms: 45_000, everyMs: 100 })
  }, 120_000)

  it("keeps the watchdog's pid file through start-up, so that stop ends the watchdog too", async () => {
    const dir = join(tmpdir(), `cb-s3-stop-watchdog-${process.pid}-${Date.now()}`)
    const testRun = spawn("sleep", ["120"], { stdio: "ignore" })
    try {
      await run("bash", [s3ServerScript, "start", dir, "auto", String(testRun.pid), "remove"])
      expect(existsSync(join(dir, "run", "watch.pid"))).toBe(true)
      expect(processesUsing(dir).some((line) => line.includes(" watch "))).toBe(true)
      await run("bash", [s3ServerScript, "stop", dir])
      await waitUntil("no process left, the watchdog included", () => processesUsing(dir).length === 0, { ms: 45_000, everyMs: 100 })
    } finally {
      testRun.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  // Checked at once, not waited for: the demo removes its work directory and exits right after `stop`, and a caller
  // that looks then must find nothing of the server's running.
  // A start launching a server while the watchdog stops the others can lose the race for the server's pid file.
  it("stop ends a watchdog and servers no pid file names, and returns only once they have ended", async () => {
    const dir = join(tmpdir(), `cb-s3-stop-orphan-${process.pid}-${Date.now()}`)
    const testRun = spawn("sleep", ["120"], { stdio: "ignore" })
    try {
      await run("bash", [s3ServerScript, "start", dir, "auto", String(testRun.pid)])
      for (const p of ["watch", "proxy", "object", "memcached"]) rmSync(join(dir, "run", `${p}.pid`))
      const memcached = `memcached -l 127.0.0.1 -p ${Number(readFileSync(join(dir, "etc", "port"), "utf8")) + 4} `
      expect(processesUsing(memcached)).toHaveLength(1)
      await run("bash", [s3ServerScript, "stop", dir])
      expect(processesUsing(dir)).toEqual([])
      expect(processesUsing(memcached)).toEqual([])
    } finally {
      testRun.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("a start stopped by SIGTERM to its process group, at any point, leaves nothing once stop has returned", async () => {
    const testRun = spawn("sleep", ["300"], { stdio: "ignore" })
    try {
      for (const afterMs of [0, 30, 150, 600, 2000]) {
        const dir = join(tmpdir(), `cb-s3-stop-interrupted-${process.pid}-${Date.now()}`)
        const start = spawn("bash", [s3ServerScript, "start", dir, "auto", String(testRun.pid)], { stdio: "ignore", detached: true })
        const ended = new Promise((resolve) => start.on("close", resolve))
        await sleep(afterMs)
        process.kill(-start.pid!, "SIGTERM")
        await ended
        await run("bash", [s3ServerScript, "stop", dir])
        expect(processesUsing(dir), `SIGTERM ${afterMs} ms into the start`).toEqual([])
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      testRun.kill("SIGKILL")
    }
  }, 200_000)
})
