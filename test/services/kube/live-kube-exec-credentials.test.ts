/**
 * A kubeconfig whose user is an exec credential plugin (`users[].user.exec`, as `oc login --exec-plugin=oc-oidc` writes
 * for OpenShift with an external OIDC provider): the token the plugin prints authenticates requests and `pods/exec`
 * alike; a plugin that fails is refused with its words, before anything is asked of the cluster.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Exit } from "effect"
import { describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"
import { Kube } from "../../../src/services/kube/kube.ts"
import { KubeConfigSource } from "../../../src/services/kube/live-transport.ts"
import { errorOf, heldPodCluster, readWatchExec, sha256 } from "./held-pod-cluster.ts"
import { stubServers } from "./stub-servers.ts"

const stub = stubServers("exec-credentials-")

/** The kubeconfig `serve` wrote, its user replaced by an exec plugin: a script printing `body` (on stderr unless it exits 0) and exiting `exitCode`. */
const withPlugin = (kubeconfig: string, body: string, exitCode = 0) => {
  const plugin = join(stub.dir(), `plugin-${Math.random().toString(36).slice(2)}.sh`)
  writeFileSync(plugin, `#!/bin/sh\ncat <<'EOF'${exitCode === 0 ? "" : " >&2"}\n${body}\nEOF\nexit ${exitCode}\n`)
  chmodSync(plugin, 0o700)
  const config = parse(readFileSync(kubeconfig, "utf8"))
  config.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } }
  writeFileSync(kubeconfig, stringify(config), { mode: 0o600 })
}

const credential = (token: string) =>
  JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token, expirationTimestamp: "2099-01-01T00:00:00Z" } })

const seen = (kubeconfig: string) => readWatchExec(Kube.live(KubeConfigSource.file(kubeconfig), { requestTimeoutMillis: 5_000 }), "file")

describe("live Kube Layer with an exec credential plugin", () => {
  it("takes the token the plugin prints, for requests and pods/exec alike", async () => {
    const dir = stub.dir()
    writeFileSync(join(dir, "file"), "held backup bytes")
    const { server, kubeconfig } = await stub.serve(heldPodCluster(dir))
    withPlugin(kubeconfig, credential(server.token))
    const { get, exec } = await seen(kubeconfig)
    expect(Exit.isSuccess(get) && get.value.data).toEqual({ state: "Complete" })
    expect(Exit.isSuccess(exec) ? exec.value : errorOf(exec)).toBe(sha256(Buffer.from("held backup bytes")))
  })

  it("a token the server does not take: Unauthorized (401) for both", async () => {
    const { kubeconfig } = await stub.serve(heldPodCluster(stub.dir()))
    withPlugin(kubeconfig, credential("not-the-token"))
    const { get, exec } = await seen(kubeconfig)
    for (const exit of [get, exec]) expect(errorOf(exit)).toMatchObject({ _tag: "Unauthorized", code: 401 })
  })

  it("a plugin that fails: refused with its words, nothing asked of the server", async () => {
    const { server, kubeconfig } = await stub.serve(heldPodCluster(stub.dir()))
    withPlugin(kubeconfig, "error: the OIDC provider is unreachable", 1)
    const { get, exec } = await seen(kubeconfig)
    for (const exit of [get, exec]) {
      expect(errorOf(exit)).toMatchObject({ _tag: "Unauthorized", reason: "CredentialsUnavailable" })
      expect((errorOf(exit) as { message: string }).message).toContain("error: the OIDC provider is unreachable")
    }
    expect(server.httpRequests).toEqual([])
  })

  it("a plugin whose output is no ExecCredential: refused without quoting it (it may hold the token)", async () => {
    const { server, kubeconfig } = await stub.serve(heldPodCluster(stub.dir()))
    withPlugin(kubeconfig, '{"status": {"token": "sha256~SECRET-TOKEN"')
    const { get, exec } = await seen(kubeconfig)
    for (const exit of [get, exec]) {
      const message = (errorOf(exit) as { message: string }).message
      expect(message).toContain("not a valid ExecCredential JSON document")
      expect(message).not.toContain("SECRET-TOKEN")
    }
    expect(server.httpRequests).toEqual([])
  })
})
