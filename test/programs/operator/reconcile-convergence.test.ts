import { fc } from "@fast-check/vitest"
import { Clock, Effect, Layer, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import { emptyMemory } from "../../../src/domain/operator-desired-state.ts"
import { defaultReconcileConfig, reconcile } from "../../../src/programs/operator/reconcile.ts"
import { Kube, type KubeService } from "../../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { renderBackupPodYaml } from "../../../src/domain/pod-spec.ts"
import type { BackupPolicyStatus } from "../../../src/domain/backup-policy.ts"
import { nextDue, parseSchedule } from "../../../src/domain/backup-schedule.ts"
import { emptyPolicyMemory } from "../../../src/domain/policy-desired-state.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { policyReconcileConfig, reconcilePolicies } from "../../../src/programs/operator/policy-reconcile.ts"
import { backupPolicyType, configMapType, podType } from "../../../src/services/kube/resources.ts"
import { failedUpload, simulatedBackupReport, uploadedBackup } from "../../../src/simulation/simulated-kubelet.ts"
import { configMapData, createPolicy, handClock, ns, renderedPod, seedOperators, setRevision } from "./reconcile-harness.ts"

const revision = fc.integer({ min: 1, max: 40 })
const revisionSet = fc.record({ etcd: revision, "kube-apiserver": revision, "kube-controller-manager": revision, "kube-scheduler": revision })

/** What may already be in the cluster when the controller starts. */
const initialStatus = fc.oneof(
  fc.constant(undefined),
  fc.constant({ status: "Complete", revisions: "- etcd: not-a-number" }),
  fc.constant({ status: "Exploded" }),
  fc.constant({ revisions: "{{{ not yaml" }),
  revisionSet.map((r) => ({
    status: "Complete",
    revisions: `- etcd: "${r.etcd}"\n- kubeApiserver: "${r["kube-apiserver"]}"\n- kubeControllerManager: "${r["kube-controller-manager"]}"\n- kubeScheduler: "${r["kube-scheduler"]}"\n`,
  })),
)
const initialPodCm = fc.oneof(
  fc.constant(undefined),
  fc.constant("garbage: ["),
  revisionSet.map((r) => renderBackupPodYaml(r)),
)

/**
 * While `race.on`, another writer adds its own key to backup-status right before every
 * `raceEvery`-th of our updates, so that update works from a stale read. Each note is new, so
 * each race really changes the object.
 */
const racingKube = (cluster: SimulatedCluster, raceEvery: number, notes: Array<string>, race: { on: boolean }) =>
  Layer.effect(
    Kube,
    Effect.map(Kube, (k): KubeService => {
      let n = 0
      return {
        ...k,
        configMaps: {
          ...k.configMaps,
          update: (namespace, cm) =>
            Effect.suspend(() => {
              n++
              const current = cluster.get(configMapType, ns, cm.metadata.name)
              if (race.on && current !== undefined && cm.metadata.name === "backup-status" && n % raceEvery === 0) {
                const note = `note-${notes.length + 1}`
                notes.push(note)
                const data = { ...(current.data as object), [note]: "kept" }
                Result.getOrThrow(cluster.replace(configMapType, { ...current, data }))
              }
              return k.configMaps.update(namespace, cm)
            }),
        },
      }
    }),
  ).pipe(Layer.provide(SimulatedKube.inMemory(cluster)))

const revisionRuns = 200
const policyRuns = 100
/**
 * A property's time limit grows with its runs (a fixed 60 s failed under the whole suite's load): a revision run takes
 * about 0.25 s alone on this 2-core machine and several times that when the suite shares it; 3 s a run fails a hang.
 */
const timeoutFor = (runs: number) => runs * 3000

describe("reconcile converges", () => {
  it(
    "from any initial state, under random API faults and concurrent writers, to the observed revisions; then writes nothing",
    async () => {
      let races = 0
      await fc.assert(
        fc.asyncProperty(
          revisionSet,
          initialStatus,
          initialPodCm,
          fc.integer({ min: 1, max: 1_000_000 }),
          fc.integer({ min: 1, max: 3 }),
          async (observed, status, podYaml, seed, raceEvery) => {
            const cluster = makeSimulatedCluster({ seed })
            seedOperators(cluster, observed)
            if (status !== undefined) Result.getOrThrow(cluster.create(configMapType, { metadata: { name: "backup-status", namespace: ns }, data: status }))
            if (podYaml !== undefined) {
              Result.getOrThrow(
                cluster.create(configMapType, { metadata: { name: "cluster-backup-pod", namespace: ns }, data: { "backup-pod.yaml": podYaml } }),
              )
            }
            const notes: Array<string> = []
            const race = { on: true }
            const memory = Effect.runSync(Ref.make(emptyMemory))
            const sync = reconcile(defaultReconcileConfig({ settleMs: 0, minIntervalMs: 0 }), memory).pipe(
              Effect.provide(racingKube(cluster, raceEvery, notes, race)),
            )
            cluster.faults.setRandom({ seed, conflict: 0.2, unavailable: 0.1, timeout: 0.05 })
            for (let i = 0; i < 8; i++) await Effect.runPromise(Effect.exit(sync))
            // The faults and the other writer stop: one clean sync must now reach the observed state.
            cluster.faults.setRandom(undefined)
            race.on = false
            const settled = await Effect.runPromise(sync)
            expect(renderedPod(cluster)?.metadata.annotations["backup.openshift.io/revisions"]).toBe(
              `etcd=${observed.etcd},kube-apiserver=${observed["kube-apiserver"]},kube-controller-manager=${observed["kube-controller-manager"]},kube-scheduler=${observed["kube-scheduler"]}`,
            )
            expect(configMapData(cluster, "backup-status")!.revisions).toContain(`etcd: "${observed.etcd}"`)
            // The faulty phase may have ended before the render landed: the first clean sync then renders.
            expect(["Render", "UpToDate"]).toContain(settled.decision)
            const again = await Effect.runPromise(sync)
            expect(again.writes).toBe(0)
            const data = configMapData(cluster, "backup-status")!
            for (const note of notes) expect(data[note]).toBe("kept")
            races += notes.length
          },
        ),
        { numRuns: revisionRuns },
      )
      // The other writer really raced (each note changed backup-status between a read and a write).
      expect(races).toBeGreaterThan(100)
    },
    timeoutFor(revisionRuns),
  )
})

// ---------------------------------------------------------------------------------------------
// BackupPolicies: operator restarts, leader changes and a policy edited mid-run.

const minute = 60_000
const policyStart = Date.parse("2026-12-01T00:00:30Z")

const policySpec = fc.record({
  schedule: fc.constantFrom("0 * * * *", "*/20 * * * *", "30 2 * * *", "not a schedule"),
  suspend: fc.boolean(),
  onRevisionChange: fc.boolean(),
  successfulPodsHistoryLimit: fc.integer({ min: 0, max: 3 }),
  failedPodsHistoryLimit: fc.integer({ min: 0, max: 2 }),
})
type PolicyStep =
  | { readonly _tag: "sync"; readonly operator: 0 | 1 }
  | { readonly _tag: "restart"; readonly operator: 0 | 1 }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "kubelet"; readonly fail: boolean }
  | { readonly _tag: "edit"; readonly spec: typeof policySpec extends fc.Arbitrary<infer S> ? S : never }
  | { readonly _tag: "revision"; readonly etcd: number }
const operatorArb = fc.constantFrom<0 | 1>(0, 1)
const policyStep: fc.Arbitrary<PolicyStep> = fc.oneof(
  { arbitrary: fc.record({ _tag: fc.constant("sync" as const), operator: operatorArb }), weight: 5 },
  fc.record({ _tag: fc.constant("restart" as const), operator: operatorArb }),
  { arbitrary: fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 1000, max: 3 * 60 * minute }) }), weight: 3 },
  { arbitrary: fc.record({ _tag: fc.constant("kubelet" as const), fail: fc.boolean() }), weight: 2 },
  fc.record({ _tag: fc.constant("edit" as const), spec: policySpec }),
  fc.record({ _tag: fc.constant("revision" as const), etcd: fc.integer({ min: 3, max: 9 }) }),
)

const ownPods = (cluster: SimulatedCluster) =>
  cluster.list(podType, ns).filter((p) => (p.metadata as { labels?: Record<string, string> }).labels?.[policyNameLabel] === "nightly")
const phaseOf = (p: unknown) => (p as { status?: { phase?: string } }).status?.phase
const unfinished = (cluster: SimulatedCluster) => ownPods(cluster).filter((p) => phaseOf(p) !== "Succeeded" && phaseOf(p) !== "Failed")

/** The kubelet ends every pod still running, as the store allows. */
const finishPods = (cluster: SimulatedCluster, now: number, fail: boolean) => {
  for (const p of unfinished(cluster)) {
    const name = (p.metadata as { name: string }).name
    Result.getOrThrow(cluster.terminatePod(ns, name, fail ? failedUpload("store unreachable") : uploadedBackup(simulatedBackupReport(p, new Date(now)))))
  }
}

describe("policy reconcile converges", () => {
  it(
    "through operator restarts, leader changes, pods ending and a policy edited mid-run, under API faults: one pod at a time, then a quiet state",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policySpec,
          fc.array(policyStep, { minLength: 5, maxLength: 30 }),
          fc.integer({ min: 1, max: 1_000_000 }),
          async (spec, steps, seed) => {
            const time = { ms: policyStart }
            const cluster = makeSimulatedCluster({ seed, now: () => new Date(time.ms) })
            seedOperators(cluster, { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 })
            createPolicy(cluster, "nightly", spec)
            // Two replicas, each with its own memory: a sync by the other one is a leader change.
            const memories = [Effect.runSync(Ref.make(emptyPolicyMemory)), Effect.runSync(Ref.make(emptyPolicyMemory))]
            const config = policyReconcileConfig(defaultReconcileConfig({ settleMs: 0, identity: "convergence" }))
            const sync = (operator: 0 | 1) =>
              Effect.runPromise(
                reconcilePolicies(config, memories[operator]!).pipe(
                  Effect.provide(SimulatedKube.inMemory(cluster)),
                  Effect.provideService(Clock.Clock, handClock(time)),
                ),
              )
            cluster.faults.setRandom({ seed, conflict: 0.2, unavailable: 0.1, timeout: 0.05 })
            for (const step of steps) {
              switch (step._tag) {
                case "sync":
                  await sync(step.operator).catch(() => undefined)
                  break
                case "restart":
                  memories[step.operator] = Effect.runSync(Ref.make(emptyPolicyMemory))
                  break
                case "advance":
                  time.ms += step.ms
                  break
                case "kubelet":
                  finishPods(cluster, time.ms, step.fail)
                  break
                case "edit": {
                  const current = cluster.get(backupPolicyType, undefined, "nightly")!
                  Result.getOrThrow(cluster.replace(backupPolicyType, { ...current, spec: { ...step.spec, store: { pvc: { claimName: "etcd-backups" } } } }))
                  break
                }
                case "revision":
                  setRevision(cluster, "etcd", step.etcd)
                  break
              }
              expect(unfinished(cluster).length).toBeLessThanOrEqual(1)
            }
            // The faults stop and the last run ends: a few clean syncs reach a state the next sync leaves alone.
            cluster.faults.setRandom(undefined)
            for (let i = 0; i < 3; i++) {
              finishPods(cluster, time.ms, false)
              await sync(0)
            }
            finishPods(cluster, time.ms, false)
            await sync(0)
            const quiet = await sync(1)
            expect(quiet.writes).toBe(0)
            expect(unfinished(cluster)).toEqual([])
            const policy = cluster.get(backupPolicyType, undefined, "nightly")!
            const status = policy.status as BackupPolicyStatus
            const current = policy.spec as { schedule: string; suspend: boolean; successfulPodsHistoryLimit: number; failedPodsHistoryLimit: number }
            expect(status.observedGeneration).toBe((policy.metadata as { generation: number }).generation)
            const degraded = status.conditions?.find((c) => c.type === "Degraded")
            if (current.schedule === "not a schedule") expect(degraded).toMatchObject({ status: "True", reason: "InvalidSpec" })
            else if (current.suspend) expect(status.nextScheduleTime).toBeUndefined()
            else {
              // The next run follows the schedule as edited.
              const cron = Result.getOrThrow(parseSchedule(current.schedule, undefined))
              const next = Date.parse(status.nextScheduleTime!)
              expect(nextDue(cron, next - 1)).toBe(next)
              expect(next).toBeGreaterThan(time.ms)
            }
            if (current.schedule !== "not a schedule") {
              const pods = ownPods(cluster)
              expect(pods.filter((p) => phaseOf(p) === "Succeeded").length).toBeLessThanOrEqual(current.successfulPodsHistoryLimit)
              expect(pods.filter((p) => phaseOf(p) === "Failed").length).toBeLessThanOrEqual(current.failedPodsHistoryLimit)
            }
          },
        ),
        { numRuns: policyRuns },
      )
    },
    timeoutFor(policyRuns),
  )
})
