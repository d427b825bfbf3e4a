import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { leaseType } from "../../src/services/kube/resources.ts"
import { openShiftFixture } from "../../src/services/kube/openshift-fixtures.ts"
import { startSimulatedApiServer, writeKubeconfig } from "../../src/services/kube/simulated-api-server.ts"
import { makeSimulatedCluster } from "../../src/services/kube/simulated-cluster.ts"
import { configMapData, ns } from "../programs/reconcile-harness.ts"
import { cliEntry } from "../support/tools.ts"

const dir = mkdtempSync(join(tmpdir(), "operator-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("cluster-backup operator", () => {
  it("serves probes and metrics, renders, and on SIGTERM releases the Lease and exits", async () => {
    const cluster = makeSimulatedCluster()
    Result.getOrThrow(openShiftFixture({ seed: 5 }).load(cluster))
    const server = await startSimulatedApiServer(cluster)
    try {
      const kubeconfig = join(dir, "kubeconfig")
      await Effect.runPromise(writeKubeconfig(kubeconfig, server))
      const child = spawn(
        process.execPath,
        [cliEntry, "--log-format", "json", "operator", "--kubeconfig", kubeconfig, "--settle", "0s", "--metrics-port", "0", "--identity", "replica-1"],
        { stdio: ["ignore", "pipe", "pipe"] },
      )
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      await waitFor("the port in the log", () => /port (\d+)/.test(stderr))
      const port = Number(/port (\d+)/.exec(stderr)![1])
      await waitFor("a render", () => configMapData(cluster, "cluster-backup-pod") !== undefined)
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
      await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200)
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).toMatch(/cluster_backup_reconciles_total\{result="success"\} [1-9]/)
      expect(metrics).toContain('cluster_backup_observed_revision{operand="etcd"}')
      expect(metrics).toContain("cluster_backup_leader 1")
      const holder = () => (cluster.get(leaseType, ns, "cluster-backup-operator")?.["spec"] as { holderIdentity?: string } | undefined)?.holderIdentity
      expect(holder()).toBe("replica-1")

      child.kill("SIGTERM")
      const code = await exited
      expect(holder()).toBe("")
      expect(stderr).toContain("released lease")
      expect(code).toBe(0)
    } finally {
      await server.close()
    }
  })
})
