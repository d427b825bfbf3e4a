/**
 * A gRPC client channel on Node's own HTTP/2 (one connection per endpoint): unary calls and
 * server-streaming calls, TLS with a client certificate. The snapshot stream needs what a
 * generated client hides: a large flow-control window (etcd sends as fast as etcdctl's Go
 * client reads), Node stream backpressure end to end (an unread stream stops HTTP/2 window
 * updates, so etcd waits), and messages handed over as views of the received bytes.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2"
import { isIP } from "node:net"
import type { Readable } from "node:stream"
import { Cause, Effect, Stream } from "effect"
import { connectionFailure, GrpcCallFailed } from "./grpc-call-failed.ts"
import { Deframer, frameMessage, type StreamDecoder } from "./grpc-framing.ts"
import { GrpcStatus } from "./grpc-status.ts"
import { GrpcWireError } from "../../domain/protobuf-wire.ts"

export interface ChannelOptions {
  /** `https://host:port` or `http://host:port`. */
  readonly endpoint: string
  readonly tls?: { readonly ca: Uint8Array; readonly cert: Uint8Array; readonly key: Uint8Array } | undefined
  /** HTTP/2 flow-control window for the connection and each stream. */
  readonly windowBytes: number
  /**
   * Received bytes a server stream buffers for its consumer before it pauses (default
   * `windowBytes`); the window lets the server send ahead while they wait.
   */
  readonly bufferBytes?: number
  readonly connectTimeoutMs: number
}

export interface GrpcChannel {
  /** One request, one response message. */
  readonly unary: (path: string, request: Uint8Array, timeoutMs: number) => Effect.Effect<Uint8Array, GrpcCallFailed>
  /** One request, a stream of response items (as `decoder` makes them of the body), pulled with backpressure. */
  readonly serverStream: <A>(path: string, request: Uint8Array, decoder: () => StreamDecoder<A>) => Stream.Stream<A, GrpcCallFailed>
  readonly close: Effect.Effect<void>
}

/** This client's own verdict on a call (a deadline, a response it cannot use). */
const clientFailure = (status: number, detail: string) => new GrpcCallFailed({ status, origin: "client", detail })

const grpcStatusOf = (headers: IncomingHttpHeaders): { code: number; message: string } | undefined => {
  const raw = headers["grpc-status"]
  if (raw === undefined) return undefined
  const message = headers["grpc-message"]
  let text = typeof message === "string" ? message : ""
  try {
    text = decodeURIComponent(text)
  } catch {
    // not percent-encoded after all: keep it as sent
  }
  return { code: Number(raw), message: text }
}

/**
 * The items `decode` makes of a readable's chunks as they arrived (no re-concatenation, unlike
 * `read()`), buffering at most about `highWaterBytes`: past it the readable is paused, which for
 * an HTTP/2 stream stops the window updates, so the sender waits. Each pull decodes everything
 * buffered so far into one array (waiting for more while that yields no item): one pull per
 * batch of chunks, not one stream per chunk, keeps the per-chunk cost off the hot path. A throw
 * from `decode` fails the stream through `onError`.
 */
export const boundedChunks = <A, E>(
  readable: Readable,
  highWaterBytes: number,
  decode: (chunk: Uint8Array) => ReadonlyArray<A>,
  onError: (e: unknown) => E,
): Stream.Stream<A, E> => {
  // Listeners go on at once: an error or close before the first pull must not be missed.
  let queue: Array<Uint8Array> = []
  let queued = 0
  let ended = false
  let failure: { readonly error: unknown } | undefined
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  readable.on("data", (chunk: Buffer) => {
    queue.push(chunk)
    queued += chunk.length
    if (queued >= highWaterBytes) readable.pause()
    notify()
  })
  readable.once("end", () => {
    ended = true
    notify()
  })
  readable.once("error", (error) => {
    failure ??= { error }
    notify()
  })
  // A stream destroyed with its connection may close without an error of its own.
  readable.once("close", () => {
    if (!ended) failure ??= { error: new Error("the stream closed before its end") }
    notify()
  })
  const pull: Effect.Effect<readonly [A, ...Array<A>], E | Cause.Done> = Effect.suspend(() => {
    if (queue.length > 0) {
      const chunks = queue
      queue = []
      queued = 0
      const out: Array<A> = []
      try {
        for (const chunk of chunks) for (const item of decode(chunk)) out.push(item)
      } catch (error) {
        failure = { error }
        return Effect.fail(onError(error))
      }
      if (readable.isPaused()) readable.resume()
      return out.length > 0 ? Effect.succeed(out as unknown as readonly [A, ...Array<A>]) : pull
    }
    if (failure !== undefined) return Effect.fail(onError(failure.error))
    if (ended) return Cause.done()
    return Effect.flatMap(
      Effect.callback<void>((resume) => {
        wake = () => resume(Effect.void)
        return Effect.sync(() => (wake = undefined))
      }),
      () => pull,
    )
  })
  readable.resume()
  return Stream.fromPull(Effect.succeed(pull))
}

/** Makes a channel; the connection is opened on first use and again after it broke. */
export const makeChannel = (options: ChannelOptions): GrpcChannel => {
  const url = new URL(options.endpoint)
  let session: Promise<ClientHttp2Session> | undefined
  let lastSessionError: Error | undefined

  const open = (): Promise<ClientHttp2Session> =>
    new Promise((resolve, reject) => {
      lastSessionError = undefined
      const host = url.hostname.replace(/^\[|\]$/g, "")
      const s = connect(options.endpoint, {
        settings: { initialWindowSize: options.windowBytes },
        ...(options.tls === undefined
          ? {}
          : {
              ca: Buffer.from(options.tls.ca),
              cert: Buffer.from(options.tls.cert),
              key: Buffer.from(options.tls.key),
              // SNI only for names: an IP address is verified against the certificate's IP SANs.
              ...(isIP(host) === 0 ? { servername: host } : {}),
            }),
      })
      const timer = setTimeout(() => {
        s.destroy(
          new GrpcCallFailed({
            status: GrpcStatus.UNAVAILABLE,
            origin: "connecting",
            detail: `connection not established within ${options.connectTimeoutMs} ms (Deadline exceeded)`,
          }),
        )
      }, options.connectTimeoutMs)
      s.once("connect", () => {
        clearTimeout(timer)
        s.setLocalWindowSize(options.windowBytes)
        resolve(s)
      })
      s.on("error", (e) => {
        clearTimeout(timer)
        lastSessionError = e
        reject(e)
      })
      s.once("close", () => {
        clearTimeout(timer)
        session = undefined
        reject(lastSessionError ?? new GrpcCallFailed({ status: GrpcStatus.UNAVAILABLE, origin: "connecting", detail: "connection closed" }))
      })
      s.once("goaway", () => {
        session = undefined
      })
    })

  const sessionNow = Effect.tryPromise({
    try: () => {
      session ??= open()
      const current = session
      current.catch(() => {
        if (session === current) session = undefined
      })
      return current
    },
    catch: (e) => connectionFailure("connecting", e),
  })

  const request = (s: ClientHttp2Session, path: string, body: Uint8Array): ClientHttp2Stream => {
    const stream = s.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc",
      te: "trailers",
    })
    stream.end(frameMessage(body))
    return stream
  }

  /** Why a stream ended without a gRPC status: the connection's own error if it had one. */
  const broken = (e: unknown): GrpcCallFailed => {
    if (e instanceof GrpcCallFailed) return e
    if (e instanceof GrpcWireError) return clientFailure(GrpcStatus.INTERNAL, `malformed response: ${e.message}`)
    return connectionFailure("connection", lastSessionError ?? e)
  }
  /** A stream that closed without a gRPC status: the connection's error if it had one, else `detail`. */
  const withoutStatus = (detail: string): GrpcCallFailed =>
    lastSessionError === undefined
      ? new GrpcCallFailed({ status: GrpcStatus.UNAVAILABLE, origin: "connection", detail })
      : connectionFailure("connection", lastSessionError)
  /** The failure a status other than OK reports. */
  const statusFailure = (status: { code: number; message: string }) => new GrpcCallFailed({ status: status.code, origin: "etcd", detail: status.message })

  const unary: GrpcChannel["unary"] = (path, body, timeoutMs) =>
    Effect.flatMap(sessionNow, (s) =>
      Effect.callback<Uint8Array, GrpcCallFailed>((resume) => {
        const stream = request(s, path, body)
        const deframer = new Deframer()
        const messages: Array<Uint8Array> = []
        let status: { code: number; message: string } | undefined
        let settled = false
        const settle = (effect: Effect.Effect<Uint8Array, GrpcCallFailed>) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resume(effect)
        }
        const timer = setTimeout(() => {
          stream.close(constants.NGHTTP2_CANCEL)
          settle(Effect.fail(clientFailure(GrpcStatus.DEADLINE_EXCEEDED, `Deadline exceeded after ${timeoutMs} ms`)))
        }, timeoutMs)
        stream.on("response", (headers) => (status ??= grpcStatusOf(headers)))
        stream.on("trailers", (trailers) => (status ??= grpcStatusOf(trailers)))
        stream.on("data", (chunk: Buffer) => {
          try {
            messages.push(...deframer.push(chunk))
          } catch (e) {
            stream.close(constants.NGHTTP2_CANCEL)
            settle(Effect.fail(broken(e)))
          }
        })
        stream.on("error", (e) => settle(Effect.fail(broken(e))))
        stream.on("close", () => {
          if (status === undefined) return settle(Effect.fail(withoutStatus("stream closed without a gRPC status")))
          if (status.code !== GrpcStatus.OK) return settle(Effect.fail(statusFailure(status)))
          const message = messages[0]
          settle(message === undefined ? Effect.fail(clientFailure(GrpcStatus.INTERNAL, "no response message")) : Effect.succeed(message))
        })
        return Effect.sync(() => {
          clearTimeout(timer)
          if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL)
        })
      }),
    )

  const serverStream: GrpcChannel["serverStream"] = (path, body, makeDecoder) =>
    Stream.unwrap(
      Effect.map(sessionNow, (s) => {
        const stream = request(s, path, body)
        let status: { code: number; message: string } | undefined
        stream.on("response", (headers) => (status ??= grpcStatusOf(headers)))
        stream.on("trailers", (trailers) => (status ??= grpcStatusOf(trailers)))
        const decoder = makeDecoder()
        const messages = boundedChunks(stream, options.bufferBytes ?? options.windowBytes, (chunk) => decoder.push(chunk), broken)
        // A stream that ends is only complete with status OK and no partial message left.
        const ending = Stream.suspend(() =>
          status === undefined
            ? Stream.fail(withoutStatus("stream ended without a gRPC status"))
            : status.code !== GrpcStatus.OK
              ? Stream.fail(statusFailure(status))
              : decoder.idle
                ? Stream.empty
                : Stream.fail(clientFailure(GrpcStatus.INTERNAL, "stream ended inside a message")),
        )
        return Stream.concat(messages, ending).pipe(Stream.ensuring(Effect.sync(() => (stream.closed ? undefined : stream.close(constants.NGHTTP2_CANCEL)))))
      }),
    )

  return {
    unary,
    serverStream,
    close: Effect.promise(async () => {
      const current = session
      session = undefined
      if (current === undefined) return
      const s = await current.catch(() => undefined)
      if (s === undefined || s.closed || s.destroyed) return
      await new Promise<void>((done) => {
        s.close(() => done())
        setTimeout(() => {
          s.destroy()
          done()
        }, 1000).unref()
      })
    }),
  }
}
