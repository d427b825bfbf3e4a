/**
 * Real etcd members on this machine, for tests, the benchmark, the demo and `verify
 * --test-restore`: `startLocalEtcd` runs `etcd` on free loopback ports (optionally with TLS and
 * client-certificate auth), waits until it serves, and is a scoped resource: closing the scope
 * stops the member (SIGTERM, then SIGKILL after a grace period), also when a test fails.
 * Starting on an existing data directory (e.g. one made by `etcdutl snapshot restore`) works the
 * same way: etcd then ignores the initial-cluster flags and serves what the directory holds.
 */
import { constants, existsSync } from "node:fs"
import { access, stat } from "node:fs/promises"
import { request as httpsRequest } from "node:https"
import { request as httpRequest } from "node:http"
import { createServer } from "node:net"
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Clock, Effect, Fiber, FileSystem, Schema, Stream } from "effect"
import { ChildProcess } from "effect/process"
import type { EtcdConnection } from "./etcd/etcd.ts"
import { clientTls, type TlsBundle } from "./tls-certs.ts"

export class LocalEtcdFailed extends Schema.TaggedError<LocalEtcdFailed>()("LocalEtcdFailed", {
  dataDir: Schema.String,
  message: Schema.String,
}) {}

/**
 * util-linux's setpriv (in every Debian image, the operator's included) starts etcd with a parent-death signal: a member
 * dies with the process that started it, even one killed by SIGKILL, whose finalizers never run. It execs etcd, so the
 * pid is etcd's. Where it is missing, etcd is started directly.
 */
const setpriv = "/usr/bin/setpriv"

export type EtcdToolName = "etcd" | "etcdctl" | "etcdutl"

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

/**
 * Path of an etcd tool: `explicit` if given, else the project's `.tools/etcd/bin` copy (made by
 * `scripts/setup.sh`), else the bare name for PATH lookup.
 */
export const etcdToolPath = (name: EtcdToolName, explicit?: string): string => {
  if (explicit !== undefined) return explicit
  const local = join(repoRoot, ".tools", "etcd", "bin", name)
  return existsSync(local) ? local : name
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; a race with other processes is retried by callers). */
export const freeLoopbackPort: Effect.Effect<number, LocalEtcdFailed> = Effect.callback((resume) => {
  const server = createServer()
  server.once("error", (e) => resume(Effect.fail(new LocalEtcdFailed({ dataDir: "", message: `cannot find a free loopback port: ${e.message}` }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface LocalEtcdOptions {
  readonly dataDir: string
  /** Member name; must match the name given to `etcdutl snapshot restore` for a restored directory. */
  readonly name?: string
  /** Serve clients over TLS with client-certificate auth, using this bundle's server certificate. */
  readonly tls?: TlsBundle | undefined
  /** The `etcd` binary (default: `.tools/etcd/bin/etcd`, else PATH). */
  readonly etcdBinary?: string
  readonly clientPort?: number
  readonly peerPort?: number
  readonly quotaBackendBytes?: number
  /** `--unsafe-no-fsync`: much faster writes for throwaway members; never for data that matters. */
  readonly unsafeNoFsync?: boolean
  readonly startTimeoutMs?: number
  readonly extraArgs?: ReadonlyArray<string>
}

export interface LocalEtcd {
  readonly name: string
  readonly dataDir: string
  readonly clientUrl: string
  readonly peerUrl: string
  /** etcd's own log (its stderr). */
  readonly logFile: string
  readonly pid: number
  readonly tls: TlsBundle | undefined
  /** How to reach the member with the Etcd service (client certificate of the bundle when TLS). */
  readonly connection: EtcdConnection
  /** Stops the member now (SIGTERM, or SIGKILL to simulate a crash); the scope's release then has nothing to do. */
  readonly kill: (signal?: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
  readonly isRunning: Effect.Effect<boolean>
}

/** `/health`'s answer: healthy, or not with etcd's reason when it gave one (`ALARM NOSPACE`). */
interface Health {
  readonly healthy: boolean
  readonly reason?: string | undefined
}

const health = (clientUrl: string, tls: TlsBundle | undefined): Promise<Health> =>
  new Promise((done) => {
    const url = `${clientUrl}/health`
    const onResponse = (res: import("node:http").IncomingMessage) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => done({ healthy: res.statusCode === 200 && /"health"\s*:\s*"true"/.test(body), reason: /"reason"\s*:\s*"([^"]*)"/.exec(body)?.[1] }))
      res.on("error", () => done({ healthy: false }))
    }
    const req =
      tls === undefined
        ? httpRequest(url, { timeout: 2000 }, onResponse)
        : httpsRequest(
            url,
            {
              timeout: 2000,
              ca: readFileSync(tls.caCert),
              cert: readFileSync(tls.clientCert),
              key: readFileSync(tls.clientKey),
            },
            onResponse,
          )
    req.on("error", () => done({ healthy: false }))
    req.on("timeout", () => req.destroy())
    req.end()
  })

const alarmed = (clientUrl: string, reason: string): string =>
  `etcd on ${clientUrl} serves but reports itself unhealthy: ${reason}` +
  (reason.includes("NOSPACE")
    ? ": its data carries etcd's NOSPACE alarm (the database had exceeded its quota when the snapshot was taken); a member restored from it refuses every write until the alarm is disarmed (etcdctl defrag, or a larger --quota-backend-bytes, then etcdctl alarm disarm)"
    : ": a member restored from this data starts with that alarm raised (etcdctl alarm list, then etcdctl alarm disarm once its cause is fixed)")

const logTail = (fs: FileSystem.FileSystem, logFile: string) =>
  fs.readFileString(logFile).pipe(
    Effect.map((text) => {
      const lines = text.trim().split("\n")
      // etcd's reason is in its error lines (JSON) or, for bad flags, at the top of its usage text.
      const reasons = lines.filter((l) => /"level":"(error|fatal|panic)"|flag provided|^panic|^Error/i.test(l))
      return (reasons.length > 0 ? reasons.slice(-5) : lines.slice(-8)).join("\n")
    }),
    Effect.orElseSucceed(() => "(no log)"),
  )

// Members still running when this process exits (a crash, an exit without finalizers) are killed
// then, so none outlives the process that started it. Scopes stop them normally before that.
const running = new Set<number>()
process.on("exit", () => {
  for (const pid of running) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
})

/**
 * Why `binary` cannot be run (`ENOENT`, `EACCES`, `EISDIR`), or undefined when it can; a bare name is looked up on PATH.
 * Checked before the start: through setpriv, a missing etcd reads as a member that exited before serving. By hand,
 * not npm's `which`: that finds a path or none, not why none runs (a file not executable, a directory of that name).
 */
export const whyNotExecutable = async (binary: string): Promise<string | undefined> => {
  const candidates = binary.includes("/")
    ? [binary]
    : (process.env.PATH ?? "")
        .split(":")
        .filter((d) => d !== "")
        .map((d) => join(d, binary))
  let why = "ENOENT"
  for (const candidate of candidates) {
    const found = await access(candidate, constants.X_OK).then(
      () => stat(candidate).then((s) => (s.isFile() ? undefined : "EISDIR")),
      (e: unknown) => (e as { code?: string }).code ?? "EACCES",
    )
    if (found === undefined) return undefined
    if (found !== "ENOENT") why = found
  }
  return why
}

const attempt = Effect.fnUntraced(function* (options: LocalEtcdOptions, binary: string, clientPort: number, peerPort: number) {
  const fs = yield* FileSystem.FileSystem
  const name = options.name ?? "default"
  const tls = options.tls
  const clientUrl = `${tls === undefined ? "http" : "https"}://127.0.0.1:${clientPort}`
  const peerUrl = `http://127.0.0.1:${peerPort}`
  const logFile = `${options.dataDir.replace(/\/+$/, "")}.etcd.log`
  const failed = (message: string) => new LocalEtcdFailed({ dataDir: options.dataDir, message })
  const args = [
    "--name",
    name,
    "--data-dir",
    options.dataDir,
    "--listen-client-urls",
    clientUrl,
    "--advertise-client-urls",
    clientUrl,
    "--listen-peer-urls",
    peerUrl,
    "--initial-advertise-peer-urls",
    peerUrl,
    "--initial-cluster",
    `${name}=${peerUrl}`,
    "--initial-cluster-token",
    `local-${name}`,
    "--log-outputs",
    "stderr",
    ...(tls === undefined ? [] : ["--cert-file", tls.serverCert, "--key-file", tls.serverKey, "--trusted-ca-file", tls.caCert, "--client-cert-auth"]),
    ...(options.quotaBackendBytes === undefined ? [] : ["--quota-backend-bytes", String(options.quotaBackendBytes)]),
    ...(options.unsafeNoFsync === true ? ["--unsafe-no-fsync"] : []),
    ...(options.extraArgs ?? []),
  ]
  const [command, commandArgs] = existsSync(setpriv) ? [setpriv, ["--pdeathsig", "KILL", binary, ...args]] : [binary, args]
  const handle = yield* ChildProcess.make(command, commandArgs, {
    stdin: "ignore",
    stdout: "ignore",
    killSignal: "SIGTERM",
    forceKillAfter: "10 seconds",
  }).pipe(Effect.mapError((e) => failed(`cannot start ${binary}: ${e.message}`)))
  const pid = handle.pid
  running.add(pid)
  yield* Effect.addFinalizer(() => Effect.sync(() => running.delete(pid)))
  const logging = yield* Effect.forkScoped(Stream.run(handle.stderr, fs.sink(logFile)).pipe(Effect.ignore))

  const deadline = (yield* Clock.currentTimeMillis) + (options.startTimeoutMs ?? 20_000)
  const waitHealthy = Effect.gen(function* () {
    for (;;) {
      if (!(yield* handle.isRunning.pipe(Effect.orElseSucceed(() => false)))) {
        yield* Fiber.join(logging).pipe(Effect.timeout(2000), Effect.ignore) // the log is complete once the pipe closes
        const tail = yield* logTail(fs, logFile)
        return yield* Effect.fail(failed(`etcd exited before serving on ${clientUrl}; its log ends with:\n${tail}`))
      }
      const answer = yield* Effect.promise(() => health(clientUrl, tls))
      if (answer.healthy) break
      // An alarm in the data (a NOSPACE alarm restored from a snapshot) does not clear by waiting.
      if (answer.reason?.startsWith("ALARM") === true) return yield* Effect.fail(failed(alarmed(clientUrl, answer.reason)))
      if ((yield* Clock.currentTimeMillis) > deadline) {
        const tail = yield* logTail(fs, logFile)
        return yield* Effect.fail(failed(`etcd did not become healthy on ${clientUrl} in time; its log ends with:\n${tail}`))
      }
      yield* Effect.sleep(100)
    }
  })
  // A member that never became healthy is stopped now, not when the caller's scope ends.
  yield* waitHealthy.pipe(Effect.onError(() => handle.kill({ killSignal: "SIGKILL" }).pipe(Effect.ignore)))
  const member: LocalEtcd = {
    name,
    dataDir: options.dataDir,
    clientUrl,
    peerUrl,
    logFile,
    pid: handle.pid,
    tls,
    connection: { endpoints: [clientUrl], tls: tls === undefined ? undefined : clientTls(tls) },
    kill: (signal = "SIGTERM") => handle.kill({ killSignal: signal, forceKillAfter: "10 seconds" }).pipe(Effect.ignore),
    isRunning: handle.isRunning.pipe(Effect.orElseSucceed(() => false)),
  }
  return member
})

/**
 * Starts an etcd member and waits until `/health` answers; stops it when the scope closes.
 * Without explicit ports, a start that loses a port race is retried on new ports.
 */
export const startLocalEtcd = Effect.fn("startLocalEtcd")(function* (options: LocalEtcdOptions) {
  const fs = yield* FileSystem.FileSystem
  yield* fs
    .makeDirectory(dirname(options.dataDir), { recursive: true })
    .pipe(Effect.mapError((e) => new LocalEtcdFailed({ dataDir: options.dataDir, message: `cannot create the parent of ${options.dataDir}: ${e.message}` })))
  const binary = etcdToolPath("etcd", options.etcdBinary)
  const why = yield* Effect.promise(() => whyNotExecutable(binary))
  if (why !== undefined)
    return yield* new LocalEtcdFailed({
      dataDir: options.dataDir,
      message: `cannot run ${binary} (${why}${why === "ENOENT" ? ": no such file" : ""}): install etcd (3.5 or newer) or name it explicitly`,
    })
  const explicitPorts = options.clientPort !== undefined || options.peerPort !== undefined
  let lastError: LocalEtcdFailed | undefined
  for (let i = 0; i < (explicitPorts ? 1 : 3); i++) {
    const clientPort = options.clientPort ?? (yield* freeLoopbackPort)
    const peerPort = options.peerPort ?? (yield* freeLoopbackPort)
    const result = yield* Effect.result(attempt(options, binary, clientPort, peerPort))
    if (result._tag === "Success") return result.success
    lastError = result.failure
    if (!/address already in use/.test(lastError.message)) break
  }
  return yield* Effect.fail(lastError!)
})
