/**
 * End to end, the automated loop: real etcd 3.5 over TLS, the stub API server in front of a simulated cluster, the
 * operator, the local kubelet running the pods the operator creates (backup-verify, backup-upload with the store
 * credentials from the Secret) and Swift as the store. Three backups a BackupPolicy takes (the first when it is
 * declared, then one per new revision: onRevisionChange, minInterval 1s) land in the store; keepLast 2 keeps the
 * newest two; the policy's status and the operator's metrics agree with `list --json`.
 */
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ControllerMetrics } from "../../src/services/controller-metrics.ts"
import { startLocalEtcd } from "../../src/services/local-etcd.ts"
import { generateTlsBundle } from "../../src/services/tls-certs.ts"
import { demoNamespace, startDemoCluster, startDemoOperator } from "../../src/programs/demo/demo-cluster.ts"
import {
  awaitMetrics,
  awaitPolicyBackup,
  declarePolicy,
  type DemoPolicy,
  listStore,
  policyConditions,
  policyStatusOf,
} from "../../src/programs/demo/demo-policy.ts"
import { startPolicyNode } from "../../src/programs/demo/demo-policy-stages.ts"
import { newRevision } from "../../src/programs/demo/etcd-seed.ts"
import { openShiftFixture } from "../../src/simulation/openshift-fixtures.ts"
import * as SimulatedKube from "../../src/simulation/simulated-kube.ts"
import { makeSimulatedCluster } from "../../src/simulation/simulated-cluster.ts"
import { podType } from "../../src/services/kube/resources.ts"
import type { BackupPod } from "../../src/domain/pod-spec.ts"
import { createBucket, s3Server } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { repoRoot } from "../support/tools.ts"

const entry = join(repoRoot, "bin", "cluster-backup.js")
const policy: DemoPolicy = { name: "e2e", bucket: `policy-e2e-${process.pid}`, prefix: "cluster", keepLast: 2, minInterval: "1s", bandwidthLimit: "64Mi" }

describe("a BackupPolicy end to end with Swift", () => {
  it("three backups land in the store, keepLast 2 keeps the newest two, and status and metrics agree with list --json", async () => {
    const work = tempDir("policy-swift")
    const server = await s3Server()
    await createBucket(server, policy.bucket)
    const swift = { endpoint: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: server.region }
    const said: Array<string> = []
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const tls = yield* generateTlsBundle(join(work, "tls"), { serverHosts: ["127.0.0.1", "localhost", "etcd.openshift-etcd.svc"] })
          const etcd = yield* startLocalEtcd({ dataDir: join(work, "etcd"), name: "policy-e2e", tls })
          const cluster = makeSimulatedCluster({ seed: 3 })
          const fixture = openShiftFixture({ seed: 3 })
          const kubeconfig = join(work, "kubeconfig")
          const { client } = yield* startDemoCluster({ cluster, fixture, tls, etcd, kubeconfig, bulkKeys: 200 })
          const kube = SimulatedKube.inMemory(cluster)
          const metrics = ControllerMetrics.make(demoNamespace)
          yield* startDemoOperator(kube, metrics)
          yield* declarePolicy(cluster, demoNamespace, swift, policy)
          // Printed too: under load a pod can be slow, and its progress says where the time went.
          const say = (text: string) => Effect.sync(() => void said.push(text)).pipe(Effect.andThen(Effect.log(text)))
          yield* startPolicyNode({ say, namespace: demoNamespace, work, entry, kubeconfig, etcdUrl: etcd.clientUrl, cluster, kube })
          const ids: Array<string> = []
          for (let i = 0; i < 3; i++) {
            if (i > 0) yield* newRevision(cluster, fixture, client, "kube-scheduler")
            const status = yield* awaitPolicyBackup(cluster, policy.name, new Set(ids), 240_000)
            ids.push(status.lastSuccessfulBackup!.id)
          }
          // The policy's bandwidth limit reached the pod's backup-upload, which the local kubelet ran with it.
          const uploads = cluster
            .list(podType, demoNamespace)
            .map((p) => (p.spec as BackupPod["spec"]).initContainers.find((c) => c.name === "backup-upload")?.command.join(" "))
          const listing = yield* listStore(entry, swift, policy)
          const status = policyStatusOf(cluster, policy.name)
          const series = yield* awaitMetrics(metrics, policy.name, Math.floor(Date.parse(status!.lastSuccessfulBackup!.time) / 1000))
          return { ids, listing, status, series, uploads }
        }),
      ).pipe(Effect.provide(NodeServices.layer)),
    )
    const { ids, listing, status, series, uploads } = outcome
    expect(uploads.length).toBeGreaterThan(0)
    for (const command of uploads) expect(command).toContain("--bandwidth-limit 64Mi")
    const ended = said.filter((l) => l.startsWith("pod "))
    expect(ended, said.join("\n")).toHaveLength(3)
    expect(
      ended.every((l) => l.includes(" Succeeded: ") && l.includes("verify Full")),
      ended.join("\n"),
    ).toBe(true)
    // keepLast 2: the first backup pruned, the newest two complete and verified in the store.
    expect(listing.map((b) => b.id)).toEqual(ids.slice(1))
    expect(listing.every((b) => b.complete && b.verified && b.verifyMode === "Full")).toBe(true)
    // The status names the newest listed backup, verified; the policy is healthy.
    expect(status?.lastSuccessfulBackup?.id).toBe(listing.at(-1)?.id)
    expect(status?.lastSuccessfulBackup?.verified).toBe(true)
    expect(status?.lastFailure).toBeUndefined()
    expect(policyConditions(status).healthy, policyConditions(status).text).toBe(true)
    // The metrics: a last success no older than the newest backup, no failure, the alert's expression false.
    expect(series.lastSuccess).toBeGreaterThanOrEqual(Math.floor(Date.parse(status!.lastSuccessfulBackup!.time) / 1000))
    expect(series.lastFailure).toBeUndefined()
    expect(series.alertFiring).toBe(false)
  }, 800_000)
})
