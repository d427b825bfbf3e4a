/**
 * The live Layer against the stub API server over HTTPS, as a real cluster is reached: the server verified with the
 * kubeconfig's `certificate-authority-data`, the user a client certificate (an installer's system:admin kubeconfig) or
 * a token. Requests, a watch and `pods/exec` (a WebSocket, set up apart from client-node's requests) alike.
 */
import { randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Kube } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { startSimulatedApiServer, writeKubeconfig, type KubeconfigTarget, type SimulatedApiServer } from "../../../src/simulation/simulated-api-server.ts"
import { certificateFactory, type IssuedCertificate } from "../../support/encrypted-fixtures.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { errorOf, heldPodCluster, readWatchExec, sha256 } from "./held-pod-cluster.ts"

const dir = tempDir("kube-https")
const certs = certificateFactory(dir)
const day = 86_400_000
const now = Date.now()
const from = new Date(now - day)
const to = new Date(now + 30 * day)
const servingCa = certs.ca("serving-ca", from, to)
const serving = certs.leaf("localhost", servingCa, from, to)
const clientCa = certs.ca("client-ca", from, to)
const admin = certs.leaf("system-admin", clientCa, from, to)
const strangerCa = certs.ca("stranger-ca", from, to)
const stranger = certs.leaf("stranger", strangerCa, from, to)
const recovery = certs.leaf("localhost-recovery", servingCa, from, to)
const keyOf = (issued: IssuedCertificate) => readFileSync(issued.keyPath, "utf8")

const content = randomBytes(3 * 1024 * 1024 + 5)
writeFileSync(join(dir, "snapshot.db"), content)

const servers: Array<SimulatedApiServer> = []
afterAll(() => Promise.all(servers.map((s) => s.close())))

/** An HTTPS stub API server over `heldPodCluster`, presenting `presenting`, taking client certificates `clientCa` issued. */
const serve = async (presenting: IssuedCertificate = serving) => {
  const server = await startSimulatedApiServer(heldPodCluster(dir), {
    tls: { cert: presenting.certPem, key: keyOf(presenting), clientCa: clientCa.certPem },
  })
  servers.push(server)
  return server
}

let serial = 0
/** What the live Layer reads, watches and execs with the kubeconfig `user` gives it. */
const through = async (server: SimulatedApiServer, user: Omit<KubeconfigTarget, "url" | "certificateAuthority">) => {
  const kubeconfig = join(dir, `kubeconfig-${++serial}`)
  await Effect.runPromise(writeKubeconfig(kubeconfig, { url: server.url, certificateAuthority: servingCa.certPem, ...user }))
  return readWatchExec(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 5_000 }), "snapshot.db")
}

describe("live Kube Layer over HTTPS (the server verified with the kubeconfig's CA)", () => {
  it("a client certificate the API server's client CA issued (an installer's kubeconfig): a read, a watch and an exec, whole", async () => {
    const server = await serve()
    const seen = await through(server, { clientCertificate: { cert: admin.certPem, key: keyOf(admin) } })
    expect(Exit.isSuccess(seen.get) && seen.get.value.data).toEqual({ state: "Complete" })
    expect(Exit.isSuccess(seen.watched) && seen.watched.value.length).toBe(1)
    expect(Exit.isSuccess(seen.exec) ? seen.exec.value : errorOf(seen.exec)).toBe(sha256(content))
    expect(server.httpRequests.filter((r) => r.path.endsWith("/exec")).map((r) => r.status)).toEqual([101])
  })

  it("a bearer token: the same, the exec's WebSocket sending it as the requests do", async () => {
    const server = await serve()
    const seen = await through(server, { token: server.token })
    expect(Exit.isSuccess(seen.get)).toBe(true)
    expect(Exit.isSuccess(seen.watched)).toBe(true)
    expect(Exit.isSuccess(seen.exec) ? seen.exec.value : errorOf(seen.exec)).toBe(sha256(content))
  })

  it("tls-server-name (OpenShift's localhost-recovery.kubeconfig: https://localhost, a certificate for localhost-recovery): checked for that name", async () => {
    const server = await serve(recovery)
    const named = await through(server, { clientCertificate: { cert: admin.certPem, key: keyOf(admin) }, tlsServerName: "localhost-recovery" })
    expect(Exit.isSuccess(named.get)).toBe(true)
    expect(Exit.isSuccess(named.exec) ? named.exec.value : errorOf(named.exec)).toBe(sha256(content))
    // Without it, the certificate does not name the URL's host: refused, as kubectl would.
    const unnamed = await through(server, { clientCertificate: { cert: admin.certPem, key: keyOf(admin) } })
    expect(errorOf(unnamed.get)).toMatchObject({ _tag: "Unavailable", reason: "CertificateRejected" })
  })

  it("a client certificate another CA issued: Unauthorized (401) for the read and the exec, and the watch says it is failing for it", async () => {
    const server = await serve()
    const seen = await through(server, { clientCertificate: { cert: stranger.certPem, key: keyOf(stranger) } })
    for (const exit of [seen.get, seen.exec]) expect(errorOf(exit)).toMatchObject({ _tag: "Unauthorized", code: 401 })
    // A watch never fails: it says it is failing, and why, and goes on trying.
    expect(Exit.isSuccess(seen.watched) && seen.watched.value).toMatchObject([{ type: "FAILING", error: { _tag: "Unauthorized", code: 401 } }])
  })
})
