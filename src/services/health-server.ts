/**
 * The operator's probe and metrics endpoint: `/healthz` (the process serves requests),
 * `/readyz` (the controller has completed a first sync and its watches run) and `/metrics`.
 * A scoped resource: the server closes when its scope does.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Schema } from "effect"

export class HealthServerFailed extends Schema.TaggedError<HealthServerFailed>()("HealthServerFailed", {
  port: Schema.Number,
  message: Schema.String,
}) {}

export interface HealthEndpoints {
  readonly ready: () => boolean
  readonly metrics: () => Promise<{ readonly body: string; readonly contentType: string }>
}

/**
 * Serves the endpoints on `host:port` (port 0: any free port); yields the bound port. Without `host`, on every
 * address: IPv6 and IPv4 where the node has IPv6 (a pod of an IPv6 single-stack cluster is probed and scraped at
 * its IPv6 address), IPv4 otherwise.
 */
export const serveHealth = (endpoints: HealthEndpoints, port: number, host?: string) =>
  Effect.acquireRelease(
    Effect.callback<Server, HealthServerFailed>((resume) => {
      const server = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0]
        const text = (code: number, body: string) => {
          res.writeHead(code, { "content-type": "text/plain; charset=utf-8" })
          res.end(body)
        }
        if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n")
        if (path === "/healthz") return text(200, "ok\n")
        if (path === "/readyz") return endpoints.ready() ? text(200, "ok\n") : text(503, "not ready\n")
        if (path === "/metrics") {
          endpoints.metrics().then(
            ({ body, contentType }) => {
              res.writeHead(200, { "content-type": contentType })
              res.end(body)
            },
            (e: unknown) => text(500, `metrics failed: ${String(e)}\n`),
          )
          return
        }
        text(404, "not found\n")
      })
      server.once("error", (e) =>
        resume(Effect.fail(new HealthServerFailed({ port, message: `cannot listen on ${host === undefined ? "port " : `${host}:`}${port}: ${e.message}` }))),
      )
      const listening = () => resume(Effect.succeed(server))
      if (host === undefined) server.listen(port, listening)
      else server.listen(port, host, listening)
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      }),
  ).pipe(Effect.map((server) => (server.address() as AddressInfo).port))
