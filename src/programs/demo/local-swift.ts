/**
 * The demo's object store: the project's own Swift with s3api (scripts/s3-server.sh, installed by
 * scripts/setup.sh into .tools/swift) on free loopback ports, its data in the demo's work directory.
 */
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect, Schema, Stream } from "effect"
import { ChildProcess } from "effect/process"
import type { S3Endpoint } from "../../services/store/s3-http.ts"

export interface LocalSwift {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly region: string
}

export class LocalSwiftFailed extends Schema.TaggedError<LocalSwiftFailed>()("LocalSwiftFailed", {
  operation: Schema.String,
  dir: Schema.String,
  message: Schema.String,
}) {}

/** The project's scripts/s3-server.sh beside `entry` (bin/cluster-backup.js), and whether Swift is installed for it. */
export const swiftScriptFor = (entry: string) => {
  const root = join(dirname(entry), "..")
  return { script: join(root, "scripts", "s3-server.sh"), installed: existsSync(join(root, ".tools", "swift", "root")) }
}

const runScript = (script: string, operation: string, dir: string, args: ReadonlyArray<string>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const failed = (message: string) => new LocalSwiftFailed({ operation, dir, message })
      const child = yield* ChildProcess.make("bash", [script, operation, dir, ...args], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        extendEnv: true,
        killSignal: "SIGTERM",
      }).pipe(Effect.mapError((e) => failed(`cannot run ${script}: ${e.message}`)))
      const text = (stream: Stream.Stream<Uint8Array, unknown>) => Stream.mkString(Stream.decodeText(stream)).pipe(Effect.orElseSucceed(() => ""))
      const [out, err] = yield* Effect.all([text(child.stdout), text(child.stderr)], { concurrency: 2 })
      const code = yield* child.exitCode.pipe(Effect.mapError(() => failed(`${script} ${operation} was stopped by a signal`)))
      if (code !== 0) return yield* failed(`${script} ${operation} exited with ${code}: ${err.trim().split("\n").slice(-3).join(" / ")}`)
      return out
    }),
  )

/** The `S3 endpoint=... access_key=...` line `start` prints. */
const parseStartLine = (out: string): LocalSwift | undefined => {
  const line = out.split("\n").find((l) => l.startsWith("S3 "))
  if (line === undefined) return undefined
  const fields = new Map(
    line
      .slice(3)
      .split(" ")
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
  )
  const [endpoint, accessKeyId, secretAccessKey, region] = ["endpoint", "access_key", "secret_key", "region"].map((k) => fields.get(k))
  return endpoint && accessKeyId && secretAccessKey && region ? { endpoint, accessKeyId, secretAccessKey, region } : undefined
}

/**
 * Starts Swift in `dir` on free ports. Stop it with `stopLocalSwift` (the caller's finalizer); a watchdog stops it if
 * this process dies without (a SIGKILL), and `stop` ends the watchdog too.
 */
export const startLocalSwift = (script: string, dir: string) =>
  Effect.flatMap(runScript(script, "start", dir, ["auto", String(process.pid)]), (out) => {
    const swift = parseStartLine(out)
    return swift === undefined ? Effect.fail(new LocalSwiftFailed({ operation: "start", dir, message: `no S3 line in: ${out.trim()}` })) : Effect.succeed(swift)
  })

/** Stops the Swift of `dir` (nothing to do when none runs). */
export const stopLocalSwift = (script: string, dir: string) => runScript(script, "stop", dir, []).pipe(Effect.asVoid)

/** `bucket` on `swift` as the store's S3 client takes it (path-style, plain HTTP on loopback). */
export const swiftEndpoint = (swift: LocalSwift, bucket: string): S3Endpoint => ({
  url: new URL(swift.endpoint),
  region: swift.region,
  bucket,
  pathStyle: true,
  credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
  signPayload: true,
  requestTimeoutMs: 30_000,
})

/** The AWS shared-credentials file a store credentials Secret holds (key `credentials`). */
export const sharedCredentialsFile = (swift: LocalSwift): string =>
  `[default]\naws_access_key_id = ${swift.accessKeyId}\naws_secret_access_key = ${swift.secretAccessKey}\n`
