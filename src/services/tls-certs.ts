/**
 * Throwaway TLS material for local etcd members (tests, benchmark, demo, test restores): a CA, a
 * server certificate for the loopback names and a client certificate, made with the `openssl`
 * command (P-256 keys: fast to make, accepted by etcd and Node). Keys are written 0600.
 */
import { Effect, FileSystem, Path, Schema, Stream } from "effect"
import { ChildProcess } from "effect/process"
import type { EtcdTls } from "./etcd/etcd.ts"

export class TlsGenerationFailed extends Schema.TaggedError<TlsGenerationFailed>()("TlsGenerationFailed", {
  step: Schema.String,
  message: Schema.String,
}) {}

export interface TlsBundle {
  readonly dir: string
  readonly caCert: string
  readonly caKey: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
}

export interface TlsBundleOptions {
  /** Subject CN of the CA; distinct CAs make certificates that do not trust each other. */
  readonly caName?: string
  /** Names and addresses in the server certificate (default 127.0.0.1, ::1, localhost). */
  readonly serverHosts?: ReadonlyArray<string>
  readonly days?: number
}

/** The client side of a bundle, as the Etcd service takes it. */
export const clientTls = (bundle: TlsBundle): EtcdTls => ({ cert: bundle.clientCert, key: bundle.clientKey, cacert: bundle.caCert })

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(":")

const openssl = (step: string, args: ReadonlyArray<string>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* ChildProcess.make("openssl", [...args], { stdin: "ignore" })
      const [output, code] = yield* Effect.all([Stream.mkString(Stream.decodeText(handle.all)), handle.exitCode], { concurrency: 2 })
      if (code !== 0) {
        return yield* Effect.fail(new TlsGenerationFailed({ step, message: `openssl failed to ${step} (exit ${code}): ${output.trim()}` }))
      }
    }),
  ).pipe(
    Effect.catchTag("PlatformError", (e) =>
      Effect.fail(new TlsGenerationFailed({ step, message: `cannot run openssl to ${step}: ${e.message}. Is openssl installed and on PATH?` })),
    ),
  )

/** Makes a CA, a server and a client certificate in `dir` (created 0700 if missing). */
export const generateTlsBundle = Effect.fn("generateTlsBundle")(function* (dir: string, options: TlsBundleOptions = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fsFailed = (step: string) => (e: { readonly message: string }) => new TlsGenerationFailed({ step, message: `${step}: ${e.message}` })
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fsFailed(`create ${dir}`)))
  const file = (name: string) => path.join(dir, name)
  const bundle: TlsBundle = {
    dir,
    caCert: file("ca.crt"),
    caKey: file("ca.key"),
    serverCert: file("server.crt"),
    serverKey: file("server.key"),
    clientCert: file("client.crt"),
    clientKey: file("client.key"),
  }
  const days = String(options.days ?? 7)
  const p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  yield* openssl("make the CA", [
    "req",
    "-x509",
    ...p256,
    "-keyout",
    bundle.caKey,
    "-out",
    bundle.caCert,
    "-days",
    days,
    "-subj",
    `/CN=${options.caName ?? "cluster-backup test CA"}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ])
  const sign = (role: "server" | "client", subject: string, extensions: string) =>
    Effect.gen(function* () {
      const csr = file(`${role}.csr`)
      const ext = file(`${role}.ext`)
      yield* fs.writeFileString(ext, extensions).pipe(Effect.mapError(fsFailed(`write ${ext}`)))
      yield* openssl(`make the ${role} key`, ["req", ...p256, "-keyout", file(`${role}.key`), "-out", csr, "-subj", subject])
      yield* openssl(`sign the ${role} certificate`, [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        bundle.caCert,
        "-CAkey",
        bundle.caKey,
        "-CAcreateserial",
        "-out",
        file(`${role}.crt`),
        "-days",
        days,
        "-extfile",
        ext,
      ])
      yield* Effect.all([fs.remove(csr), fs.remove(ext)]).pipe(Effect.mapError(fsFailed(`clean up ${role} request`)))
    })
  const hosts = options.serverHosts ?? ["127.0.0.1", "::1", "localhost"]
  const san = hosts.map((h) => (isIp(h) ? `IP:${h}` : `DNS:${h}`)).join(",")
  yield* sign(
    "server",
    "/CN=etcd-server",
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
  )
  yield* sign("client", "/CN=etcd-client", `extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`)
  for (const key of [bundle.caKey, bundle.serverKey, bundle.clientKey]) {
    yield* fs.chmod(key, 0o600).pipe(Effect.mapError(fsFailed(`chmod ${key}`)))
  }
  return bundle
})
