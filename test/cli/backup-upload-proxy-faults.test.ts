/**
 * backup-upload against Swift's real proxy process when it fails: killed (SIGKILL) mid-upload and
 * restarted, or stopped (SIGSTOP) until the upload's deadline. A private server (its own ports and
 * directory) so the run's shared server is never disturbed; stopped at the end whatever happens,
 * and by its watchdog if this process is killed.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeS3Store } from "../../src/services/store/s3-store.ts"
import { writeLargeBackup } from "../support/large-backup.ts"
import { createBucket, privateS3Server, s3Endpoint, s3Env, s3ServerScript } from "../support/s3-server.ts"
import { runCli } from "../support/run-cli.ts"

const bucket = "proxy-faults"
let server: Awaited<ReturnType<typeof privateS3Server>>
let backup: string
let snapshot: { readonly name: string; readonly size: number; readonly sha256: string }
let env: Record<string, string>
const proxyPid = () => Number(readFileSync(join(server.dir, "run", "proxy.pid"), "utf8").trim())
const signalProxy = (signal: NodeJS.Signals) => {
  try {
    process.kill(proxyPid(), signal)
  } catch {
    // already gone
  }
}

const endpoint = () => s3Endpoint(server, bucket)
const completeIds = async (prefix: string): Promise<Array<string>> => {
  const list = await runCli(["list", `s3://${bucket}/${prefix}`, "--json"], { env })
  expect(list.status).toBe(0)
  return JSON.parse(list.stdout)
    .filter((b: { complete: boolean }) => b.complete)
    .map((b: { id: string }) => b.id)
}

/** Bytes of the objects (and parts) Swift's object server has on its device. */
const storedBytes = () =>
  readdirSync(join(server.dir, "srv", "node"), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".data"))
    .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0)

/**
 * Runs backup-upload of the large backup under `prefix`; once the first part of the snapshot's
 * multipart upload is stored, sends `signal` to Swift's proxy. Resolves when the command has ended.
 */
const uploadWithProxy = (signal: NodeJS.Signals, prefix: string, ...flags: Array<string>) => {
  const before = storedBytes()
  let signalledAt = 0
  const run = runCli(["backup-upload", "--store", `s3://${bucket}/${prefix}`, "--backup-dir", backup, "--part-size", "5Mi", ...flags], {
    env,
    timeoutMs: 240_000,
    during: async (child) => {
      while (storedBytes() - before < 5 * 1024 * 1024) {
        if (child.ended()) throw new Error(`the upload ended before its first part was stored: ${child.stderr()}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      signalProxy(signal)
      signalledAt = Date.now()
    },
  })
  return run.then((r) => ({ ...r, endedAfterSignalMs: Date.now() - signalledAt }))
}

beforeAll(async () => {
  server = await privateS3Server()
  env = s3Env(server)
  await createBucket(server, bucket)
  backup = mkdtempSync(join(tmpdir(), "proxy-faults-backup-"))
  // 160 MiB: long enough to fault midway.
  snapshot = writeLargeBackup(backup, 160 * 1024 * 1024).files.snapshot
}, 240_000)

afterAll(async () => {
  signalProxy("SIGCONT")
  await server?.stop()
  if (backup !== undefined) rmSync(backup, { recursive: true, force: true })
}, 60_000)

describe("backup-upload when Swift's proxy fails", { timeout: 300_000 }, () => {
  it("the proxy killed mid-upload: a clear error, exit 1, nothing listed; restarted, the next run completes", async () => {
    const failed = await uploadWithProxy("SIGKILL", "killed", "--parts-in-flight", "2", "--retries", "3")
    expect(failed.status).toBe(1)
    expect(failed.stderr).toMatch(
      /at http:\/\/127\.0\.0\.1:\d+ got no answer \((ECONNREFUSED|ECONNRESET)\): is the endpoint right and the store up\?.*\[StoreRequestFailed\]/,
    )
    await promisify(execFile)("bash", [s3ServerScript, "restart", server.dir])
    expect(await completeIds("killed")).toEqual([])
    const again = await runCli(["backup-upload", "--store", `s3://${bucket}/killed`, "--backup-dir", backup, "--part-size", "5Mi"], { env })
    expect(again.stderr).toMatch(/uploaded backup 2024-05-01_120000: 3 objects/)
    expect(again.status).toBe(0)
    expect(await completeIds("killed")).toEqual(["2024-05-01_120000"])
    expect(await Effect.runPromise(makeS3Store(endpoint()).head(`killed/2024-05-01_120000/${snapshot.name}`))).toMatchObject({
      size: snapshot.size,
      sha256: snapshot.sha256,
    })
  })

  it("the proxy stopped until the deadline: the deadline error soon after it, exit 1, nothing listed", async () => {
    try {
      const failed = await uploadWithProxy("SIGSTOP", "stopped", "--parts-in-flight", "1", "--deadline", "20s")
      expect(failed.status).toBe(1)
      expect(failed.stderr).toMatch(
        /the upload to s3:\/\/proxy-faults at http:\/\/127\.0\.0\.1:\d+ did not finish within 20000 ms: aborted, nothing complete stored.*\[UploadDeadlineExceeded\]/,
      )
      // The deadline counts from the start; the abort of the multipart upload, which the stopped
      // proxy cannot answer, must not hold the error back for the retries of a 2-minute request.
      expect(failed.endedAfterSignalMs).toBeLessThan(20_000 + 30_000)
      expect(failed.stderr).toMatch(
        /could not abort the multipart upload \S+ of stopped\/2024-05-01_120000\/snapshot_2024-05-01_120000\.db .*\(no answer within \d+ s\): its parts may stay in the store; prune removes an upload left there/,
      )
    } finally {
      signalProxy("SIGCONT")
    }
    expect(await completeIds("stopped")).toEqual([])
  })
})
