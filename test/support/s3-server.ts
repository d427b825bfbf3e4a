/**
 * The test run's S3 server (Swift with s3api, see test/support/s3-global-setup.ts): the first
 * caller starts it (under a file lock, so parallel test files share one server), later callers
 * get the running one. Each test file works in its own buckets.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { inject } from "vitest"
import { repoRoot } from "./tools.ts"

export interface S3TestServer {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly region: string
  /** pids of the server's processes by name (memcached, account, container, object, proxy). */
  readonly pids: Readonly<Record<string, number>>
  readonly dir: string
}

export const s3ServerScript = join(repoRoot, "scripts", "s3-server.sh")

const parseLine = (stdout: string): S3TestServer => {
  const line = stdout.split("\n").find((l) => l.startsWith("S3 "))
  if (line === undefined) throw new Error(`s3-server.sh printed no S3 line: ${stdout}`)
  const fields = Object.fromEntries(line.slice(3).split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]))
  const pids = Object.fromEntries((fields.pids ?? "").split(",").map((p) => [p.split(":")[0], Number(p.split(":")[1])]))
  return {
    endpoint: fields.endpoint!,
    accessKeyId: fields.access_key!,
    secretAccessKey: fields.secret_key!,
    region: fields.region!,
    pids,
    dir: fields.dir!,
  }
}

/** Starts the run's S3 server unless it runs already; resolves to its endpoint and credentials. */
export const s3Server = async (): Promise<S3TestServer> => {
  const dir = inject("s3ServerDir")
  const { stdout } = await promisify(execFile)(
    "flock",
    ["-o", `${dir}.lock`, "bash", s3ServerScript, "start", dir, "auto", String(inject("testRunPid")), "remove"],
    { timeout: 200_000 },
  )
  return parseLine(stdout)
}

/**
 * Runs the project's rclone (the independent S3 client) against `server` with an on-the-fly `:s3:`
 * remote. This machine's AWS_CA_BUNDLE is dropped: rclone refuses to start with a bundle it cannot
 * use, and the test server speaks plain HTTP.
 */
export const rclone = (server: S3TestServer, ...args: Array<string>) => {
  const env: Record<string, string | undefined> = { ...process.env }
  delete env["AWS_CA_BUNDLE"]
  return promisify(execFile)(
    join(repoRoot, ".tools", "rclone", "bin", "rclone"),
    [
      "--s3-provider=Other",
      `--s3-endpoint=${server.endpoint}`,
      `--s3-access-key-id=${server.accessKeyId}`,
      `--s3-secret-access-key=${server.secretAccessKey}`,
      `--s3-region=${server.region}`,
      "--s3-force-path-style=true",
      ...args,
    ],
    { env },
  )
}
