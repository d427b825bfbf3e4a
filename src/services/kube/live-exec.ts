/**
 * `pods/<name>/exec` over a WebSocket (`ws`, with the TLS material and credentials the `KubeConfig` gives it), for the
 * live transport. client-node's own `Exec` is not used: it turns a refused upgrade (403, 404) into a text-only error,
 * and writes stdout into a stream without regard for the reader. Here a refused upgrade is the API's Status, as for any
 * request, and stdout is a pulled stream: the socket is paused while the reader has 1 MiB unread.
 */
import type { IncomingMessage } from "node:http"
import { Readable } from "node:stream"
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Stream } from "effect"
import WebSocket from "ws"
import { clientSideError, type ExecCommandFailed, StatusReason, Unauthorized, type KubeError, type ResourceRef } from "./errors.ts"
import { credentialsFailureDetail } from "./credentials-failure.ts"
import { ExecChannel, execOutcomeOf, execSubprotocols, type ExecOutcome } from "./exec-protocol.ts"
import { execVerbs, kubeEndpoints, resourcePath } from "./resources.ts"
import { assertVerbAllowed, execFailure, type TransportExec } from "./transport.ts"
import { failureText } from "../../domain/failure-text.ts"

const readAhead = 1024 * 1024
const stderrKept = 4096
const refusalBodyMax = 64 * 1024

export interface LiveExecContext {
  readonly config: KubeConfig
  /** The API server's URL, no trailing slash. */
  readonly server: string
  /** The server as messages name it (with the proxy it is reached through). */
  readonly shown: string
  /** Deadline of the upgrade (the connection and the answer to it). */
  readonly handshakeMillis: number
  /** A command that sends nothing this long while its reader waits is taken as hung. */
  readonly idleMillis: number
  readonly networkError: (cause: unknown, timedOut: boolean, ref: ResourceRef) => KubeError
  /** The tagged error for a refused upgrade: its HTTP status, headers and body. */
  readonly refusal: (response: { readonly status: number; readonly headers: Readonly<Record<string, string>> }, text: string, ref: ResourceRef) => KubeError
}

const execUrl = (server: string, request: TransportExec): string => {
  const pairs: Array<[string, string]> = [
    ["container", request.container],
    ...request.command.map((arg): [string, string] => ["command", arg]),
    ["stdout", "true"],
    ["stderr", "true"],
  ]
  const query = new URLSearchParams(pairs)
  const path = resourcePath(kubeEndpoints.podExec.type, request.namespace, request.pod, "exec")
  return `${server.replace(/^http/, "ws")}${path}?${query.toString()}`
}

const headersOf = (response: IncomingMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(response.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : Array.isArray(v) ? [[k, v.join(", ")]] : [])))

const readBounded = (response: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    let size = 0
    response.on("data", (chunk: Buffer) => {
      if (size < refusalBodyMax) chunks.push(chunk)
      size += chunk.length
    })
    response.on("end", () => resolve(Buffer.concat(chunks).subarray(0, refusalBodyMax).toString("utf8")))
    response.on("error", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

/** The command's stdout as a Node stream that ends once it exited 0, or errors with the tagged failure. */
const openExec = (context: LiveExecContext, request: TransportExec, options: WebSocket.ClientOptions): Readable => {
  const ref: ResourceRef = { kind: "Pod", namespace: request.namespace, name: request.pod }
  let socket: WebSocket | undefined
  let outcome: ExecOutcome | undefined
  let stderr = ""
  let settled = false
  let paused = false
  let idleTimer: NodeJS.Timeout | undefined
  const output = new Readable({
    highWaterMark: readAhead,
    read() {
      if (paused) {
        paused = false
        socket?.resume()
        armIdle()
      }
    },
    destroy(error, callback) {
      settled = true
      clearTimeout(idleTimer)
      if (socket !== undefined && socket.readyState !== WebSocket.CLOSED) socket.terminate()
      callback(error)
    },
  })
  const fail = (error: KubeError | ExecCommandFailed) => {
    if (!settled) output.destroy(error as unknown as Error)
  }
  const armIdle = () => {
    clearTimeout(idleTimer)
    idleTimer = setTimeout(
      () => fail(clientSideError(StatusReason.ClientTimeout, `the command \`${request.command.join(" ")}\` sent nothing for ${context.idleMillis} ms`, ref)),
      context.idleMillis,
    )
  }
  let handshakeTimedOut = false
  const handshake = setTimeout(() => {
    handshakeTimedOut = true
    socket?.terminate()
  }, context.handshakeMillis)
  socket = new WebSocket(execUrl(context.server, request), [...execSubprotocols], { ...options, perMessageDeflate: false })
  socket.on("unexpected-response", (_request, response) => {
    clearTimeout(handshake)
    void readBounded(response).then((text) => fail(context.refusal({ status: response.statusCode ?? 0, headers: headersOf(response) }, text, ref)))
  })
  socket.on("upgrade", (response) => {
    const taken = response.headers["sec-websocket-protocol"]
    if (taken === undefined || !(execSubprotocols as ReadonlyArray<string>).includes(taken)) {
      clearTimeout(handshake)
      fail(
        clientSideError(
          StatusReason.ConnectionFailed,
          `the API server at ${context.shown} took ${taken === undefined ? "none" : `"${taken}"`} of the exec protocols offered (${execSubprotocols.join(", ")}): a proxy between may drop the Sec-WebSocket-Protocol header, or the API server is older than Kubernetes 1.4`,
          ref,
        ),
      )
    }
  })
  socket.on("open", () => {
    clearTimeout(handshake)
    armIdle()
  })
  socket.on("error", (cause) => {
    clearTimeout(handshake)
    fail(context.networkError(cause, handshakeTimedOut, ref))
  })
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (settled) return
    armIdle()
    const frame = isBinary ? data : Buffer.from(data)
    const channel = frame[0]
    const payload = frame.subarray(1)
    if (channel === ExecChannel.stdout) {
      if (payload.length > 0 && !output.push(payload)) {
        paused = true
        clearTimeout(idleTimer)
        socket?.pause()
      }
    } else if (channel === ExecChannel.stderr) {
      if (stderr.length < stderrKept) stderr = (stderr + payload.toString("utf8")).slice(0, stderrKept)
    } else if (channel === ExecChannel.status) {
      outcome = execOutcomeOf(payload.toString("utf8"))
    }
  })
  socket.on("close", () => {
    clearTimeout(handshake)
    clearTimeout(idleTimer)
    if (settled) return
    if (outcome === undefined) {
      fail(clientSideError(StatusReason.ConnectionFailed, `the exec connection to ${context.shown} ended before the command's exit status`, ref))
    } else if (outcome._tag === "Failed") {
      fail(execFailure(request, outcome.exitCode, outcome.message, stderr))
    } else {
      settled = true
      output.push(null)
    }
  })
  return output
}

/** The transport's `exec` for a loaded configuration. */
export const liveExec =
  (context: LiveExecContext) =>
  (request: TransportExec): Stream.Stream<Uint8Array, KubeError | ExecCommandFailed> =>
    Stream.unwrap(
      Effect.gen(function* () {
        for (const verb of execVerbs) assertVerbAllowed(kubeEndpoints.podExec, verb)
        const ref: ResourceRef = { kind: "Pod", namespace: request.namespace, name: request.pod }
        const options: WebSocket.ClientOptions = {}
        yield* Effect.tryPromise({
          try: () => context.config.applyToHTTPSOptions(options),
          catch: (cause) =>
            new Unauthorized({
              ...ref,
              reason: "CredentialsUnavailable",
              code: 0,
              message: `cannot authenticate to the API server at ${context.shown}: ${credentialsFailureDetail(cause)}`,
            }),
        })
        return NodeStream.fromReadable<Uint8Array, KubeError | ExecCommandFailed>({
          evaluate: () => openExec(context, request, options),
          onError: (error) =>
            typeof error === "object" && error !== null && "_tag" in error
              ? (error as KubeError | ExecCommandFailed)
              : clientSideError(StatusReason.ConnectionFailed, `the exec connection failed: ${failureText(error)}`, ref),
        })
      }),
    )
