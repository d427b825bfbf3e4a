/**
 * A local HTTP server speaking enough of the Kubernetes REST protocol for the live Layer (and
 * any kubectl-like client) to run against the simulated cluster: the resource paths of
 * `resources.ts` (and `<object>/status` of types with a status subresource), GET/POST/PUT/PATCH (merge patch)/DELETE, `labelSelector`, chunked
 * newline-delimited watches with `resourceVersion` and `timeoutSeconds`, `kind: Status` errors
 * with `Retry-After`, `pods/<name>/exec` over a WebSocket (`v5.channel.k8s.io` or `v4.channel.k8s.io`: the command's stdout,
 * stderr and exit status, run by the cluster's exec handler, after the kubelet's empty first frame; a refused upgrade answers its Status), and bearer-token authentication; over HTTPS
 * when given a certificate (`tls`), client certificates too. Faults come from the cluster's injector:
 * Status faults answer that Status, timeouts leave the request unanswered, dropped watches end
 * (or reset) the connection. The demo serves its cluster this way to the backup pod's
 * subcommands running as child processes; `writeKubeconfig` points them at it.
 */
import { randomBytes } from "node:crypto"
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises"
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { Socket } from "node:net"
import type { TLSSocket } from "node:tls"
import { dirname } from "node:path"
import { Effect, Result, Schema, type Scope } from "effect"
import { WebSocketServer } from "ws"
import { stringify } from "yaml"
import { ExecChannel, execFrame, execStatusPayload } from "../services/kube/exec-protocol.ts"
import { statusBody, type KubeStatus } from "../services/kube/errors.ts"
import { parseResourcePath } from "../services/kube/resources.ts"
import { notServed, type ApiRequest, type SimulatedCluster, type WatchSession } from "./simulated-cluster.ts"
import { failureText } from "../domain/failure-text.ts"

export interface SimulatedApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 0 (any free port). */
  readonly port?: number
  /** The bearer token clients must send; default a random one. */
  readonly token?: string
  /**
   * The `pods/exec` subprotocols served; default v5 and v4, as an API server of Kubernetes 1.30 or later (`["v4.channel.k8s.io"]`
   * is one before). As there, the first one the client offers that is served is taken.
   */
  readonly execProtocols?: ReadonlyArray<string>
  /**
   * HTTPS instead of HTTP, with this certificate and key (PEM), its URL naming `urlHost` (default localhost: the
   * certificate's name). With `clientCa`, a client certificate that CA issued authenticates as the bearer token does (the
   * API server's x509 authenticator); one it did not issue, or none, falls back to the token.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string; readonly urlHost?: string }
}

/** One HTTP request as the server saw it (including rejected ones). */
export interface HttpRequestRecord {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** The HTTP status answered; "none" when a timeout fault left it unanswered. */
  readonly status: number | "none"
  /** For a WebSocket upgrade answered 101: the subprotocol taken. */
  readonly protocol?: string
}

export interface SimulatedApiServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  readonly token: string
  readonly cluster: SimulatedCluster
  /** The newest 10000 HTTP requests. */
  readonly httpRequests: ReadonlyArray<HttpRequestRecord>
  /** TCP connections accepted so far (a client that reuses its connections opens few). */
  readonly connections: () => number
  readonly close: () => Promise<void>
}

export class SimulatedApiServerFailed extends Schema.TaggedError<SimulatedApiServerFailed>()("SimulatedApiServerFailed", {
  message: Schema.String,
}) {}

const maxBodyBytes = 3 * 1024 * 1024
const requestLogLimit = 10_000

const readBody = (request: IncomingMessage): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBodyBytes) chunks.push(chunk)
    })
    request.on("end", () => resolve(size > maxBodyBytes ? undefined : Buffer.concat(chunks)))
    request.on("error", reject)
  })

const verbFor = (method: string, hasName: boolean, watch: boolean, subresource: boolean): ApiRequest["verb"] | "watch" | undefined => {
  // A subresource is read and written whole: get, put, patch.
  if (subresource && (method === "POST" || method === "DELETE" || watch)) return undefined
  if (method === "GET") return hasName ? "get" : watch ? "watch" : "list"
  if (method === "POST" && !hasName) return "create"
  if (method === "PUT" && hasName) return "update"
  if (method === "PATCH" && hasName) return "patch"
  if (method === "DELETE" && hasName) return "delete"
  return undefined
}

/** Starts the server; `close()` ends every connection, open watches included. */
export const startSimulatedApiServer = (cluster: SimulatedCluster, options: SimulatedApiServerOptions = {}): Promise<SimulatedApiServer> => {
  const token = options.token ?? randomBytes(24).toString("hex")
  const httpRequests: Array<HttpRequestRecord> = []
  const sockets = new Set<Socket>()
  let accepted = 0
  const { tls } = options
  const authenticated = (request: IncomingMessage): boolean =>
    request.headers.authorization === `Bearer ${token}` || (tls?.clientCa !== undefined && (request.socket as TLSSocket).authorized === true)

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://simulated")
    const method = request.method ?? "GET"
    const record = (status: number | "none"): void => {
      httpRequests.push({ method, path: url.pathname, query: url.searchParams, status })
      if (httpRequests.length > requestLogLimit) httpRequests.splice(0, httpRequests.length - requestLogLimit)
    }
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record(status)
      response.writeHead(status, { "Content-Type": "application/json", ...headers })
      response.end(JSON.stringify(body))
    }
    const fail = (status: KubeStatus) =>
      json(status.code, statusBody(status), status.retryAfterSeconds === undefined ? {} : { "Retry-After": String(status.retryAfterSeconds) })
    const noAnswer = (): void => {
      record("none")
    }

    const streamExpired = (status: KubeStatus): void => {
      record(200)
      response.writeHead(200, { "Content-Type": "application/json" })
      response.end(`${JSON.stringify({ type: "ERROR", object: statusBody(status) })}\n`)
    }

    const streamWatch = (session: WatchSession, timeoutSeconds: number): void => {
      record(200)
      response.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" })
      response.flushHeaders()
      const timer = timeoutSeconds > 0 ? setTimeout(() => end(false), timeoutSeconds * 1000) : undefined
      let ended = false
      function end(abrupt: boolean) {
        if (ended) return
        ended = true
        if (timer !== undefined) clearTimeout(timer)
        session.close()
        // Abrupt: the events written so far arrive, then the chunked body breaks off unfinished.
        if (abrupt) request.socket.destroySoon()
        else response.end()
      }
      response.on("close", () => end(false))
      session.start({
        onEvent: (line) => {
          if (!ended) response.write(`${JSON.stringify(line)}\n`)
        },
        onEnd: end,
      })
    }

    if (!authenticated(request)) {
      await readBody(request)
      return fail({ code: 401, reason: "Unauthorized", message: "Unauthorized" })
    }
    const target = parseResourcePath(url.pathname, cluster.types)
    if (target === undefined) {
      await readBody(request)
      return fail(notServed)
    }
    if (target.subresource === "exec") {
      await readBody(request)
      return fail({ code: 400, reason: "BadRequest", message: "Upgrade request required" })
    }
    const watchParam = url.searchParams.get("watch")
    const verb = verbFor(method, target.name !== undefined, watchParam === "true" || watchParam === "1", target.subresource !== undefined)
    if (verb === undefined) {
      await readBody(request)
      return fail({ code: 405, reason: "MethodNotAllowed", message: `${method} is not supported on ${url.pathname}` })
    }
    const labelSelector = url.searchParams.get("labelSelector") ?? undefined
    const fieldSelector = url.searchParams.get("fieldSelector") ?? undefined
    const where = {
      ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
      ...(labelSelector === undefined ? {} : { labelSelector }),
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    }

    if (verb === "watch") {
      const resourceVersion = url.searchParams.get("resourceVersion") ?? undefined
      const served = cluster.serveWatch({
        type: target.type,
        ...where,
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      })
      if (served._tag === "NoAnswer") return noAnswer()
      if (Result.isFailure(served.result)) {
        const status = served.result.failure
        // Like the API server's watch cache: an expired resourceVersion is an in-stream ERROR event.
        if (status.code === 410 && status.reason === "Expired") return streamExpired(status)
        return fail(status)
      }
      return streamWatch(served.result.success, Number(url.searchParams.get("timeoutSeconds") ?? "0"))
    }

    const raw = await readBody(request)
    if (raw === undefined) return fail({ code: 413, reason: "RequestEntityTooLarge", message: "the request body is too large" })
    let body: unknown
    if (verb === "create" || verb === "update" || verb === "patch") {
      if (verb === "patch" && !(request.headers["content-type"] ?? "").startsWith("application/merge-patch+json")) {
        return fail({
          code: 415,
          reason: "UnsupportedMediaType",
          message: `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`,
        })
      }
      try {
        body = JSON.parse(raw.toString("utf8"))
      } catch {
        return fail({ code: 400, reason: "BadRequest", message: "the body of the request is not valid JSON" })
      }
    }
    const served = cluster.serve({
      type: target.type,
      verb,
      ...where,
      ...(target.name === undefined ? {} : { name: target.name }),
      ...(target.subresource === undefined ? {} : { subresource: target.subresource }),
      ...(body === undefined ? {} : { body }),
    })
    if (served._tag === "NoAnswer") return noAnswer()
    if (Result.isFailure(served.result)) return fail(served.result.failure)
    return json(verb === "create" ? 201 : 200, served.result.success)
  }

  const listener: RequestListener = (request, response) => {
    handle(request, response).catch((cause: unknown) => {
      if (!response.headersSent) {
        response.writeHead(500, { "Content-Type": "application/json" })
        response.end(JSON.stringify(statusBody({ code: 500, reason: "InternalError", message: String(cause) })))
      } else response.destroy()
    })
  }
  const server =
    tls === undefined
      ? createServer(listener)
      : createHttpsServer(
          { cert: tls.cert, key: tls.key, ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false }) },
          listener,
        )
  // pods/<name>/exec: a WebSocket carrying the command's stdout, stderr and exit status.
  const execProtocols = options.execProtocols ?? ["v5.channel.k8s.io", "v4.channel.k8s.io"]
  const webSockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => [...offered].find((protocol) => execProtocols.includes(protocol)) ?? false,
  })
  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(request.url ?? "/", "http://simulated")
    const record = (status: number | "none", protocol?: string): void => {
      httpRequests.push({
        method: request.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        status,
        ...(protocol === undefined ? {} : { protocol }),
      })
      if (httpRequests.length > requestLogLimit) httpRequests.splice(0, httpRequests.length - requestLogLimit)
    }
    const refuse = (status: KubeStatus) => {
      record(status.code)
      const body = JSON.stringify(statusBody(status))
      socket.end(
        `HTTP/1.1 ${status.code} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    if (!authenticated(request)) return refuse({ code: 401, reason: "Unauthorized", message: "Unauthorized" })
    const target = parseResourcePath(url.pathname, cluster.types)
    if (target?.subresource !== "exec" || target.namespace === undefined || target.name === undefined) return refuse(notServed)
    const command = url.searchParams.getAll("command")
    const container = url.searchParams.get("container") ?? ""
    if (command.length === 0) return refuse({ code: 400, reason: "BadRequest", message: "you must specify at least 1 command" })
    const served = cluster.serveExec({ namespace: target.namespace, pod: target.name, container, command })
    if (served._tag === "NoAnswer") return record("none")
    if (Result.isFailure(served.result)) return refuse(served.result.failure)
    const process = served.result.success
    webSockets.handleUpgrade(request, socket, head, (ws) => {
      record(101, ws.protocol === "" ? undefined : ws.protocol)
      ws.on("close", () => process.kill())
      const send = (channel: number, chunk: Buffer) => new Promise<void>((done) => ws.send(execFrame(channel, chunk), () => done()))
      // The kubelet's first frame: empty, on stdout, telling the client the streams are set up.
      void send(ExecChannel.stdout, Buffer.alloc(0))
      // One frame in flight at a time: a client that stops reading holds the command back.
      process.stdout.on("data", (chunk: Buffer) => {
        process.stdout.pause()
        void send(ExecChannel.stdout, chunk).then(() => process.stdout.resume())
      })
      process.stdout.on("end", () => {
        void process.exit
          .then(({ exitCode, stderr }) => (stderr === "" ? Promise.resolve() : send(ExecChannel.stderr, Buffer.from(stderr))).then(() => exitCode))
          .then((exitCode) => send(ExecChannel.status, Buffer.from(execStatusPayload(command, exitCode))))
          .then(() => ws.close(1000))
      })
    })
  })
  server.on("connection", (socket) => {
    accepted++
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        url: tls === undefined ? `http://${options.host ?? "127.0.0.1"}:${port}` : `https://${tls.urlHost ?? "localhost"}:${port}`,
        port,
        token,
        cluster,
        get httpRequests() {
          return httpRequests
        },
        connections: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })
}

/** The server as a scoped resource: closed when the scope closes. */
export const simulatedApiServer = (
  cluster: SimulatedCluster,
  options: SimulatedApiServerOptions = {},
): Effect.Effect<SimulatedApiServer, SimulatedApiServerFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startSimulatedApiServer(cluster, options),
      catch: (cause) =>
        new SimulatedApiServerFailed({
          message: `cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 0}: ${failureText(cause)}`,
        }),
    }),
    (server) => Effect.promise(server.close),
  )

export interface KubeconfigTarget {
  readonly url: string
  /** The bearer token; without it, `clientCertificate` (PEM, with its key) authenticates. */
  readonly token?: string
  readonly clientCertificate?: { readonly cert: string; readonly key: string }
  /** The CA (PEM) that verifies an https:// server, as `certificate-authority-data`. */
  readonly certificateAuthority?: string
  /** The name its certificate is checked for instead of the URL's host (`tls-server-name`, as OpenShift's localhost-recovery.kubeconfig). */
  readonly tlsServerName?: string
  /** The context's default namespace. */
  readonly namespace?: string
}

/** A kubeconfig document for a server reached with a bearer token or a client certificate. */
export const kubeconfigYaml = (target: KubeconfigTarget): string =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    // client-node refuses plain http unless TLS verification is explicitly off; this server is loopback-only.
    clusters: [
      {
        name: "simulated",
        cluster: {
          server: target.url,
          ...(target.certificateAuthority === undefined
            ? { "insecure-skip-tls-verify": target.url.startsWith("http:") }
            : { "certificate-authority-data": Buffer.from(target.certificateAuthority).toString("base64") }),
          ...(target.tlsServerName === undefined ? {} : { "tls-server-name": target.tlsServerName }),
        },
      },
    ],
    users: [
      {
        name: "simulated",
        user: {
          ...(target.token === undefined ? {} : { token: target.token }),
          ...(target.clientCertificate === undefined
            ? {}
            : {
                "client-certificate-data": Buffer.from(target.clientCertificate.cert).toString("base64"),
                "client-key-data": Buffer.from(target.clientCertificate.key).toString("base64"),
              }),
        },
      },
    ],
    contexts: [
      {
        name: "simulated",
        context: { cluster: "simulated", user: "simulated", ...(target.namespace === undefined ? {} : { namespace: target.namespace }) },
      },
    ],
    "current-context": "simulated",
  })

/** Writes the kubeconfig to `path` (mode 0600: it holds the token), atomically. */
export const writeKubeconfig = (path: string, target: KubeconfigTarget): Effect.Effect<void, SimulatedApiServerFailed> =>
  Effect.tryPromise({
    try: async () => {
      await mkdir(dirname(path), { recursive: true })
      const temporary = `${path}.${randomBytes(4).toString("hex")}.tmp`
      try {
        await writeFile(temporary, kubeconfigYaml(target), { mode: 0o600, flush: true })
        await chmod(temporary, 0o600)
        await rename(temporary, path)
      } catch (cause) {
        await rm(temporary, { force: true })
        throw cause
      }
    },
    catch: (cause) =>
      new SimulatedApiServerFailed({
        message: `cannot write the kubeconfig ${path}: ${failureText(cause)}`,
      }),
  })
