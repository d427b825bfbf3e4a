import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Result } from "effect"
import { TestClock } from "effect/testing"
import { backupRequestAnnotation } from "../../../src/domain/policy-pod.ts"
import { backupNow } from "../../../src/programs/backup-now/backup-now.ts"
import { backupPolicyType, eventType, podType } from "../../../src/services/kube/resources.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { kubeletEvent, mountWaitingPodStatus } from "../../../src/simulation/simulated-kubelet.ts"
import { createPolicy, ns } from "../operator/reconcile-harness.ts"

const annotationOf = (cluster: ReturnType<typeof makeSimulatedCluster>) =>
  (cluster.get(backupPolicyType, undefined, "nightly")?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[
    backupRequestAnnotation
  ]

/** A cluster with policy `nightly` (unless `withPolicy` is false), and `backupNow` on it in a fiber, its output lines kept. */
const follow = (timing: { readonly timeoutMs: number; readonly pollMs: number }, withPolicy = true) =>
  Effect.gen(function* () {
    const cluster = makeSimulatedCluster()
    if (withPolicy) createPolicy(cluster, "nightly", { schedule: "0 0 1 1 *" })
    const lines: Array<string> = []
    const run = yield* Effect.forkChild(
      backupNow({ policy: "nightly", namespace: ns, wait: true, ...timing, output: (line) => Effect.sync(() => void lines.push(line)) }).pipe(
        Effect.provide(SimulatedKube.inMemory(cluster)),
        Effect.result,
      ),
    )
    return { cluster, lines, run }
  })

describe("backupNow with no operator to take the request", () => {
  it.effect("asks after a minute whether the operator runs, then fails at the timeout saying where the request stood; the request stays", () =>
    Effect.gen(function* () {
      const { cluster, lines, run } = yield* follow({ timeoutMs: 120_000, pollMs: 5_000 })
      yield* TestClock.adjust(59_000)
      expect(lines.some((l) => l.startsWith("no backup pod after"))).toBe(false)
      yield* TestClock.adjust(2 * 60_000)
      const result = yield* Fiber.join(run)
      expect(lines).toContain("waiting for the operator to start a backup pod for it")
      expect(lines.filter((l) => l.startsWith("no backup pod after 1m"))).toHaveLength(1)
      expect(lines.find((l) => l.startsWith("no backup pod after"))).toContain("the BackupPolicy CRD")
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupRequestNotFinished",
        last: "waiting for the operator to start a backup pod for it",
      })
      expect(annotationOf(cluster)).toBe(lines[0]!.match(/\(request (\S+)\)$/)![1])
    }),
  )

  it.effect("a request withdrawn before it started (the annotation removed) ends the wait", () =>
    Effect.gen(function* () {
      const { cluster, run } = yield* follow({ timeoutMs: 120_000, pollMs: 5_000 })
      yield* TestClock.adjust(1_000)
      const policy = cluster.get(backupPolicyType, undefined, "nightly")!
      const metadata = policy.metadata as { annotations: Record<string, string> }
      const { [backupRequestAnnotation]: _request, ...rest } = metadata.annotations
      Result.getOrThrow(cluster.replace(backupPolicyType, { ...policy, metadata: { ...metadata, annotations: rest } }))
      yield* TestClock.adjust(10_000)
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({ _tag: "BackupRequestBlocked", reason: "RequestWithdrawn" })
    }),
  )
})

describe("backupNow following its pod", () => {
  const containers = ["backup-init", "backup-etcd-resources", "backup-create", "backup-upload"]
  const ended = (names: ReadonlyArray<string>) => names.map((name) => ({ name, state: { terminated: { exitCode: 0, finishedAt: "2026-12-07T10:00:00Z" } } }))

  /** The operator's part done by hand: the request's pod, and the status naming it. */
  const startPod = (cluster: ReturnType<typeof makeSimulatedCluster>, request: string) => {
    Result.getOrThrow(
      cluster.create(podType, {
        metadata: { name: "backup-nightly-1", namespace: ns },
        spec: { initContainers: containers.map((name) => ({ name, image: "i" })), containers: [{ name: "backup-hold", image: "i" }] },
      }),
    )
    Result.getOrThrow(
      cluster.updateStatus(backupPolicyType, undefined, "nightly", { lastRequest: { id: request, pod: "backup-nightly-1", time: "2026-12-07T10:00:00Z" } }),
    )
  }

  it.effect("says which init container the pod is at as it moves on, and ends with the backup stored", () =>
    Effect.gen(function* () {
      const { cluster, lines, run } = yield* follow({ timeoutMs: 600_000, pollMs: 1_000 })
      yield* TestClock.adjust(1_000)
      startPod(cluster, annotationOf(cluster)!)
      Result.getOrThrow(cluster.updateStatus(podType, ns, "backup-nightly-1", { phase: "Pending", initContainerStatuses: ended(["backup-init"]) }))
      yield* TestClock.adjust(1_000)
      Result.getOrThrow(cluster.updateStatus(podType, ns, "backup-nightly-1", { phase: "Pending", initContainerStatuses: ended(containers.slice(0, 3)) }))
      yield* TestClock.adjust(1_000)
      const policy = cluster.get(backupPolicyType, undefined, "nightly")!
      Result.getOrThrow(
        cluster.updateStatus(backupPolicyType, undefined, "nightly", {
          ...(policy.status as object),
          lastSuccessfulBackup: { id: "2026-12-07_100100", time: "2026-12-07T10:01:00Z", pod: "backup-nightly-1", location: "s3://b/p/2026-12-07_100100/" },
        }),
      )
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(run)
      expect(lines.slice(1)).toEqual([
        "waiting for the operator to start a backup pod for it",
        "pod backup-nightly-1 is taking the backup: backup-etcd-resources (init container 2 of 4)",
        "pod backup-nightly-1 is taking the backup: backup-upload (init container 4 of 4)",
        "pod backup-nightly-1 stored backup 2026-12-07_100100 at s3://b/p/2026-12-07_100100/",
      ])
      expect(Result.isSuccess(result) && result.success).toMatchObject({ pod: "backup-nightly-1", backup: { id: "2026-12-07_100100" } })
    }),
  )

  it.effect("says the pod is starting on its node before a container started, and quotes its Pulling Event past two minutes", () =>
    Effect.gen(function* () {
      const { cluster, lines, run } = yield* follow({ timeoutMs: 200_000, pollMs: 10_000 })
      yield* TestClock.adjust(1_000)
      startPod(cluster, annotationOf(cluster)!)
      const onNode = yield* Clock.currentTimeMillis
      Result.getOrThrow(cluster.updateStatus(podType, ns, "backup-nightly-1", mountWaitingPodStatus(new Date(onNode).toISOString())))
      const pulling = 'Pulling image "quay.io/openshift/cluster-backup:4.18"'
      Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, "backup-nightly-1", "Pulling", pulling, new Date(onNode + 5_000).toISOString())))
      yield* TestClock.adjust(10_000)
      expect(lines.at(-1)).toBe("pod backup-nightly-1 is starting on its node (mounting its volumes, pulling its image)")
      yield* TestClock.adjust(120_000)
      expect(lines.at(-1)).toBe(`pod backup-nightly-1 is starting, its image still being pulled (Pulling: ${pulling})`)
      yield* TestClock.adjust(100_000)
      yield* Fiber.join(run)
    }),
  )

  /** Its pod's end recorded in lastRequest, and within the same poll a later backup stored and the next one failed. */
  const endedWithLaterRuns = (outcome: Record<string, unknown>) =>
    Effect.gen(function* () {
      const { cluster, lines, run } = yield* follow({ timeoutMs: 600_000, pollMs: 60_000 })
      yield* TestClock.adjust(1_000)
      const request = annotationOf(cluster)!
      startPod(cluster, request)
      yield* TestClock.adjust(60_000)
      Result.getOrThrow(
        cluster.updateStatus(backupPolicyType, undefined, "nightly", {
          lastRequest: { id: request, pod: "backup-nightly-1", time: "2026-12-07T10:00:00Z", ...outcome },
          lastSuccessfulBackup: { id: "2026-12-07_100500", time: "2026-12-07T10:05:00Z", pod: "backup-nightly-2" },
          lastFailure: { time: "2026-12-07T10:09:00Z", pod: "backup-nightly-3", reason: "BackupUploadFailed" },
        }),
      )
      yield* TestClock.adjust(60_000)
      return { lines, result: yield* Fiber.join(run) }
    })

  it.effect("ends with its own pod's backup when later backups ended too before it looked again (the status's lastRequest keeps it)", () =>
    Effect.gen(function* () {
      const own = { id: "2026-12-07_100100", time: "2026-12-07T10:01:00Z", pod: "backup-nightly-1", location: "s3://b/p/2026-12-07_100100/" }
      const { lines, result } = yield* endedWithLaterRuns({ backup: own })
      expect(lines.at(-1)).toBe("pod backup-nightly-1 stored backup 2026-12-07_100100 at s3://b/p/2026-12-07_100100/")
      expect(Result.isSuccess(result) && result.success).toMatchObject({ pod: "backup-nightly-1", backup: own })
    }),
  )

  it.effect("a backup stored possibly dirty (a policy that does not verify) fails the run, naming where it is stored", () =>
    Effect.gen(function* () {
      const own = { id: "2026-12-07_100100", time: "2026-12-07T10:01:00Z", pod: "backup-nightly-1", location: "s3://b/p/2026-12-07_100100/", verdict: "dirty" }
      const { lines, result } = yield* endedWithLaterRuns({ backup: own })
      expect(lines.some((l) => l.includes("stored backup 2026-12-07_100100"))).toBe(false)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupStoredPossiblyDirty",
        backupId: "2026-12-07_100100",
        location: "s3://b/p/2026-12-07_100100/",
      })
      expect(Result.isFailure(result) && result.failure.message).toMatch(
        /^pod backup-nightly-1 stored backup 2026-12-07_100100 at s3:\/\/b\/p\/2026-12-07_100100\/, but it is possibly dirty .*--allow-dirty/,
      )
    }),
  )

  it.effect("fails with its own pod's failure when later backups ended too before it looked again", () =>
    Effect.gen(function* () {
      const failure = { time: "2026-12-07T10:01:00Z", pod: "backup-nightly-1", reason: "BackupInitFailed", message: "etcd did not answer" }
      const { result } = yield* endedWithLaterRuns({ failure })
      expect(Result.isFailure(result) && result.failure).toMatchObject({ _tag: "BackupRequestFailed", pod: "backup-nightly-1", reason: "BackupInitFailed" })
    }),
  )

  it.effect("without leave to get pods (Forbidden), follows the policy's status alone and asks for the pod once", () =>
    Effect.gen(function* () {
      const { cluster, lines, run } = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 })
      cluster.faults.inject(Fault.forbidden(), { resource: "pods", verb: "get", times: Number.POSITIVE_INFINITY })
      yield* TestClock.adjust(1_000)
      startPod(cluster, annotationOf(cluster)!)
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(run)
      expect(lines).toContain("pod backup-nightly-1 is taking the backup")
      expect(cluster.requests.filter((r) => r.resource === "pods" && r.verb === "get")).toHaveLength(1)
    }),
  )
})

describe("backupNow naming a policy that is not there", () => {
  it.effect("on a cluster with no BackupPolicy: says so, and how to take a backup without one", () =>
    Effect.gen(function* () {
      const { cluster, run } = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 }, false)
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPolicyNotFound",
        message: expect.stringMatching(
          /^no BackupPolicy nightly: the cluster has no BackupPolicy \(without one, .*: cluster-backup backup-pod --namespace openshift-etcd, or oc get cm cluster-backup-pod.*\| oc create -f -\)$/,
        ),
      })
      expect(cluster.requests.some((r) => r.verb === "patch")).toBe(false)
    }),
  )

  it.effect("for a user who may get but not list BackupPolicies (Forbidden): says the policy is not there, not that access is denied", () =>
    Effect.gen(function* () {
      const { cluster, run } = yield* follow({ timeoutMs: 5_000, pollMs: 1_000 }, false)
      cluster.faults.inject(Fault.forbidden(), { resource: "backuppolicies", verb: "list", times: Number.POSITIVE_INFINITY })
      const result = yield* Fiber.join(run)
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "BackupPolicyNotFound",
        message: "no BackupPolicy nightly (this user may not list the BackupPolicies to name those there: oc get backuppolicies, as one who may)",
      })
      expect(cluster.requests.some((r) => r.verb === "patch")).toBe(false)
    }),
  )
})
