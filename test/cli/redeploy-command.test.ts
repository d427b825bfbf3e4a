/**
 * `cluster-backup redeploy` over real HTTP against the stub API server, whose cluster's four operators answer a new
 * forceRedeploymentReason with a new revision rolled out node by node (src/simulation/redeployment-controllers.ts).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"
import { operandNames } from "../../src/domain/operands.ts"
import { redeploymentReasonOf } from "../../src/domain/redeployment.ts"
import { operatorTypes } from "../../src/services/kube/resources.ts"
import { type RedeploymentControllerOptions, redeploymentControllers } from "../../src/simulation/redeployment-controllers.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const cluster = async (options: RedeploymentControllerOptions = {}) => {
  const loaded = loadedCluster()
  const controllers = redeploymentControllers(loaded.cluster, loaded.fixture, options)
  controllers.start(20)
  const server = await startSimulatedApiServer(loaded.cluster)
  cleanups.push(async () => {
    controllers.stop()
    await server.close()
  })
  const kubeconfig = join(tempDir("redeploy"), "kubeconfig")
  writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
  const reasonOf = (operand: (typeof operandNames)[number]) => redeploymentReasonOf(loaded.cluster.get(operatorTypes[operand], undefined, "cluster"))
  return { kubeconfig, controllers, reasonOf }
}

describe("cluster-backup redeploy", () => {
  it("rolls out the four operands one after another and exits 0", async () => {
    const { kubeconfig, controllers, reasonOf } = await cluster()
    const run = await runCli(["redeploy", "--kubeconfig", kubeconfig, "--reason", "recovery-0b2f6c1e", "--poll-interval", "100ms"])
    expect(run.status, run.stderr).toBe(0)
    expect(controllers.records.map((r) => `${r.what} ${r.operand}`)).toEqual(operandNames.flatMap((o) => [`Asked ${o}`, `RolledOut ${o}`]))
    for (const operand of operandNames) expect(reasonOf(operand)).toBe("recovery-0b2f6c1e")
    expect(run.stdout).toMatch(/^etcd: forceRedeploymentReason set to "recovery-0b2f6c1e" \(latest revision 3\)/)
    expect(run.stdout).toContain("kube-scheduler: revision 7 is on all 3 nodes")
    expect(run.stdout.trimEnd().split("\n").at(-1)).toMatch(/^every operand asked/)
  })

  it("without --reason, sets recovery-<the time now>", async () => {
    const { kubeconfig, reasonOf } = await cluster()
    const run = await runCli(["redeploy", "--kubeconfig", kubeconfig, "--operands", "kube-scheduler", "--no-wait"])
    expect(run.status, run.stderr).toBe(0)
    expect(reasonOf("kube-scheduler")).toMatch(/^recovery-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(reasonOf("etcd")).toBe("")
  })

  it("talks to the cluster of the context --context names, and says which API it talks to", async () => {
    const { kubeconfig, reasonOf } = await cluster()
    const config = parse(readFileSync(kubeconfig, "utf8"))
    // The current context a cluster that is not there: the run must not go near it.
    config.clusters.push({ name: "elsewhere", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } })
    config.contexts.push({ name: "elsewhere", context: { cluster: "elsewhere", user: "simulated" } })
    config["current-context"] = "elsewhere"
    writeFileSync(kubeconfig, stringify(config), { mode: 0o600 })
    const url = config.clusters[0].cluster.server
    const run = await runCli(["redeploy", "--kubeconfig", kubeconfig, "--context", "simulated", "--operands", "kube-scheduler", "--no-wait"])
    expect(run.status, run.stderr).toBe(0)
    expect(reasonOf("kube-scheduler")).toMatch(/^recovery-/)
    expect(run.stderr).toContain(`Kubernetes API ${url} (context simulated of ${kubeconfig})`)
    const unknown = await runCli(["redeploy", "--kubeconfig", kubeconfig, "--context", "prod", "--operands", "kube-scheduler", "--no-wait"])
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain("--context prod: it has no context of that name (its contexts: simulated, elsewhere)")
    expect(unknown.stderr).toContain("[KubeConfigInvalid]")
  })

  it("exits 1 when a rollout does not finish within --timeout, naming the operand", async () => {
    const { kubeconfig } = await cluster({ stuck: ["kube-controller-manager"] })
    const run = await runCli(["redeploy", "--kubeconfig", kubeconfig, "--operands", "kube-controller-manager", "--timeout", "1s", "--poll-interval", "100ms"])
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/error: kube-controller-manager has not rolled out a new revision .*\[RolloutNotFinished\]/)
  })

  it.each([
    [["--operands", "etcd,etcd"], "named twice"],
    [["--operands", "openshift-apiserver"], "is not an operand"],
    [["--reason", " recovery"], "printable ASCII"],
    [["--timeout", "10ms"], "at least 1s"],
  ])("refuses %j as a usage error (exit 2) before any request", async (args, words) => {
    const run = await runCli(["redeploy", "--kubeconfig", "/nonexistent/kubeconfig", ...args])
    expect(run.status).toBe(2)
    expect(run.stdout + run.stderr).toContain(words)
  })
})
