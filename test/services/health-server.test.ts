import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { serveHealth } from "../../src/services/health-server.ts"

describe("health server", () => {
  it("answers /healthz always, /readyz by readiness, /metrics from the registry, and closes with its scope", async () => {
    let ready = false
    const port = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* serveHealth(
            { ready: () => ready, metrics: async () => ({ body: "m 1\n", contentType: "text/plain; version=0.0.4" }) },
            0,
            "127.0.0.1",
          )
          const get = (path: string) => Effect.promise(() => fetch(`http://127.0.0.1:${port}${path}`))
          expect((yield* get("/healthz")).status).toBe(200)
          expect((yield* get("/readyz")).status).toBe(503)
          ready = true
          expect((yield* get("/readyz")).status).toBe(200)
          const metrics = yield* get("/metrics")
          expect(metrics.headers.get("content-type")).toContain("version=0.0.4")
          expect(yield* Effect.promise(() => metrics.text())).toBe("m 1\n")
          expect((yield* get("/nope")).status).toBe(404)
          return port
        }),
      ),
    )
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()
  })

  it("by default answers on every address, IPv6 included: the kubelet's probes and Prometheus reach a pod of an IPv6 single-stack cluster at its IPv6 address", async () => {
    const endpoints = { ready: () => true, metrics: async () => ({ body: "", contentType: "text/plain" }) }
    const statuses = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* serveHealth(endpoints, 0)
          const status = (url: string) =>
            Effect.promise(() =>
              fetch(url).then(
                (r) => r.status,
                (e: unknown) => String(e),
              ),
            )
          return [yield* status(`http://[::1]:${port}/healthz`), yield* status(`http://127.0.0.1:${port}/healthz`)]
        }),
      ),
    )
    expect(statuses).toEqual([200, 200])
  })

  it("fails with the port when it cannot listen", async () => {
    const endpoints = { ready: () => true, metrics: async () => ({ body: "", contentType: "text/plain" }) }
    const { taken, error } = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const taken = yield* serveHealth(endpoints, 0, "127.0.0.1")
          return { taken, error: yield* Effect.flip(serveHealth(endpoints, taken, "127.0.0.1")) }
        }),
      ),
    )
    expect(error._tag).toBe("HealthServerFailed")
    expect(error.port).toBe(taken)
    expect(error.message).toContain(`cannot listen on 127.0.0.1:${taken}`)
  })
})
