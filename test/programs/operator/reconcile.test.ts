import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Result } from "effect"
import { TestClock } from "effect/testing"
import { configMapType, eventType, operatorTypes, podType } from "../../../src/services/kube/resources.ts"
import { Kube } from "../../../src/services/kube/kube.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { backupCreateReportOf, encodeBackupCreateReport } from "../../../src/domain/backup-create-report.ts"
import { startWaitWords } from "../../../src/domain/backup-pod-start.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import type { SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { kubeletEvent, mountWaitingPodStatus } from "../../../src/simulation/simulated-kubelet.ts"
import {
  advance,
  configMapData,
  createRenderedPod,
  events,
  makeSync,
  ns,
  renderedPod,
  revs,
  runBackupPod,
  setRevision,
  setup,
  start,
} from "./reconcile-harness.ts"

type Sync = ReturnType<typeof makeSync>

/** A backup pod whose `container` exits 1 with `message`: the next sync turns backup-status Failed, its message saying `says`, with a BackupFailed Event. */
const backupFails = (cluster: SimulatedCluster, sync: Sync, container: string, message: string, says: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* runBackupPod(cluster, { phase: "Failed", containers: { [container]: { exitCode: 1, message } } })
    const failed = yield* sync()
    expect(failed.status?.status).toBe("Failed")
    for (const text of says) expect(configMapData(cluster, "backup-status")!.message).toContain(text)
    expect(events(cluster).map((e) => e.reason)).toContain("BackupFailed")
  })

/** A second backup pod a second later succeeds: the next sync turns backup-status Complete. */
const retriedBackupCompletes = (cluster: SimulatedCluster, sync: Sync) =>
  Effect.gen(function* () {
    yield* advance(1000)
    yield* runBackupPod(cluster, { phase: "Succeeded" })
    expect((yield* sync()).status?.status).toBe("Complete")
  })

describe("reconcile", () => {
  it.effect("renders the pod spec for the observed revisions, then a second sync writes nothing", () =>
    Effect.gen(function* () {
      const cluster = yield* setup(revs(3, 7, 5, 6))
      const sync = makeSync(cluster)
      const first = yield* sync()
      expect(first.decision).toBe("Render")
      const pod = renderedPod(cluster)!
      expect(pod.metadata.annotations["backup.openshift.io/revisions"]).toBe("etcd=3,kube-apiserver=7,kube-controller-manager=5,kube-scheduler=6")
      const status = configMapData(cluster, "backup-status")!
      expect(status.status).toBe("Pending")
      expect(status.revisions).toContain('kubeApiserver: "7"')
      expect(events(cluster).map((e) => e.reason)).toEqual(["BackupPodRendered"])
      const before = cluster.requests.filter((r) => r.verb !== "get" && r.verb !== "list").length
      const second = yield* sync()
      expect(second.decision).toBe("UpToDate")
      expect(second.writes).toBe(0)
      expect(cluster.requests.filter((r) => r.verb !== "get" && r.verb !== "list").length).toBe(before)
    }),
  )

  it.effect("its Events name backup-status by uid too, so oc describe cm backup-status (which selects by involvedObject.uid) shows them", () =>
    Effect.gen(function* () {
      const cluster = yield* setup(revs(3, 7, 5, 6))
      const sync = makeSync(cluster)
      yield* sync()
      yield* runBackupPod(cluster, { phase: "Succeeded" })
      yield* sync()
      const uid = (cluster.get(configMapType, ns, "backup-status")!.metadata as { uid: string }).uid
      const involved = cluster.list(eventType, ns).map((e) => ({ reason: e.reason, uid: (e.involvedObject as { uid?: string }).uid }))
      expect(involved).toEqual([
        { reason: "BackupPodRendered", uid },
        { reason: "BackupCompleted", uid },
      ])
    }),
  )

  it.effect("waits out the minimum interval after a render, then renders the new revisions", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { minIntervalMs: 3_600_000 })
      yield* sync()
      setRevision(cluster, "kube-apiserver", 8)
      yield* TestClock.adjust(60_000)
      const waiting = yield* sync()
      expect(waiting.decision).toBe("WaitUntil")
      expect(waiting.requeueAt).toBe(start + 3_600_000)
      expect(configMapData(cluster, "backup-status")!.message).toMatch(/^render pending: /)
      expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("7")
      expect((yield* sync()).writes).toBe(0)
      yield* TestClock.setTime(start + 3_600_000)
      expect((yield* sync()).decision).toBe("Render")
      expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("8")
    }),
  )

  it.effect("a backup pod that ends while a render waits is announced with its own words, not the pending render's", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { minIntervalMs: 3_600_000 })
      yield* sync()
      setRevision(cluster, "kube-apiserver", 8)
      yield* TestClock.adjust(60_000)
      expect((yield* sync()).decision).toBe("WaitUntil")
      yield* runBackupPod(cluster, { phase: "Failed", containers: { "backup-create": { exitCode: 1, message: "NoSpace: /backup is full" } } })
      expect((yield* sync()).status?.status).toBe("Failed")
      // The status's message says what is pending; the Event says why the backup failed.
      expect(configMapData(cluster, "backup-status")!.message).toMatch(/^render pending: /)
      const failed = events(cluster).filter((e) => e.reason === "BackupFailed")
      expect(failed.map((e) => e.message)).toEqual([
        expect.stringMatching(/^init container backup-create of pod cluster-backup-\w+ exited with code 1: NoSpace: \/backup is full$/),
      ])
    }),
  )

  it.effect("a pending render undone (the revisions back to those rendered) leaves no 'render pending' message behind", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { minIntervalMs: 3_600_000 })
      yield* sync()
      setRevision(cluster, "kube-apiserver", 8)
      yield* TestClock.adjust(60_000)
      expect((yield* sync()).decision).toBe("WaitUntil")
      setRevision(cluster, "kube-apiserver", 7)
      yield* TestClock.adjust(60_000)
      expect((yield* sync()).decision).toBe("UpToDate")
      const status = configMapData(cluster, "backup-status")!
      expect(status.message).not.toMatch(/^render pending: /)
      expect(status.message).toContain("no render pending")
      expect(status.message).toContain("kube-apiserver=7")
      expect((yield* sync()).writes).toBe(0)
    }),
  )

  it.effect("a render whose status write failed still counts for the minimum interval: the next revisions wait an hour after it", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { minIntervalMs: 3_600_000 })
      yield* sync()
      yield* TestClock.adjust(2 * 3_600_000)
      // kube-apiserver 8 is rendered into cluster-backup-pod, but backup-status cannot be written (a conflict with a hand edit, an API blip).
      setRevision(cluster, "kube-apiserver", 8)
      cluster.faults.inject(Fault.conflict(), { resource: "configmaps", verb: "update", name: "backup-status" })
      expect(Exit.isFailure(yield* Effect.exit(sync()))).toBe(true)
      expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("8")
      const podCm = cluster.get(configMapType, ns, "cluster-backup-pod")!.metadata as { annotations: Record<string, string> }
      const renderedAt = Date.parse(podCm.annotations["backup.openshift.io/rendered-at"]!)
      // A minute later the rollout moves on: the spec rendered a minute ago is the last render, whatever backup-status says.
      yield* TestClock.adjust(60_000)
      setRevision(cluster, "kube-apiserver", 9)
      const next = yield* sync()
      expect(next.decision).toBe("WaitUntil")
      expect(next.requeueAt).toBe(renderedAt + 3_600_000)
      expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("8")
    }),
  )

  it.effect(
    "a render time written while the leader's clock ran a day ahead holds nothing back once the clock is right: backups count, new revisions render",
    () =>
      Effect.gen(function* () {
        const cluster = yield* setup()
        const sync = makeSync(cluster, { minIntervalMs: 3_600_000 })
        yield* TestClock.setTime(start + 86_400_000)
        yield* sync()
        expect(configMapData(cluster, "backup-status")!.lastRenderTime).toBe("2026-11-25T10:00:00Z")
        // The clock set right; a backup pod of the rendered spec completes (its times are the API server's, right all along).
        yield* TestClock.setTime(start)
        yield* runBackupPod(cluster, { phase: "Succeeded" })
        expect((yield* sync()).status?.status).toBe("Complete")
        setRevision(cluster, "kube-apiserver", 8)
        expect((yield* sync()).decision).toBe("Render")
        expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("8")
        expect(configMapData(cluster, "backup-status")!.lastRenderTime).toBe("2026-11-24T10:00:01Z")
      }),
  )

  it.effect("coalesces a rollout: renders once the revisions stopped moving for the settle window", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { settleMs: 30_000, minIntervalMs: 0 })
      expect((yield* sync()).decision).toBe("WaitUntil")
      yield* TestClock.adjust(30_000)
      expect((yield* sync()).decision).toBe("Render")
      for (const r of [8, 9, 10]) {
        setRevision(cluster, "kube-apiserver", r)
        yield* TestClock.adjust(10_000)
        expect((yield* sync()).decision).toBe("WaitUntil")
      }
      yield* TestClock.adjust(30_000)
      expect((yield* sync()).decision).toBe("Render")
      expect(events(cluster).filter((e) => e.reason === "BackupPodRendered")).toHaveLength(2)
      expect(renderedPod(cluster)!.metadata.labels["backup.openshift.io/kube-apiserver-revision"]).toBe("10")
    }),
  )

  it.effect("a missing CR or a CR without latestAvailableRevision blocks rendering with one Warning, and nothing is written", () =>
    Effect.gen(function* () {
      const cluster = yield* setup({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 5 })
      const sync = makeSync(cluster)
      const err = yield* Effect.flip(sync())
      expect(err._tag).toBe("RevisionsUnavailable")
      expect(err.message).toContain("kube-scheduler")
      yield* Effect.flip(sync())
      expect(events(cluster).map((e) => e.reason)).toEqual(["RevisionsUnavailable"])
      expect(configMapData(cluster, "cluster-backup-pod")).toBeUndefined()
      expect(configMapData(cluster, "backup-status")).toBeUndefined()
    }),
  )

  it.effect("a deleted operator CR is reported as missing in the Warning, not as one whose operator has not reported yet", () =>
    Effect.gen(function* () {
      const cluster = yield* setup(revs(3, 7, 5, 6))
      const sync = makeSync(cluster)
      yield* sync()
      Result.getOrThrow(cluster.remove(operatorTypes["kube-scheduler"], undefined, "cluster"))
      const err = yield* Effect.flip(sync())
      expect(err.message).toContain("kubeschedulers.operator.openshift.io/cluster (kube-scheduler) is missing")
      expect(err.message).not.toContain("has not reported")
      const warning = events(cluster).find((e) => e.reason === "RevisionsUnavailable")
      expect(warning?.message).toContain("is missing")
    }),
  )

  it.effect("a malformed backup-status is rebuilt from the rendered pod spec, keeping keys other tools wrote", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster)
      yield* sync()
      const cm = cluster.get(configMapType, ns, "backup-status")!
      Result.getOrThrow(cluster.replace(configMapType, { ...cm, data: { status: "Complete", revisions: "- etcd: three", owner: "me" } }))
      const repaired = yield* sync()
      expect(repaired.decision).toBe("UpToDate")
      const data = configMapData(cluster, "backup-status")!
      expect(data.owner).toBe("me")
      expect(data.revisions).toContain('etcd: "3"')
      expect(events(cluster).map((e) => e.reason)).toContain("BackupStatusRepaired")
      expect((yield* sync()).writes).toBe(0)
    }),
  )

  it.effect("honours a seed backup-status written by OpenShift (Complete at the current revisions)", () =>
    Effect.gen(function* () {
      const cluster = yield* setup(revs(3, 7, 5, 6))
      Result.getOrThrow(
        cluster.create(configMapType, {
          metadata: { name: "backup-status", namespace: ns },
          data: {
            status: "Complete",
            revisions: '- etcd: "3"\n- kubeApiserver: "7"\n- kubeControllerManager: "5"\n- kubeScheduler: "6"\n',
          },
        }),
      )
      const r = yield* makeSync(cluster)()
      expect(r.decision).toBe("UpToDate")
      // The pod spec is still published, so a backup can be taken on demand.
      expect(renderedPod(cluster)).toBeDefined()
      expect(configMapData(cluster, "backup-status")!.status).toBe("Complete")
    }),
  )

  it.effect("a backup pod whose backup-create exited 0 turns the status Complete; a failed one Failed with the reason", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster)
      yield* sync()
      yield* backupFails(cluster, sync, "backup-init", "EtcdUnreachable: no answer from https://etcd.openshift-etcd.svc:2379", [
        "backup-init",
        "EtcdUnreachable",
      ])
      yield* retriedBackupCompletes(cluster, sync)
      expect(configMapData(cluster, "backup-status")!.lastBackupTime).toBeDefined()
      expect(events(cluster).map((e) => e.reason)).toContain("BackupCompleted")
      expect((yield* sync()).writes).toBe(0)
      expect(cluster.list(podType, ns)).toHaveLength(2)
    }),
  )

  it.effect("deletes ended pods made from cluster-backup-pod beyond the history limits, never one running, holding or of a BackupPolicy", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster, { podHistory: { successful: 2, failed: 1 } })
      yield* sync()
      const kube = yield* Effect.provide(Kube, SimulatedKube.inMemory(cluster))
      const rendered = renderedPod(cluster)!
      const policyPod = yield* kube.pods.create(ns, {
        ...rendered,
        metadata: { name: "backup-nightly-1", labels: { ...rendered.metadata.labels, [policyNameLabel]: "nightly" } },
      } as never)
      Result.getOrThrow(cluster.terminatePod(ns, policyPod.metadata.name, { phase: "Succeeded" }))
      const names = () => cluster.list(podType, ns).map((p) => (p.metadata as { name: string }).name)
      const made: Array<string> = []
      const backup = (outcome: Parameters<typeof runBackupPod>[1]) =>
        Effect.gen(function* () {
          const before = new Set(names())
          yield* runBackupPod(cluster, outcome)
          made.push(names().find((n) => !before.has(n))!)
          yield* sync()
        })
      for (let i = 0; i < 4; i++) yield* backup({ phase: "Succeeded" })
      yield* backup({ phase: "Failed", containers: { "backup-init": { exitCode: 1, message: "EtcdUnreachable" } } })
      yield* backup({ phase: "Failed", containers: { "backup-init": { exitCode: 1, message: "EtcdUnreachable" } } })
      // Held for oc cp: complete, its backup-hold container still running.
      const held = (yield* kube.pods.create(ns, renderedPod(cluster) as never)).metadata.name
      const steps = rendered.spec.initContainers
      Result.getOrThrow(
        cluster.updateStatus(podType, ns, held, {
          phase: "Running",
          initContainerStatuses: steps.map(({ name }) => ({
            name,
            state: { terminated: { exitCode: 0, finishedAt: new Date(start + 60_000).toISOString() } },
          })),
        }),
      )
      yield* advance(1000)
      yield* sync()
      const left = names().sort()
      expect(left).toEqual([policyPod.metadata.name, made[2]!, made[3]!, made[5]!, held].sort())
      expect(configMapData(cluster, "backup-status")!.status).toBe("Complete")
      expect((yield* sync()).writes).toBe(0)
    }),
  )

  it.effect("a backup backup-create reported possibly dirty is Complete with the reasons, announced by a Warning BackupPossiblyDirty", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster)
      yield* sync()
      const why = "kube-apiserver: the snapshot's operator CR says revision 8, the resources are of revision 7"
      const report = encodeBackupCreateReport(backupCreateReportOf("2026-11-24_100001", "dirty", [why]))
      yield* runBackupPod(cluster, { phase: "Succeeded", containers: { "backup-create": { exitCode: 0, message: report } } })
      expect((yield* sync()).status?.status).toBe("Complete")
      expect(configMapData(cluster, "backup-status")!.message).toMatch(new RegExp(`completed, but it is possibly dirty \\(.*--allow-dirty\\): ${why}$`))
      expect(events(cluster).filter((e) => e.reason === "BackupPossiblyDirty" || e.reason === "BackupCompleted")).toEqual([
        expect.objectContaining({ reason: "BackupPossiblyDirty", type: "Warning" }),
      ])
    }),
  )

  it.effect("a pod made from cluster-backup-pod that cannot start a container raises one Warning BackupPodNotStarting with the kubelet's words", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster)
      yield* sync()
      const pod = yield* createRenderedPod(cluster)
      const waiting = { reason: "ImagePullBackOff", message: 'Back-off pulling image "registry.example/cluster-backup:0.1.0"' }
      Result.getOrThrow(cluster.updateStatus(podType, ns, pod, { phase: "Pending", initContainerStatuses: [{ name: "backup-init", state: { waiting } }] }))
      yield* advance(1000)
      yield* sync()
      yield* advance(1000)
      yield* sync()
      const warned = events(cluster).filter((e) => e.reason === "BackupPodNotStarting")
      expect(warned).toEqual([
        {
          reason: "BackupPodNotStarting",
          type: "Warning",
          message: `backup pod ${pod} cannot start its container backup-init: ImagePullBackOff: ${waiting.message}; it fails at its deadline unless the cause is fixed`,
        },
      ])
      expect(configMapData(cluster, "backup-status")!.status).toBe("Pending")
    }),
  )

  /** A person's pod of the rendered spec, taken by its kubelet (at `onNode`) that has started none of its containers yet. */
  const renderedPodOnItsNode = Effect.gen(function* () {
    const cluster = yield* setup()
    const sync = makeSync(cluster)
    yield* sync()
    const pod = yield* createRenderedPod(cluster)
    const onNode = yield* Clock.currentTimeMillis
    Result.getOrThrow(cluster.updateStatus(podType, ns, pod, mountWaitingPodStatus(new Date(onNode).toISOString())))
    return { cluster, sync, pod, onNode }
  })

  for (const eventsReadable of [true, false])
    it.effect(
      `a pod made from cluster-backup-pod that has started no container two minutes on its node (a volume it cannot mount) raises BackupPodNotStarting then, ${eventsReadable ? "in its FailedMount Event's words" : "pointing to oc describe pod when its Events cannot be read"}, and asks for that sync`,
      () =>
        Effect.gen(function* () {
          const { cluster, sync, pod, onNode } = yield* renderedPodOnItsNode
          const missing = 'MountVolume.SetUp failed for volume "proxy-credentials" : secret "cluster-backup-proxy" not found'
          // An older Role, without list on Events.
          if (!eventsReadable) cluster.faults.inject(Fault.forbidden(), { resource: "events", verb: "list", times: Infinity })
          yield* advance(60_000)
          const early = yield* sync()
          expect(events(cluster).filter((e) => e.reason === "BackupPodNotStarting")).toEqual([])
          expect(early.requeueAt).toBe(onNode + 120_000)
          yield* advance(60_000)
          Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, pod, "FailedMount", missing, new Date(onNode + 60_000).toISOString())))
          expect((yield* sync()).requeueAt).toBeUndefined()
          const words = eventsReadable ? `containers: none started within 2m on its node (FailedMount: ${missing})` : startWaitWords(pod)
          expect(events(cluster).filter((e) => e.reason === "BackupPodNotStarting")).toEqual([
            {
              reason: "BackupPodNotStarting",
              type: "Warning",
              message: `backup pod ${pod} cannot start its ${words}; it fails at its deadline unless the cause is fixed`,
            },
          ])
          expect(configMapData(cluster, "backup-status")!.status).toBe("Pending")
        }),
    )

  /** That pod, its Events showing its image being pulled; and the BackupPodNotStarting Warnings so far. */
  const pullingPodOnItsNode = Effect.gen(function* () {
    const onItsNode = yield* renderedPodOnItsNode
    const { cluster, pod, onNode } = onItsNode
    const pulling = 'Pulling image "quay.io/openshift/cluster-backup:4.18"'
    Result.getOrThrow(cluster.create(eventType, kubeletEvent(ns, pod, "Pulling", pulling, new Date(onNode + 5_000).toISOString())))
    const notStarting = () => events(cluster).filter((e) => e.reason === "BackupPodNotStarting")
    return { ...onItsNode, pulling, notStarting }
  })

  it.effect("a pod whose Events show its image being pulled raises BackupPodNotStarting only past ten minutes, and asks for that sync", () =>
    Effect.gen(function* () {
      const { sync, pod, onNode, pulling, notStarting } = yield* pullingPodOnItsNode
      yield* advance(120_000)
      expect(yield* sync()).toMatchObject({ requeueAt: onNode + 600_000, podNotStarting: false })
      expect(notStarting()).toEqual([])
      yield* advance(480_000)
      const late = yield* sync()
      expect(late.requeueAt).toBeUndefined()
      expect(late.podNotStarting).toBe(true)
      expect(notStarting().map((e) => e.message)).toEqual([
        `backup pod ${pod} cannot start its containers: none started within 10m on its node, its image still being pulled (Pulling: ${pulling}); it fails at its deadline unless the cause is fixed`,
      ])
    }),
  )

  it.effect(
    "a pod whose Events cannot be read (the API unavailable) is not taken for one that cannot mount: looked at again within 30s, and the pull read then gives it ten minutes",
    () =>
      Effect.gen(function* () {
        const { cluster, sync, pod, onNode, notStarting } = yield* pullingPodOnItsNode
        yield* advance(120_000)
        cluster.faults.inject(Fault.unavailable(), { resource: "events", verb: "list", times: Infinity })
        expect(yield* sync()).toMatchObject({ requeueAt: onNode + 150_000, podNotStarting: false })
        expect(notStarting()).toEqual([])
        cluster.faults.clear()
        yield* advance(30_000)
        expect(yield* sync()).toMatchObject({ requeueAt: onNode + 600_000, podNotStarting: false })
        expect(notStarting()).toEqual([])
        // Unread past the pull's limit too: it cannot start, whatever its Events say.
        cluster.faults.inject(Fault.unavailable(), { resource: "events", verb: "list", times: Infinity })
        yield* advance(450_000)
        expect(yield* sync()).toMatchObject({ requeueAt: undefined, podNotStarting: true })
        expect(notStarting().map((e) => e.message)).toEqual([
          expect.stringMatching(
            new RegExp(
              `^backup pod ${pod} cannot start its containers: none started within 10m on its node; its Events could not be read \\(.+\\): those of oc describe pod ${pod} say why;`,
            ),
          ),
        ])
      }),
  )

  it.effect("announces every backup pod that ends, once: a second failure (another pod, another reason) and a second completion too", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const sync = makeSync(cluster)
      yield* sync()
      const ended = () => events(cluster).filter((e) => e.reason !== "BackupPodRendered")
      yield* runBackupPod(cluster, { phase: "Failed", containers: { "backup-init": { exitCode: 1, message: "EtcdUnreachable: no answer" } } })
      yield* sync()
      yield* advance(60_000)
      yield* runBackupPod(cluster, { phase: "Failed", containers: { "backup-create": { exitCode: 1, message: "NoSpace: /backup is full" } } })
      yield* sync()
      yield* advance(60_000)
      yield* runBackupPod(cluster, { phase: "Succeeded" })
      yield* sync()
      yield* advance(60_000)
      yield* runBackupPod(cluster, { phase: "Succeeded" })
      yield* sync()
      yield* advance(60_000)
      expect((yield* sync()).writes).toBe(0)
      // Listed by their generated names: compared in any order.
      expect(
        ended()
          .map((e) => `${e.reason}: ${e.message.replace(/cluster-backup-\w+/, "<pod>")}`)
          .sort(),
      ).toEqual([
        "BackupCompleted: backup by pod <pod> completed",
        "BackupCompleted: backup by pod <pod> completed",
        "BackupFailed: init container backup-create of pod <pod> exited with code 1: NoSpace: /backup is full",
        "BackupFailed: init container backup-init of pod <pod> exited with code 1: EtcdUnreachable: no answer",
      ])
    }),
  )

  // How a pod ends without a finish time to read: failed as a whole before any container finished (a deadline during an
  // image pull), or with a container the kubelet lost track of (ContainerStatusUnknown: exit 137, no finishedAt).
  const endsUntimed = [
    { name: "failed as a whole (DeadlineExceeded)", says: "DeadlineExceeded", status: { phase: "Failed", reason: "DeadlineExceeded" } },
    {
      name: "whose backup-init the kubelet lost track of (ContainerStatusUnknown)",
      says: "ContainerStatusUnknown",
      status: {
        phase: "Failed",
        initContainerStatuses: [{ name: "backup-init", state: { terminated: { exitCode: 137, reason: "ContainerStatusUnknown" } } }],
      },
    },
  ] as const
  for (const { name, says, status } of endsUntimed) {
    it.effect(`a backup pod ${name} is recorded once: later syncs write nothing`, () =>
      Effect.gen(function* () {
        const cluster = yield* setup()
        const sync = makeSync(cluster)
        yield* sync()
        const kube = yield* Effect.provide(Kube, SimulatedKube.inMemory(cluster))
        const pod = yield* kube.pods.create(ns, renderedPod(cluster) as never)
        Result.getOrThrow(cluster.updateStatus(podType, ns, pod.metadata.name, status))
        yield* advance(1000)
        expect((yield* sync()).status?.status).toBe("Failed")
        const recorded = configMapData(cluster, "backup-status")!
        expect(recorded.message).toContain(says)
        // The failure's time is the pod's (its creation: nothing finished at a known time), not the sync's: each sync
        // wrote a new one, and each write woke the controller's backup-status watch for another sync.
        expect(recorded.lastBackupTime).toBe(pod.metadata.creationTimestamp)
        yield* advance(1234)
        expect((yield* sync()).writes).toBe(0)
        expect(configMapData(cluster, "backup-status")).toEqual(recorded)
      }),
    )
  }

  it.effect("with a store, renders backup-upload after backup-create; a failed upload turns the status Failed naming it, never Complete", () =>
    Effect.gen(function* () {
      const cluster = yield* setup()
      const store = { s3Url: "s3://backups/cluster-a", credentialsSecret: "cluster-backup-store", partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 }
      const sync = makeSync(cluster, { podOptions: { store, activeDeadlineSeconds: 10_800 } })
      yield* sync()
      const pod = renderedPod(cluster)!
      const inits = pod.spec.initContainers
      expect(inits.map((c) => c.name).slice(-2)).toEqual(["backup-create", "backup-upload"])
      expect(inits.at(-1)!.command).toEqual(expect.arrayContaining(["backup-upload", "--store", "s3://backups/cluster-a"]))
      expect(inits.filter((c) => c.volumeMounts.some((m) => m.name === "store-credentials")).map((c) => c.name)).toEqual(["backup-upload"])
      yield* backupFails(cluster, sync, "backup-upload", "UploadDeadlineExceeded: the upload to s3://backups did not finish within 3600000 ms", [
        "init container backup-upload",
        "UploadDeadlineExceeded",
      ])
      expect(events(cluster).map((e) => e.reason)).not.toContain("BackupCompleted")
      yield* retriedBackupCompletes(cluster, sync)
    }),
  )
})
