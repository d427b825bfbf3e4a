/**
 * A member dies with the process that started it, even when that process is killed with SIGKILL and its finalizers
 * never run (verify --test-restore's throwaway member on a host, the demo's member).
 */
import { execFileSync, spawn } from "node:child_process"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { tempDir } from "../support/temp-dir.ts"

const starter = `
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { startLocalEtcd } from ${JSON.stringify(join(import.meta.dirname, "../../src/services/local-etcd.ts"))}
const member = await Effect.runPromise(Effect.scoped(startLocalEtcd({ dataDir: process.argv[1] }).pipe(Effect.tap((m) => Effect.sync(() => console.log(m.pid))), Effect.andThen(Effect.never))).pipe(Effect.provide(NodeServices.layer)))
`

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim()[0] !== "Z"
  } catch {
    return false
  }
}

describe("startLocalEtcd under SIGKILL", () => {
  it("leaves no etcd running when the process that started it is killed", async () => {
    const dir = tempDir("local-etcd-orphan")
    const child = spawn(process.execPath, ["--input-type=module", "-e", starter, join(dir, "member")], { stdio: ["ignore", "pipe", "inherit"] })
    const pid = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => resolve(Number(String(d).trim())))
      child.on("exit", (code) => reject(new Error(`the starter exited with ${code} before the member served`)))
    })
    expect(alive(pid)).toBe(true)
    child.kill("SIGKILL")
    const deadline = Date.now() + 10_000
    while (alive(pid) && Date.now() < deadline) await sleep(100)
    expect(alive(pid)).toBe(false)
  }, 60_000)
})
