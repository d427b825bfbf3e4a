/** The live Layer against an HTTPS server whose certificate fails verification: one attempt, and a message saying what to check. */
import { readFileSync, writeFileSync } from "node:fs"
import { createServer as createHttpServer } from "node:http"
import { createServer, type Server } from "node:https"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Kube } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { certificateFactory, type IssuedCertificate } from "../../support/encrypted-fixtures.ts"
import { tempDir } from "../../support/temp-dir.ts"

const dir = tempDir("kube-tls")
const certs = certificateFactory(dir)
const day = 86_400_000
const now = Date.now()
const trusted = certs.ca("trusted-ca", new Date(now - 10 * day), new Date(now + 365 * day))
const other = certs.ca("other-ca", new Date(now - 10 * day), new Date(now + 365 * day))

const servers: Array<Server> = []
afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))

/** An HTTPS server presenting `leaf`, counting the TCP connections it accepts; its URL. */
const serve = async (leaf: IssuedCertificate) => {
  const server = createServer({ cert: readFileSync(leaf.certPath), key: readFileSync(leaf.keyPath) }, (_, response) => response.end("{}"))
  let connections = 0
  server.on("connection", () => connections++)
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const { port } = server.address() as { port: number }
  return { url: `https://localhost:${port}`, connections: () => connections }
}

const failure = (url: string) => {
  const kubeconfig = join(dir, `kubeconfig-${servers.length}`)
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: url, "certificate-authority-data": Buffer.from(trusted.certPem).toString("base64") } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  )
  const retry = { maxRetries: 3, baseDelayMillis: 5, maxDelayMillis: 50, jitter: 0 }
  return Effect.runPromise(
    Effect.flip(Effect.flatMap(Kube, (kube) => kube.configMaps.get("ns", "a")).pipe(Effect.provide(Kube.live(KubeConfigSource.file(kubeconfig), { retry })))),
  )
}

describe("live Kube Layer: a server certificate that fails verification", () => {
  it("an https:// server that answers in plain http (kubectl proxy's address): not retried, and named as no API server", async () => {
    const plain = createHttpServer((_, response) => response.end("{}"))
    let connections = 0
    plain.on("connection", () => connections++)
    servers.push(plain as unknown as Server)
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r))
    const url = `https://127.0.0.1:${(plain.address() as { port: number }).port}`
    const error = await failure(url)
    expect(error).toMatchObject({ _tag: "Unavailable", reason: "CertificateRejected", code: 0 })
    expect(error.message).toMatch(
      /answered, but not in TLS \((EPROTO|ERR_SSL_WRONG_VERSION_NUMBER)\): it is no API server \(a plain http endpoint, such as kubectl proxy's\?\)/,
    )
    expect(error.message).toContain(`the server at ${url} answered`)
    expect(connections).toBe(1)
  })

  it("an expired one: not retried, and the message says it expired and what to check", async () => {
    const server = await serve(certs.leaf("localhost", trusted, new Date(now - 10 * day), new Date(now - day)))
    const error = await failure(server.url)
    expect(error).toMatchObject({ _tag: "Unavailable", reason: "CertificateRejected", code: 0 })
    expect(error.message).toContain(`the API server at ${server.url} presented a TLS certificate this client rejects (CERT_HAS_EXPIRED): it has expired`)
    expect(server.connections()).toBe(1)
  })

  it("one another CA signed: not retried, and the message points at the kubeconfig's certificate-authority", async () => {
    const server = await serve(certs.leaf("localhost", other, new Date(now - day), new Date(now + 30 * day)))
    const error = await failure(server.url)
    expect(error).toMatchObject({ _tag: "Unavailable", reason: "CertificateRejected" })
    expect(error.message).toContain("(UNABLE_TO_VERIFY_LEAF_SIGNATURE): its issuer is not among the kubeconfig's certificate-authority certificates")
    expect(server.connections()).toBe(1)
  })
})
