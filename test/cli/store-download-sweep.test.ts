import { NodeServices } from "@effect/platform-node"
import { DiskSpace } from "../../src/services/disk-space.ts"
/**
 * A killed `verify STORE --backup-id ID` leaves its download directory behind; the next `verify`
 * removes it (its run lock is stale), and never the download directory of a run still alive.
 * The runs to kill hang on an S3 endpoint that accepts connections and never answers, after the
 * work directory was made and locked, as a run stuck mid-download does.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { uploadBackup } from "../../src/programs/store/store-upload.ts"
import { directoryStoreLayer } from "../../src/services/store/directory-store.ts"
import { until } from "../support/eventually.ts"
import { fakeBackupForSuite, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { type RunningCli, runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const id = "2026-01-02_030405"
const { work, backup } = fakeBackupForSuite("store-download-sweep")
const store = join(work, "store")
let etcdutl: string
let silent: Server
const sockets: Array<Socket> = []

beforeAll(async () => {
  etcdutl = writeScriptedEtcdutl(join(work, "bin", "etcdutl"))
  mkdirSync(store)
  await Effect.runPromise(uploadBackup(backup, "").pipe(Effect.provide(Layer.mergeAll(directoryStoreLayer(store), NodeServices.layer, DiskSpace.live))))
  silent = createServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()))
})
afterAll(() => {
  for (const s of sockets) s.destroy()
  silent?.close()
})

const hangingVerify = (tmp: string, during: (child: RunningCli) => Promise<void>) =>
  runCli(
    ["verify", "s3://hangs/p", "--backup-id", id, "--s3-endpoint", `http://127.0.0.1:${(silent.address() as { port: number }).port}`, "--etcdutl", etcdutl],
    {
      env: { TMPDIR: tmp, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-a-real-secret", AWS_REGION: "us-east-1", AWS_CA_BUNDLE: "" },
      timeoutMs: 90_000,
      during,
    },
  )

/** The work directory a hanging verify made, once it and its lock exist. */
const workDirOf = async (tmp: string, except = "") => {
  const made = () =>
    readdirSync(tmp).find(
      (n) => n.startsWith("cluster-backup-verify-") && !n.endsWith(".lock") && join(tmp, n) !== except && existsSync(join(tmp, `${n}.lock`)),
    )
  await Effect.runPromise(until("the verify run made its locked work directory", () => made() !== undefined, 60_000))
  return join(tmp, made()!)
}

const goodVerify = (tmp: string) => runCli(["verify", store, "--backup-id", id, "--etcdutl", etcdutl], { env: { TMPDIR: tmp }, timeoutMs: 90_000 })

describe("download directories of verify runs", { timeout: 180_000 }, () => {
  it("a killed run's directory is removed by the next verify; a live run's is kept", async () => {
    const tmp = tempDir("sweep", work)
    let dead = ""
    let deadPid = 0
    const killed = await hangingVerify(tmp, async (child) => {
      deadPid = child.pid
      dead = await workDirOf(tmp)
      child.kill("SIGKILL")
    })
    expect(killed.signal).toBe("SIGKILL")
    expect(existsSync(dead)).toBe(true)

    let live = ""
    const alive = await hangingVerify(tmp, async (child) => {
      live = await workDirOf(tmp, dead)
      const next = await goodVerify(tmp)
      expect(next.status, next.stderr).toBe(0)
      // The live run swept the dead one's directory before making its own, or this run did.
      expect(existsSync(dead)).toBe(false)
      expect(`${child.stderr()}${next.stderr}`).toContain(`removed ${dead}: the download of verify (PID ${deadPid}`)
      expect(next.stderr).toContain(`keeping ${live}: a live run's download`)
      expect(existsSync(dead)).toBe(false)
      expect(existsSync(`${dead}.lock`)).toBe(false)
      expect(existsSync(live)).toBe(true)
      child.kill("SIGKILL")
    })
    expect(alive.signal).toBe("SIGKILL")
  })
})
