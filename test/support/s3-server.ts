/**
 * The test run's S3 server (Swift with s3api, see test/support/s3-global-setup.ts): the first
 * caller starts it (under a file lock, so parallel test files share one server), later callers
 * get the running one. Each test file works in its own buckets.
 */
import { execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Effect } from "effect"
import { inject } from "vitest"
import { swiftEndpoint } from "../../src/programs/demo/local-swift.ts"
import { s3Request, type S3Endpoint } from "../../src/services/store/s3-http.ts"
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
  const fields = Object.fromEntries(
    line
      .slice(3)
      .split(" ")
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  )
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
 * A server of the caller's own, on its own ports and in its own directory, for tests that kill,
 * stop or restart its processes without disturbing the run's shared server. `stop` stops it and
 * removes the directory; its watchdog does the same if this process dies first.
 */
export const privateS3Server = async (): Promise<S3TestServer & { readonly stop: () => Promise<void> }> => {
  const dir = await mkdtemp(join(tmpdir(), "cb-s3-private-"))
  const started = await promisify(execFile)("bash", [s3ServerScript, "start", join(dir, "s3"), "auto", String(process.pid), "remove"], {
    timeout: 200_000,
  }).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true })
    throw e
  })
  const server = parseLine(started.stdout)
  return {
    ...server,
    stop: async () => {
      await promisify(execFile)("bash", [s3ServerScript, "stop", server.dir]).catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** `bucket` on `server` as the store's S3 client takes it: path-style, payloads signed, a 30 s request timeout. */
export const s3Endpoint = (server: S3TestServer, bucket: string): S3Endpoint => swiftEndpoint(server, bucket)

/** Creates `bucket` on `server`. */
export const createBucket = (server: S3TestServer, bucket: string): Promise<unknown> =>
  Effect.runPromise(s3Request(s3Endpoint(server, bucket), { operation: "CreateBucket", method: "PUT", key: "" }))

/** The environment that points the command at `server` with its credentials (and no CA bundle: the server speaks plain HTTP). */
export const s3Env = (server: S3TestServer): Record<string, string> => ({
  AWS_ENDPOINT_URL: server.endpoint,
  AWS_ACCESS_KEY_ID: server.accessKeyId,
  AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
  AWS_REGION: server.region,
  AWS_CA_BUNDLE: "",
})

/** rclone's flags for an on-the-fly `:s3:` remote on `server`. */
export const rcloneS3Flags = (server: Pick<S3TestServer, "endpoint" | "accessKeyId" | "secretAccessKey" | "region">): Array<string> => [
  "--s3-provider=Other",
  `--s3-endpoint=${server.endpoint}`,
  `--s3-access-key-id=${server.accessKeyId}`,
  `--s3-secret-access-key=${server.secretAccessKey}`,
  `--s3-region=${server.region}`,
  "--s3-force-path-style=true",
]

/**
 * Runs the project's rclone (the independent S3 client) against `server` with an on-the-fly `:s3:`
 * remote. This machine's AWS_CA_BUNDLE is dropped: rclone refuses to start with a bundle it cannot
 * use, and the test server speaks plain HTTP.
 */
export const rclone = (server: S3TestServer, ...args: Array<string>) => {
  const env: Record<string, string | undefined> = { ...process.env }
  delete env.AWS_CA_BUNDLE
  return promisify(execFile)(join(repoRoot, ".tools", "rclone", "bin", "rclone"), [...rcloneS3Flags(server), ...args], { env })
}
