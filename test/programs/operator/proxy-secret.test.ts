/**
 * Secret cluster-backup-proxy, which the pods take a proxy credential from: the operator gets it (by name, as its Role
 * allows) and reports it missing, for BackupPolicies in their status and Events, for backup-status as a Warning on it.
 */
import { it as effectIt } from "@effect/vitest"
import { Clock, Effect, Exit, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { defaultReconcileConfig } from "../../../src/programs/operator/reconcile.ts"
import { backupPolicyType, eventType, podType, secretType } from "../../../src/services/kube/resources.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { createPolicy, events, handClock, makeSync, ns, renderedPod, seedOperators, setup } from "./reconcile-harness.ts"

const proxyEnv = { HTTPS_PROXY: "http://backup:pr0xy-Pa55@proxy.corp:3128", HTTP_PROXY: "http://backup:pr0xy-Pa55@proxy.corp:3128", NO_PROXY: ".svc" }
const podOptions = { proxyEnv }
const start = Date.parse("2026-12-01T00:00:30Z")

/** The Secret as the administrator creates it, with these keys (values base64, as the API holds them). */
const createSecret = (cluster: SimulatedCluster, keys: ReadonlyArray<string>) =>
  Result.getOrThrow(
    cluster.create(secretType, {
      metadata: { name: "cluster-backup-proxy", namespace: ns },
      data: Object.fromEntries(keys.map((k) => [k, Buffer.from(proxyEnv.HTTPS_PROXY).toString("base64")])),
    }),
  )

/** A cluster with one BackupPolicy that backs up on revision changes (a run due at once), its operator's sync behind a proxy with credentials. */
const policySetup = () => {
  const time = { ms: start }
  const cluster = makeSimulatedCluster({ seed: 1, now: () => new Date(time.ms) })
  seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
  createPolicy(cluster, "nightly", { onRevisionChange: true, minInterval: "1m" })
  const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
  const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "proxy", podOptions }))
  const sync = () =>
    Effect.runPromise(
      reconcilePolicies(config, memory).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provideService(Clock.Clock, handClock(time))),
    )
  const pods = () => cluster.list(podType, ns, `${policyNameLabel}=nightly`)
  const warnings = (reason: string) =>
    (cluster.list(eventType, "default") as ReadonlyArray<{ reason: string; type: string; message: string }>).filter((e) => e.reason === reason)
  const condition = (type: string) =>
    (cluster.get(backupPolicyType, undefined, "nightly")!.status as BackupPolicyStatus).conditions?.find((c) => c.type === type)
  return { time, cluster, sync, pods, warnings, condition }
}

const secretGets = (cluster: SimulatedCluster) => cluster.requests.filter((r) => r.resource === "secrets")

describe("a BackupPolicy behind a proxy with credentials", () => {
  it("without Secret cluster-backup-proxy: no pod, Ready False ProxySecretMissing, one Warning naming oc create secret, looked at again on backoff; once created, the backup starts", async () => {
    const { cluster, sync, pods, warnings, condition, time } = policySetup()
    const first = await sync()
    expect(pods()).toEqual([])
    expect(first.requeue).toBe(true)
    expect(condition("Ready")).toMatchObject({ status: "False", reason: "ProxySecretMissing" })
    expect(condition("Degraded")).toMatchObject({ status: "True", reason: "ProxySecretMissing" })
    expect(condition("Ready")?.message).toContain("Secret cluster-backup-proxy in openshift-etcd does not exist")
    const [warning] = warnings("ProxySecretMissing")
    expect(warning).toMatchObject({ type: "Warning" })
    expect(warning!.message).toContain(
      "oc -n openshift-etcd create secret generic cluster-backup-proxy --from-literal=HTTPS_PROXY=<the proxy URL with credentials> --from-literal=HTTP_PROXY=<the proxy URL with credentials>",
    )
    // Its values are never the operator's words.
    expect(JSON.stringify(cluster.list(eventType, "default"))).not.toContain("pr0xy-Pa55")
    // By name only: a get, no list or watch of Secrets.
    expect(secretGets(cluster).map((r) => [r.verb, r.name])).toEqual([["get", "cluster-backup-proxy"]])

    time.ms += 5_000
    await sync()
    expect(warnings("ProxySecretMissing")).toHaveLength(1)
    expect(pods()).toEqual([])

    createSecret(cluster, ["HTTPS_PROXY", "HTTP_PROXY"])
    time.ms += 5_000
    const after = await sync()
    expect(after.requeue).toBe(false)
    expect(pods()).toHaveLength(1)
    expect(condition("Degraded")?.reason).toBe("AsExpected")
  })

  it("a Secret without one of the keys: the same, naming the key and how to add it", async () => {
    const { cluster, sync, pods, warnings, condition } = policySetup()
    createSecret(cluster, ["HTTPS_PROXY"])
    await sync()
    expect(pods()).toEqual([])
    expect(condition("Ready")?.reason).toBe("ProxySecretMissing")
    expect(warnings("ProxySecretMissing")[0]!.message).toMatch(
      /Secret cluster-backup-proxy in openshift-etcd has no key HTTP_PROXY: .*oc -n openshift-etcd set data secret\/cluster-backup-proxy HTTP_PROXY=/,
    )
  })

  it("an older Role that may not get the Secret (403): the pod is still created, one Warning saying to apply the Role, the sync does not fail", async () => {
    const { cluster, sync, pods, warnings, time } = policySetup()
    cluster.faults.inject(Fault.forbidden(), { verb: "get", resource: "secrets" })
    await sync()
    expect(pods()).toHaveLength(1)
    const [warning] = warnings("ProxySecretUnchecked")
    expect(warning!.message).toMatch(/cannot check Secret cluster-backup-proxy.*oc apply -f deploy\/operator-rbac.yaml/)
    time.ms += 5_000
    await sync()
    expect(warnings("ProxySecretUnchecked")).toHaveLength(1)
  })

  it("without a proxy credential the Secret is never read", async () => {
    const { cluster } = policySetup()
    const memory = Effect.runSync(Ref.make(emptyPolicyMemory))
    const config = policyReconcileConfig(
      defaultReconcileConfig({ settleMs: 0, identity: "plain", podOptions: { proxyEnv: { HTTPS_PROXY: "http://proxy:3128" } } }),
    )
    const exit = await Effect.runPromiseExit(reconcilePolicies(config, memory).pipe(Effect.provide(SimulatedKube.inMemory(cluster))))
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(secretGets(cluster)).toEqual([])
  })
})

describe("backup-status behind a proxy with credentials", () => {
  effectIt.effect("without the Secret: the spec is still rendered, and one Warning on backup-status names oc create secret", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { podOptions })
      yield* sync()
      expect(renderedPod(cluster)).toBeDefined()
      const missing = () => events(cluster).filter((e) => e.reason === "ProxySecretMissing")
      expect(missing()).toHaveLength(1)
      expect(missing()[0]).toMatchObject({ type: "Warning" })
      expect(missing()[0]!.message).toContain("oc -n openshift-etcd create secret generic cluster-backup-proxy --from-literal=HTTPS_PROXY=")
      yield* sync()
      expect(missing()).toHaveLength(1)
      createSecret(cluster, ["HTTPS_PROXY", "HTTP_PROXY"])
      yield* sync()
      expect(missing()).toHaveLength(1)
    }),
  )
})
