import { fc } from "@fast-check/vitest"
import { Effect, Layer, Ref, Result } from "effect"
import { describe, expect, it } from "vitest"
import { emptyMemory } from "../../../src/domain/operator-desired-state.ts"
import { defaultReconcileConfig, reconcile } from "../../../src/programs/operator/reconcile.ts"
import { Kube, type KubeService } from "../../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { configMapType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { renderBackupPodYaml } from "../../../src/domain/pod-spec.ts"
import { configMapData, ns, renderedPod, seedOperators } from "./reconcile-harness.ts"

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

describe("reconcile converges", () => {
  it("from any initial state, under random API faults and concurrent writers, to the observed revisions; then writes nothing", async () => {
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
            Result.getOrThrow(cluster.create(configMapType, { metadata: { name: "cluster-backup-pod", namespace: ns }, data: { "backup-pod.yaml": podYaml } }))
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
      { numRuns: 200 },
    )
    // The other writer really raced (each note changed backup-status between a read and a write).
    expect(races).toBeGreaterThan(100)
  })
})
