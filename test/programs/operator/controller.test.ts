import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Logger, References, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import { formatMicroTime } from "../../../src/domain/leader-election.ts"
import { startController } from "../../../src/programs/operator/controller.ts"
import { ControllerMetrics } from "../../../src/services/controller-metrics.ts"
import { Kube, type KubeService } from "../../../src/services/kube/kube.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { policyNameLabel } from "../../../src/domain/policy-pod.ts"
import { leaseType, podType } from "../../../src/services/kube/resources.ts"
import { simulatedBackupReport, uploadedBackup } from "../../../src/simulation/simulated-kubelet.ts"
import { makeSimulatedCluster, type SimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import { Fault } from "../../../src/simulation/faults.ts"
import { defaultWatchBackoff } from "../../../src/services/kube/watch.ts"
import { configMapData, controllerConfig, createPolicy, ns, renderedPod, revs, seedOperators, setRevision } from "./reconcile-harness.ts"
import { until } from "../../support/eventually.ts"

const config = (identity: string) => controllerConfig(identity)

interface Write {
  readonly identity: string
  readonly holder: string | undefined
  readonly expired: boolean
}

/** The simulated Kube with every ConfigMap write recorded with the Lease's holder at that instant. */
const recordingKube = (cluster: SimulatedCluster, identity: string, writes: Array<Write>) =>
  Layer.effect(
    Kube,
    Effect.map(Kube, (k): KubeService => {
      const record = Effect.sync(() => {
        const lease = cluster.get(leaseType, ns, "cluster-backup-operator") as
          | { spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }
          | undefined
        const renew = Date.parse(lease?.spec?.renewTime ?? "")
        writes.push({ identity, holder: lease?.spec?.holderIdentity, expired: Date.now() > renew + (lease?.spec?.leaseDurationSeconds ?? 0) * 1000 })
      })
      return {
        ...k,
        configMaps: {
          ...k.configMaps,
          create: (n, cm) => record.pipe(Effect.andThen(k.configMaps.create(n, cm))),
          update: (n, cm) => record.pipe(Effect.andThen(k.configMaps.update(n, cm))),
        },
      }
    }),
  ).pipe(Layer.provide(SimulatedKube.inMemory(cluster)))

/** Starts the controller with `settings` on `kube` (and the metrics), in `scope`. */
const startOn = (settings: Parameters<typeof startController>[0], kube: Layer.Layer<Kube>, scope: Scope.Scope) =>
  startController(settings).pipe(
    Effect.provide(
      Layer.merge(
        kube,
        Layer.sync(ControllerMetrics, () => ControllerMetrics.make(ns)),
      ),
    ),
    Scope.provide(scope),
  )

const run = (cluster: SimulatedCluster, identity: string, writes: Array<Write>, scope: Scope.Scope, settings = config(identity)) =>
  startOn(settings, recordingKube(cluster, identity, writes), scope)

/**
 * Election timings for the two-replica race in real time: a leader steps down when it could not renew within
 * the deadline, so the deadline must outlast a loaded machine's stalls (the harness's 600 ms did not always).
 */
const racingConfig = (identity: string) => controllerConfig(identity, { leaseDurationMs: 4000, renewDeadlineMs: 2500, retryPeriodMs: 100 })

/** How long a live test waits for a render: room for a loaded 2-core machine, and still well under the resync. */
const renderWaitMs = 20_000

/** Lets every fiber the controller forked run until it waits again. */
const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow, { discard: true })
/** Moves the TestClock `ms` forward in 100 ms steps, settling after each. */
const step = (ms: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < ms / 100; i++) yield* TestClock.adjust(Duration.millis(100)).pipe(Effect.andThen(settle))
  })

const podLabel = (cluster: SimulatedCluster, key: string) => renderedPod(cluster)?.metadata?.labels?.[key] as string | undefined

describe("controller", () => {
  it.live("leads, renders, follows a revision bump through its watch, and releases the Lease on shutdown", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      const writes: Array<Write> = []
      const scope = yield* Scope.make()
      const handle = yield* run(cluster, "a", writes, scope)
      yield* until("first render", () => podLabel(cluster, "backup.openshift.io/etcd-revision") === "3")
      expect(handle.leading()).toBe(true)
      expect(handle.ready()).toBe(true)
      // Not timed (a loaded CI machine can take seconds): the wait is far shorter than the resync, so a render
      // within it came from the watch.
      expect(config("a").resyncMs).toBeGreaterThan(renderWaitMs * 2)
      setRevision(cluster, "etcd", 4)
      yield* until("render of etcd 4", () => podLabel(cluster, "backup.openshift.io/etcd-revision") === "4", renderWaitMs)
      expect(configMapData(cluster, "backup-status")!.revisions).toContain('etcd: "4"')
      yield* Scope.close(scope, Exit.void)
      const lease = cluster.get(leaseType, ns, "cluster-backup-operator") as { spec: { holderIdentity: string } }
      expect(lease.spec.holderIdentity).toBe("")
    }),
  )

  it.live("two replicas racing for the Lease never both write; the standby takes over when the leader stops", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      cluster.faults.setRandom({ seed: 7, conflict: 0.3, unavailable: 0.1, match: { resource: "leases" } })
      const writes: Array<Write> = []
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      const a = yield* run(cluster, "a", writes, scopeA, racingConfig("a"))
      const b = yield* run(cluster, "b", writes, scopeB, racingConfig("b"))
      yield* until("a render", () => renderedPod(cluster) !== undefined)
      yield* Effect.sleep(300)
      expect([a.leading(), b.leading()].filter(Boolean)).toHaveLength(1)
      const [leader, standby, leaderScope, standbyScope] = a.leading() ? [a, b, scopeA, scopeB] : [b, a, scopeB, scopeA]
      void leader
      for (const r of [4, 5, 6]) {
        setRevision(cluster, "etcd", r)
        yield* until(`render of etcd ${r}`, () => podLabel(cluster, "backup.openshift.io/etcd-revision") === String(r))
      }
      yield* Scope.close(leaderScope, Exit.void)
      setRevision(cluster, "etcd", 7)
      yield* until("the standby's render of etcd 7", () => podLabel(cluster, "backup.openshift.io/etcd-revision") === "7", renderWaitMs)
      expect(standby.leading()).toBe(true)
      yield* Scope.close(standbyScope, Exit.void)
      expect(writes.length).toBeGreaterThan(4)
      for (const w of writes) {
        expect(w.holder).toBe(w.identity)
        expect(w.expired).toBe(false)
      }
      expect(new Set(writes.map((w) => w.identity)).size).toBe(2)
    }),
  )

  it.live("a failing sync is retried with backoff until the API answers again", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      cluster.faults.inject(Fault.unavailable(), { resource: "configmaps", verb: "create", times: 20 })
      const scope = yield* Scope.make()
      const handle = yield* run(cluster, "a", [], scope)
      yield* until("render after the outage", () => renderedPod(cluster) !== undefined, renderWaitMs)
      expect(handle.syncs()).toBeGreaterThan(1)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect(
    "a minute of API outage for the syncs: one WARN when they start failing (no line per request retry), debug lines after it, one line when a sync succeeds again",
    () =>
      Effect.gen(function* () {
        const cluster = makeSimulatedCluster()
        seedOperators(cluster, revs(3, 7, 5, 6))
        const lines: Array<string> = []
        const capture = Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])
        cluster.faults.inject(Fault.unavailable(), { resource: "configmaps", verb: "get", times: Infinity })
        const scope = yield* Scope.make()
        yield* startOn(config("a"), SimulatedKube.inMemory(cluster), scope).pipe(
          Effect.provide(capture),
          Effect.provideService(References.MinimumLogLevel, "Debug"),
        )
        yield* step(60_000)
        const failed = lines.filter((l) => l.includes("sync failed"))
        expect(failed.length).toBeGreaterThan(2)
        expect(lines.filter((l) => l.startsWith("Warn"))).toEqual([
          expect.stringMatching(
            /^Warn sync failed \([^)]+\), retrying in \d+ ms: ConfigMap openshift-etcd\/\S+: The server is currently unable to handle the request \(injected\); the same failure again is logged at debug level until a sync succeeds$/,
          ),
        ])
        expect(failed.slice(1).every((l) => l.startsWith("Debug "))).toBe(true)
        // The requests' own retries happened, said at debug level.
        expect(lines.filter((l) => /; retry 5 of 5 in /.test(l)).length).toBeGreaterThan(0)
        expect(lines.filter((l) => /; retry \d+ of 5 in /.test(l) && !l.startsWith("Debug "))).toEqual([])
        cluster.faults.clear()
        yield* step(31_000)
        expect(lines.filter((l) => l.includes("sync succeeded"))).toEqual([
          expect.stringMatching(new RegExp(`^Info sync succeeded \\([^)]+\\) after ${failed.length} failed syncs over \\S+$`)),
        ])
        expect(renderedPod(cluster)).toBeDefined()
        yield* Scope.close(scope, Exit.void)
      }),
  )

  it.effect("a minute of API outage for a watch: a bounded number of requests, one WARN when it starts failing, one line when it is restored", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      const lines: Array<string> = []
      const capture = Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])
      const watchRequests = () => cluster.requests.filter((r) => r.resource === "configmaps" && (r.verb === "watch" || r.verb === "list")).length
      cluster.faults.inject(Fault.unavailable(), { resource: "configmaps", verb: ["watch", "list"], times: Infinity })
      const scope = yield* Scope.make()
      yield* startController({
        ...config("a"),
        election: { ...config("a").election, leaseDurationMs: 137_000, renewDeadlineMs: 107_000, retryPeriodMs: 26_000 },
      }).pipe(
        Effect.provide(
          Layer.merge(
            SimulatedKube.inMemory(cluster, { watchBackoff: defaultWatchBackoff }),
            Layer.sync(ControllerMetrics, () => ControllerMetrics.make(ns)),
          ),
        ),
        Effect.provide(capture),
        Scope.provide(scope),
      )
      const step = (seconds: number) =>
        Effect.gen(function* () {
          for (let i = 0; i < seconds * 10; i++) yield* TestClock.adjust(Duration.millis(100))
        })
      yield* step(60)
      // Two watches (cluster-backup-pod and backup-status), each list failing with backoff from 1 s to 30 s.
      expect(watchRequests()).toBeGreaterThanOrEqual(2 * 5)
      expect(watchRequests()).toBeLessThanOrEqual(2 * 10)
      const failing = lines.filter((l) => l.includes("watch of configmap") && l.includes("failing"))
      expect(failing).toHaveLength(2)
      expect(failing[0]).toMatch(/^Warn watch of configmap (cluster-backup-pod|backup-status) failing: .*; retrying with backoff$/)
      cluster.faults.clear()
      yield* step(31)
      const restored = lines.filter((l) => l.includes("watch of configmap") && l.includes("restored"))
      expect(restored.sort()).toEqual(["Info watch of configmap backup-status restored", "Info watch of configmap cluster-backup-pod restored"])
      expect(lines.filter((l) => l.includes("watch of") && l.includes("failing"))).toHaveLength(2)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect("a sync slower than the replica's leadership writes nothing once another replica took the Lease over", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      // The first sync's ConfigMap read takes 5 s (a slow API server); meanwhile "b" takes the Lease over.
      const slow = { on: true }
      const writes: Array<Write> = []
      const kube = Layer.effect(
        Kube,
        Effect.map(
          Kube,
          (k): KubeService => ({
            ...k,
            configMaps: { ...k.configMaps, get: (n, name) => Effect.sleep(slow.on ? 5000 : 0).pipe(Effect.andThen(k.configMaps.get(n, name))) },
          }),
        ),
      ).pipe(Layer.provide(recordingKube(cluster, "a", writes)))
      const scope = yield* Scope.make()
      const handle = yield* startOn(
        {
          ...config("a"),
          resyncMs: 600_000,
          election: { ...config("a").election, leaseDurationMs: 10_000, renewDeadlineMs: 2000, retryPeriodMs: 1000 },
        },
        kube,
        scope,
      )
      yield* settle
      expect(handle.leading()).toBe(true)
      const lease = cluster.get(leaseType, ns, "cluster-backup-operator")!
      const now = formatMicroTime(Date.now())
      Result.getOrThrow(
        cluster.replace(leaseType, {
          ...lease,
          spec: { holderIdentity: "b", leaseDurationSeconds: 3600, acquireTime: now, renewTime: now, leaseTransitions: 1 },
        }),
      )
      yield* step(1500)
      expect(handle.leading()).toBe(false)
      slow.on = false
      yield* step(6000)
      // The sync's read came back after the step-down: it must not render the backup pod beside the new leader's.
      expect(writes).toEqual([])
      expect(renderedPod(cluster)).toBeUndefined()
      yield* Scope.close(scope, Exit.void)
    }),
  )
  it.effect("a BackupPolicy status write that keeps answering Conflict is retried with backoff, not in a hot loop against the API server", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      createPolicy(cluster, "contested", { onRevisionChange: true, verify: "None" })
      // Another writer (a mutating webhook, a second controller) makes every status write of this policy stale.
      cluster.faults.inject(Fault.conflict(), { verb: "update", resource: "backuppolicies", name: "contested", times: Number.POSITIVE_INFINITY })
      const scope = yield* Scope.make()
      const handle = yield* startOn({ ...config("a"), resyncMs: 600_000, minBackoffMs: 1000, maxBackoffMs: 4000 }, SimulatedKube.inMemory(cluster), scope)
      yield* step(10_000)
      // 10 s at 1 s doubling to 4 s (jittered): a handful of syncs, where a resync at once would make hundreds.
      expect(handle.syncs()).toBeGreaterThan(1)
      expect(handle.syncs()).toBeLessThan(12)
      yield* Scope.close(scope, Exit.void)
    }),
  )
  it.effect("a Conflict's backoff does not delay another policy's scheduled backup: the sync wakes at the earlier of the two", () =>
    Effect.gen(function* () {
      // The clock at the policies' creation: a schedule runs only at its times after that.
      yield* TestClock.setTime(Date.now())
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      // Its first status write (its conditions) is refused; it takes no backup before 02:00.
      createPolicy(cluster, "contested", { schedule: "0 2 * * *" })
      createPolicy(cluster, "minutely", { schedule: "* * * * *", verify: "None", store: { pvc: { claimName: "etcd-backups", subPath: "minutely" } } })
      cluster.faults.inject(Fault.conflict(), { verb: "update", resource: "backuppolicies", name: "contested", times: Number.POSITIVE_INFINITY })
      const pods = () => cluster.list(podType, ns, `${policyNameLabel}=minutely`).length
      const scope = yield* Scope.make()
      // The Conflict's backoff (5 to 10 minutes) is far beyond the schedule's next minute.
      const handle = yield* startOn(
        { ...config("a"), resyncMs: 3_600_000, minBackoffMs: 300_000, maxBackoffMs: 600_000 },
        SimulatedKube.inMemory(cluster),
        scope,
      )
      yield* settle
      const before = pods()
      // The schedule's first minute after the policy's creation.
      yield* step(125_000)
      expect(pods()).toBe(before + 1)
      // Still no hot loop: a sync per wake-up the policies asked for, the contested status refused each time.
      expect(handle.syncs()).toBeLessThan(10)
      yield* Scope.close(scope, Exit.void)
    }),
  )
  it.effect("a wake while the lease's renewal is late but the election has not stepped down is not lost: the sync follows the renewal", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      // A Lease read that takes 1.5 s (a starved event loop): the round that started at 1 s renews at 2.5 s, after the
      // 2 s renew deadline, and the election sees itself leading before and after (no step-down, no "became leader").
      const slow = { on: false }
      const kube = Layer.effect(
        Kube,
        Effect.map(
          Kube,
          (k): KubeService => ({
            ...k,
            leases: { ...k.leases, get: (n, name) => Effect.sleep(slow.on ? 1500 : 0).pipe(Effect.andThen(k.leases.get(n, name))) },
          }),
        ),
      ).pipe(Layer.provide(SimulatedKube.inMemory(cluster)))
      const scope = yield* Scope.make()
      yield* startOn(
        {
          ...config("a"),
          resyncMs: 600_000,
          election: { ...config("a").election, leaseDurationMs: 10_000, renewDeadlineMs: 2000, retryPeriodMs: 1000 },
        },
        kube,
        scope,
      )
      const rendered = () => renderedPod(cluster)?.metadata.labels["backup.openshift.io/kube-apiserver-revision"]
      yield* settle
      expect(rendered()).toBe("7")
      slow.on = true
      yield* step(2200)
      // The renewal is overdue: the bump's wake finds the operator unable to act.
      setRevision(cluster, "kube-apiserver", 8)
      yield* settle
      expect(rendered()).toBe("7")
      slow.on = false
      yield* step(3000)
      expect(rendered()).toBe("8")
      yield* Scope.close(scope, Exit.void)
    }),
  )
  it.live("a write that keeps failing for one policy does not freeze the others' series: its backups still show in the metrics", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      for (const name of ["nightly", "broken"]) {
        createPolicy(cluster, name, { onRevisionChange: true, store: { pvc: { claimName: "etcd-backups", subPath: name } }, verify: "None" })
      }
      // Every status write of "broken" is refused (an admission policy, say): the sync fails and is retried for ever.
      cluster.faults.inject(Fault.forbidden(), { verb: "update", resource: "backuppolicies", name: "broken", times: Number.POSITIVE_INFINITY })
      const metrics = ControllerMetrics.make(ns)
      const scope = yield* Scope.make()
      yield* startController(config("a")).pipe(
        Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
        Scope.provide(scope),
      )
      const podOf = (policy: string) =>
        cluster.list(podType, ns).find((p) => (p.metadata as { labels?: Record<string, string> }).labels?.[policyNameLabel] === policy)
      yield* until("nightly's pod", () => podOf("nightly") !== undefined)
      const pod = podOf("nightly")!
      Result.getOrThrow(cluster.terminatePod(ns, (pod.metadata as { name: string }).name, uploadedBackup(simulatedBackupReport(pod, new Date()))))
      const lastSuccess = /^cluster_backup_policy_last_success_timestamp_seconds\{policy="nightly"\} \d/m
      let body = (yield* metrics.expose).body
      for (const deadline = Date.now() + 10_000; !lastSuccess.test(body) && Date.now() < deadline; body = (yield* metrics.expose).body) {
        yield* Effect.sleep(10)
      }
      expect(body).toMatch(lastSuccess)
      expect(body).toMatch(/^cluster_backup_policy_info\{policy="broken"/m)
      yield* Scope.close(scope, Exit.void)
    }),
  )
  it.live("a replica that steps down stops exporting what it saw as leader: a standby's stale series would outvote the leader's", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      seedOperators(cluster, revs(3, 7, 5, 6))
      createPolicy(cluster, "nightly", { schedule: "0 2 * * *", retention: { keepLast: 3 } })
      const metrics = ControllerMetrics.make(ns)
      const scope = yield* Scope.make()
      const handle = yield* startController(config("a")).pipe(
        Effect.provide(Layer.merge(SimulatedKube.inMemory(cluster), Layer.succeed(ControllerMetrics, metrics))),
        Scope.provide(scope),
      )
      let body = ""
      const scraped = Effect.gen(function* () {
        body = (yield* metrics.expose).body
      })
      yield* until("the policy's series", () => handle.lastPolicyResult()?.metrics[0]?.policy === "nightly")
      yield* scraped
      expect(body).toContain('cluster_backup_policy_info{policy="nightly"')
      expect(body).toContain('cluster_backup_observed_revision{operand="etcd"} 3')
      // Another replica holds the Lease now (this one's renewals were late): this replica stands by, and keeps running.
      const lease = cluster.get(leaseType, ns, "cluster-backup-operator")!
      const renewTime = new Date().toISOString().replace("Z", "000Z")
      Result.getOrThrow(
        cluster.replace(leaseType, {
          ...lease,
          spec: { holderIdentity: "b", leaseDurationSeconds: 60, acquireTime: renewTime, renewTime, leaseTransitions: 1 },
        }),
      )
      yield* until("the step-down", () => !handle.leading())
      yield* Effect.sleep(200)
      yield* scraped
      expect(body).toContain("cluster_backup_leader 0")
      expect(body).not.toMatch(/^cluster_backup_policy_\w+\{/m)
      expect(body).not.toMatch(/^cluster_backup_(observed|backed_up)_revision\{/m)
      yield* Scope.close(scope, Exit.void)
    }),
  )
})
