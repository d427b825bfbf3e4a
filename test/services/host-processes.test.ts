import { spawn } from "node:child_process"
import { openSync, realpathSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it, onTestFinished } from "vitest"
import { HostProcesses, sameDirectory } from "../../src/services/host-processes.ts"
import { tempDir } from "../support/temp-dir.ts"

const live = <A>(effect: Effect.Effect<A, never, HostProcesses>) => Effect.runPromise(effect.pipe(Effect.provide(HostProcesses.live)))

describe("HostProcesses.live reads /proc", () => {
  it("lists another process with its command, argv, working directory and open files, and leaves itself out", async () => {
    const dir = realpathSync(tempDir("host-processes"))
    const log = join(dir, "held-open.log")
    const child = spawn("sleep", ["30"], { cwd: dir, stdio: ["ignore", openSync(log, "w"), "ignore"] })
    onTestFinished(() => void child.kill("SIGKILL"))
    await new Promise((resolve) => child.once("spawn", resolve))
    const seen = await live(
      Effect.gen(function* () {
        const host = yield* HostProcesses
        const listed = yield* host.list
        return {
          self: listed.some((p) => p.pid === process.pid),
          child: listed.find((p) => p.pid === child.pid),
          cwd: yield* host.workingDirectory(child.pid!),
          open: yield* host.openFiles(child.pid!),
        }
      }),
    )
    expect(seen.self).toBe(false)
    expect(seen.child).toEqual({ pid: child.pid, command: "sleep", argv: ["sleep", "30"] })
    expect(seen.cwd).toBe(dir)
    expect(seen.open).toContain(log)
  })

  it("a process that is gone has no working directory and no open files, and that is not a failure", async () => {
    const seen = await live(HostProcesses.use((host) => Effect.all([host.workingDirectory(2 ** 30), host.openFiles(2 ** 30)])))
    expect(seen).toEqual([undefined, []])
  })

  it("tells a directory from the same one bind-mounted or seen through /proc/<pid>/root, and from any other (how the host's / mounted at /host is known)", async () => {
    const dir = realpathSync(tempDir("host-root"))
    expect(sameDirectory("/proc/self/root", "/")).toBe(true)
    expect(sameDirectory(`/proc/${process.pid}/root/${dir}`, dir)).toBe(true)
    expect(sameDirectory(dir, "/")).toBe(false)
    expect(sameDirectory(join(dir, "missing"), join(dir, "missing"))).toBe(false)
    expect(await live(HostProcesses.use((host) => host.isHostRoot(dir)))).toBe(false)
  })

  it("sees a port something listens on", async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    onTestFinished(() => void server.close())
    const port = (server.address() as { port: number }).port
    expect((await live(HostProcesses.use((host) => host.listeningPorts))).has(port)).toBe(true)
  })
})
