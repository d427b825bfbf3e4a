/**
 * A BackupPolicy CRD older than the operator: the API server prunes the status fields its schema lacks (here
 * `lastRequest`, which backup-now follows). The operator says so once, and a request is still taken once.
 */
import { Clock, Effect, Logger, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { backupRequestAnnotation, policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { backupPolicyType, podType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type Obj } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { createPolicy, handClock, ns, seedOperators } from "./reconcile-harness.ts"

/** Admission as an API server whose BackupPolicy CRD predates `status.lastRequest`: it prunes it. */
const olderCrd = (type: { readonly resource: string }, object: Obj) => {
  if (type.resource !== backupPolicyType.resource || typeof object.status !== "object" || object.status === null) return Result.succeed(object)
  const { lastRequest: _pruned, ...status } = object.status as Record<string, unknown>
  return Result.succeed({ ...object, status })
}

/** Admission as an API server with the BackupPolicy CRD of the version before `lastRequest` recorded its pod's end. */
const crdBeforeRequestOutcome = (type: { readonly resource: string }, object: Obj) => {
  const status = object.status as { lastRequest?: Record<string, unknown> } | undefined
  if (type.resource !== backupPolicyType.resource || status?.lastRequest === undefined) return Result.succeed(object)
  const { backup: _backup, failure: _failure, ...lastRequest } = status.lastRequest
  return Result.succeed({ ...object, status: { ...status, lastRequest } })
}

/** Policy `nightly` with request r1 on a cluster behind `admission`, the operator's policy syncs on a hand clock, and its Warnings. */
const requestedUnder = (admission: typeof olderCrd, seed: number) => {
  const time = { ms: Date.parse("2026-12-07T10:00:00Z") }
  const cluster = makeSimulatedCluster({ seed, now: () => new Date(time.ms), admission })
  seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
  const policy = createPolicy(cluster, "nightly", { schedule: "0 0 1 1 *" })
  const metadata = policy.metadata as Record<string, unknown>
  Result.getOrThrow(cluster.replace(backupPolicyType, { ...policy, metadata: { ...metadata, annotations: { [backupRequestAnnotation]: "r1" } } }))
  const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
  const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "older-crd" }))
  const warnings: Array<string> = []
  const capture = Logger.layer([Logger.make(({ logLevel, message }) => void (logLevel === "Warn" && warnings.push(String(message))))])
  const sync = () =>
    Effect.runPromise(
      reconcilePolicies(config, memory).pipe(
        Effect.provide(SimulatedKube.inMemory(cluster)),
        Effect.provide(capture),
        Effect.provideService(Clock.Clock, handClock(time)),
      ),
    )
  const dropWarnings = () => warnings.filter((w) => w.includes("dropped the BackupPolicy status fields"))
  return { time, cluster, sync, dropWarnings }
}

describe("BackupPolicies under a CRD older than the operator", () => {
  it("names a nested field the API server drops (lastRequest.failure, of the version before it)", async () => {
    const { time, cluster, sync, dropWarnings } = requestedUnder(crdBeforeRequestOutcome, 3)
    await sync()
    const [pod] = cluster.list(podType, ns, `${policyNameLabel}=nightly`)
    const name = (pod!.metadata as { name: string }).name
    const terminated = { exitCode: 1, reason: "Error", finishedAt: "2026-12-07T10:01:00Z" }
    Result.getOrThrow(cluster.updateStatus(podType, ns, name, { phase: "Failed", initContainerStatuses: [{ name: "backup-init", state: { terminated } }] }))
    for (let i = 0; i < 3; i++) {
      time.ms += 60_000
      await sync()
    }
    expect(dropWarnings()).toEqual([expect.stringMatching(/status fields lastRequest\.failure that this operator wrote: /)])
  })

  it("warns once that the API server drops lastRequest, naming the CRD to apply; the request still starts one backup", async () => {
    const { time, cluster, sync, dropWarnings } = requestedUnder(olderCrd, 2)
    for (let i = 0; i < 4; i++) {
      await sync()
      time.ms += 60_000
    }
    expect(dropWarnings()).toEqual([
      expect.stringMatching(/status fields lastRequest that this operator wrote: .*older than the operator; apply deploy\/backup-policy-crd\.yaml/),
    ])
    expect(cluster.list(podType, ns, `${policyNameLabel}=nightly`)).toHaveLength(1)
  })
})
