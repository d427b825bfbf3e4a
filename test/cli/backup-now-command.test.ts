/**
 * `cluster-backup backup-now` over real HTTP against the stub API server, with the operator's controller running on
 * the same simulated cluster and a kubelet that ends each policy pod as the test says.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../src/domain/backup-policy.ts"
import { backupRequestAnnotation, policyNameLabel } from "../../src/domain/policy-pod.ts"
import { startController } from "../../src/programs/operator/controller.ts"
import { defaultReconcileConfig } from "../../src/programs/operator/reconcile.ts"
import { ControllerMetrics } from "../../src/services/controller-metrics.ts"
import { backupPolicyType, podType } from "../../src/services/kube/resources.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import { simulatedBackupReport, uploadedBackup, type PodOutcome } from "../../src/simulation/simulated-kubelet.ts"
import { createPolicy, ns } from "../programs/operator/reconcile-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

type Obj = { readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> } }
const policyPods = (cluster: SimulatedCluster) =>
  cluster.list(podType, ns).filter((p) => (p as unknown as Obj).metadata.labels?.[policyNameLabel] !== undefined) as unknown as ReadonlyArray<
    Obj & { readonly status?: { readonly phase?: string } }
  >

/** The operator's controller on the cluster, the stub API server in front of it, and a kubelet ending policy pods by `outcome` (undefined: left running). */
const operatedCluster = async (outcome: (pod: unknown) => PodOutcome | undefined) => {
  const cluster = makeSimulatedCluster()
  Result.getOrThrow(openShiftFixture({ seed: 3 }).load(cluster))
  const server = await startSimulatedApiServer(cluster)
  const kubeconfig = join(tempDir("backup-now"), "kubeconfig")
  writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    startController({
      reconcile: defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0, identity: "operator" }),
      election: { namespace: ns, leaseName: "cluster-backup-operator", identity: "operator", leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100 },
      resyncMs: 600_000,
      minBackoffMs: 50,
      maxBackoffMs: 500,
    }).pipe(
      Effect.provide(
        Layer.merge(
          SimulatedKube.inMemory(cluster),
          Layer.sync(ControllerMetrics, () => ControllerMetrics.make(ns)),
        ),
      ),
      Scope.provide(scope),
    ),
  )
  const kubelet = setInterval(() => {
    for (const pod of policyPods(cluster)) {
      if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue
      const end = outcome(pod)
      if (end !== undefined) Result.getOrThrow(cluster.terminatePod(ns, pod.metadata.name, end))
    }
  }, 50)
  cleanups.push(async () => {
    clearInterval(kubelet)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await server.close()
  })
  const statusOf = (name: string) => cluster.get(backupPolicyType, undefined, name)?.status as BackupPolicyStatus | undefined
  return { cluster, kubeconfig, statusOf }
}

const stored = (pod: unknown) => uploadedBackup(simulatedBackupReport(pod, new Date(), { verified: true, verifyMode: "Full" }))
const uploadFailed: PodOutcome = { phase: "Failed", containers: { "backup-upload": { exitCode: 1, message: "the store refused the upload: AccessDenied" } } }
// A schedule that is not due for months: any pod started is the request's.
const rarely = { schedule: "0 0 1 1 *" }

describe("cluster-backup backup-now", () => {
  it("asks a suspended policy for a backup, follows its pod to the backup stored, and exits 0; the pod is the only one, and the status names it", async () => {
    const { cluster, kubeconfig, statusOf } = await operatedCluster(stored)
    createPolicy(cluster, "nightly", { ...rarely, suspend: true })
    const run = await runCli(["backup-now", "nightly", "--kubeconfig", kubeconfig, "--poll-interval", "100ms"], { timeoutMs: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    const pods = policyPods(cluster)
    expect(pods).toHaveLength(1)
    const pod = pods[0]!.metadata.name
    const request = pods[0]!.metadata.annotations?.[backupRequestAnnotation]
    expect(request).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(statusOf("nightly")?.lastRequest).toMatchObject({ id: request, pod })
    expect(run.stdout).toContain(`asked BackupPolicy nightly for a backup (request ${request})`)
    expect(run.stdout).toMatch(new RegExp(`pod ${pod} stored backup \\d{4}-\\d\\d-\\d\\d_\\d{6} at simulated://backups/\\S+ \\(verified\\)\\n$`))
  })

  it("with --json, prints the backup stored as one JSON object, the progress on stderr", async () => {
    const { cluster, kubeconfig, statusOf } = await operatedCluster(stored)
    createPolicy(cluster, "nightly", rarely)
    const run = await runCli(["backup-now", "nightly", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--json"], { timeoutMs: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    const status = statusOf("nightly")!
    expect(JSON.parse(run.stdout)).toEqual({
      policy: "nightly",
      request: status.lastRequest!.id,
      pod: status.lastRequest!.pod,
      backup: status.lastSuccessfulBackup,
    })
    expect(status.lastSuccessfulBackup).toMatchObject({ verified: true, pod: status.lastRequest!.pod })
    expect(run.stderr).toContain("asked BackupPolicy nightly for a backup")
  })

  it("exits 1 with the failure when the backup pod fails", async () => {
    const { cluster, kubeconfig } = await operatedCluster(() => uploadFailed)
    createPolicy(cluster, "nightly", rarely)
    const run = await runCli(["backup-now", "nightly", "--kubeconfig", kubeconfig, "--poll-interval", "100ms"], { timeoutMs: 60_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/error: the backup of BackupPolicy nightly failed: .*AccessDenied.* \[BackupRequestFailed\]/)
  })

  it("exits 1 at --timeout, saying where the backup stood; the request stays for the operator", async () => {
    const { cluster, kubeconfig } = await operatedCluster(() => undefined)
    createPolicy(cluster, "nightly", rarely)
    const run = await runCli(["backup-now", "nightly", "--kubeconfig", kubeconfig, "--poll-interval", "100ms", "--timeout", "3s"], { timeoutMs: 60_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /did not end within 3s \(pod backup-nightly-\S+ is taking the backup: backup-init \(init container 1 of \d+\)\); the request stands.*\[BackupRequestNotFinished\]/,
    )
  })

  it("exits 1 at once when the policy can start no backup (an invalid spec), saying why", async () => {
    const { cluster, kubeconfig } = await operatedCluster(stored)
    createPolicy(cluster, "broken", { schedule: "0 0 31 2 *" })
    const run = await runCli(["backup-now", "broken", "--kubeconfig", kubeconfig, "--poll-interval", "100ms"], { timeoutMs: 60_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(/error: BackupPolicy broken starts no backup: .*0 0 31 2 \*.*the request stands.*\[BackupRequestBlocked\]/)
    expect(policyPods(cluster)).toHaveLength(0)
  })

  it("names the policies there are when the one named is not one of them, and asks nothing", async () => {
    const { cluster, kubeconfig } = await operatedCluster(stored)
    createPolicy(cluster, "nightly", rarely)
    const run = await runCli(["backup-now", "nigthly", "--kubeconfig", kubeconfig], { timeoutMs: 60_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("no BackupPolicy nigthly: the cluster has nightly [BackupPolicyNotFound]")
  })

  it("with --no-wait, asks and exits 0; the operator still takes the backup", async () => {
    const { cluster, kubeconfig, statusOf } = await operatedCluster(stored)
    createPolicy(cluster, "nightly", rarely)
    const run = await runCli(["backup-now", "nightly", "--kubeconfig", kubeconfig, "--no-wait"], { timeoutMs: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    const deadline = Date.now() + 30_000
    while (statusOf("nightly")?.lastSuccessfulBackup === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    // Both defined: two absent fields would be equal too.
    expect(statusOf("nightly")?.lastRequest?.pod).toMatch(/^backup-nightly-/)
    expect(statusOf("nightly")?.lastSuccessfulBackup?.pod).toBe(statusOf("nightly")?.lastRequest?.pod)
  })
})
