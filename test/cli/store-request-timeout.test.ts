/**
 * A store that takes connections and never answers (a hung proxy, a firewall that lets the SYN through): each request is
 * given up after --s3-request-timeout, every retry is logged with the failure it follows, and the command fails.
 */
import { createServer, type Server, type Socket } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fakeBackupForSuite } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"

const { backup } = fakeBackupForSuite("store-request-timeout")
const held: Array<Socket> = []
let server: Server
let endpoint: string

beforeAll(async () => {
  server = createServer((socket) => void held.push(socket))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  endpoint = `http://127.0.0.1:${address.port}`
})

afterAll(async () => {
  for (const socket of held) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
})

const env = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test-secret" }

describe("a store that never answers", { timeout: 60_000 }, () => {
  it.each([
    ["backup-upload", ["backup-upload", "--store", "s3://silent/p", "--backup-dir", backup]],
    ["list", ["list", "s3://silent/p"]],
  ])("%s gives each request up after --s3-request-timeout, logs each of --retries, and exits 1 naming the timeout", async (_, command) => {
    const before = held.length
    const run = await runCli([...command, "--s3-endpoint", endpoint, "--s3-request-timeout", "1s", "--retries", "2"], { env, timeoutMs: 45_000 })
    expect(run.timedOut).toBe(false)
    expect(run.status).toBe(1)
    const retries = run.stderr.split("\n").filter((line) => line.includes("level=WARN") && /no answer within 1000 ms; retry \d of 2 in /.test(line))
    expect(retries.map((line) => /retry (\d) of 2/.exec(line)?.[1])).toEqual(["1", "2"])
    expect(run.stderr).toMatch(/error: .*at http:\/\/127\.0\.0\.1:\d+: no answer within 1000 ms \[StoreRequestFailed\]/)
    // The first request and its two retries, each on a new connection.
    expect(held.length - before).toBe(3)
  })

  // Over 3 minutes, a live upload's part could go unstored for longer than prune waits before it aborts the upload as dead.
  it.each(["500ms", "4m"])("--s3-request-timeout %s is a usage error (exit 2) naming the flag and its range, before any request", async (value) => {
    const before = held.length
    const run = await runCli(["list", "s3://silent/p", "--s3-endpoint", endpoint, "--s3-request-timeout", value], { env })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/s3-request-timeout.*a duration from 1s to 3m/s)
    expect(held.length).toBe(before)
  })
})
