/**
 * The BackupConfigController: watches on the four operator CRs, the backup pods and its
 * ConfigMaps say *when* to reconcile; `reconcile` decides *what*. Triggers are coalesced (a
 * burst of events runs one sync) and syncs run one at a time, only while this replica leads.
 * A pending render is woken at its instant; failed syncs retry on a Schedule (capped, jittered, exponential);
 * a periodic resync catches anything a watch missed. On interruption (SIGTERM) the sync in
 * progress finishes and the Lease is released.
 */
import { Cause, Clock, Duration, Effect, FiberHandle, Option, Pull, Queue, Ref, Schedule, Stream } from "effect"
import { backupStatusConfigMapName, lastCompleteTimeOf } from "../../domain/backup-status.ts"
import { backupPodSelector } from "../../domain/backup-pod-names.ts"
import { operandNames as allOperands } from "../../domain/operands.ts"
import { ControllerMetrics } from "../../services/controller-metrics.ts"
import { Kube, type WatchEvent } from "../../services/kube/kube.ts"
import { retrySchedule } from "../../services/kube/retry.ts"
import { RetryLogLevel } from "../../services/retry-warning.ts"
import { describeStreak, type FailureStreak, noteFailure } from "../../domain/failure-streak.ts"
import { initialLeadership, isLeader, leaderOnlyWrites, releaseLease, runElection, type LeaseElectionConfig, type LeadershipState } from "./leader-election.ts"
import { backupPodConfigMapName, emptyMemory } from "../../domain/operator-desired-state.ts"
import { emptyPolicyMemory } from "../../domain/policy-desired-state.ts"
import { policyReconcileConfig, retriedOnError, syncPolicies, type PolicyReconcileResult } from "./policy-reconcile.ts"
import { reconcile, type ReconcileConfig, type ReconcileResult } from "./reconcile.ts"

export interface ControllerConfig {
  readonly reconcile: ReconcileConfig
  readonly election: LeaseElectionConfig
  /** Reconcile at least this often even without events. */
  readonly resyncMs: number
  /** First retry delay after a failed sync (doubles, jittered, up to `maxBackoffMs`). */
  readonly minBackoffMs: number
  readonly maxBackoffMs: number
}

/** What the controller exposes to probes and tests while it runs. */
export interface ControllerHandle {
  /** `/readyz`: a first sync succeeded (a standby: it reached the API), and none of its watches is failing. */
  readonly ready: () => boolean
  readonly leading: () => boolean
  readonly lastResult: () => ReconcileResult | undefined
  /** The newest successful BackupPolicy sync's result. */
  readonly lastPolicyResult: () => PolicyReconcileResult | undefined
  readonly syncs: () => number
}

/**
 * Starts the controller in the current scope and returns its handle; it runs until the scope
 * closes. Needs `Kube` and `ControllerMetrics`.
 */
export const startController = Effect.fn("startController")(function* (config: ControllerConfig) {
  const kube = yield* Kube
  const metrics = yield* ControllerMetrics
  const trigger = yield* Queue.sliding<string>(1)
  const wake = (why: string) => Queue.offer(trigger, why).pipe(Effect.asVoid)
  const leadership = yield* Ref.make<LeadershipState>(initialLeadership)
  const memory = yield* Ref.make(emptyMemory)
  const policyMemory = yield* Ref.make(emptyPolicyMemory)
  const policyConfig = policyReconcileConfig(config.reconcile)
  let lastPolicies: PolicyReconcileResult | undefined
  let ready = false
  // The watches failing now, by name: the controller is blind to their changes until they are restored.
  const failingWatches = new Set<string>()
  let leading = false
  let last: ReconcileResult | undefined
  let syncs = 0
  // The outage in progress, said once (failure-streak.ts).
  let failing: FailureStreak | undefined

  // Leadership: released when the scope closes (after the worker below has stopped).
  yield* Effect.addFinalizer(() => releaseLease(config.election, leadership).pipe(Effect.andThen(metrics.leader(false))))
  yield* Effect.forkScoped(
    runElection(config.election, leadership, (now) =>
      Effect.gen(function* () {
        leading = now
        yield* metrics.leader(now)
        yield* Effect.logInfo(now ? "leading: reconciling" : "not leading: standing by")
        if (now) yield* wake("became leader")
      }),
    ),
  )

  // Watches: any change is a reason to look again. A failing watch retries by itself with backoff
  // (watch.ts) and says so once when it starts failing and once when it works again.
  const watchForever = <A>(name: string, stream: Stream.Stream<WatchEvent<A>>) =>
    Effect.forkScoped(
      Stream.runForEach(stream, (event) => {
        switch (event.type) {
          case "FAILING":
            // NotFound: the API does not serve the type (no BackupPolicy CRD installed), nothing to watch; not a blind spot.
            if (event.error._tag !== "NotFound") failingWatches.add(name)
            return Effect.logWarning(`watch of ${name} failing: ${event.error.message}; retrying with backoff`)
          case "RESTORED":
            failingWatches.delete(name)
            return Effect.logInfo(`watch of ${name} restored`).pipe(Effect.andThen(wake(`${name} restored`)))
          default:
            return wake(name)
        }
      }),
    )
  for (const operand of allOperands) yield* watchForever(`operator ${operand}`, kube.operators.watch(operand))
  // A policy's pods carry the backup pods' labels: this watch wakes the policies' sync too.
  yield* watchForever("backup pods", kube.pods.watch(config.reconcile.namespace, { labelSelector: backupPodSelector }))
  yield* watchForever("backup policies", kube.backupPolicies.watch())
  // By name, so RBAC can limit the operator to its own two ConfigMaps.
  for (const name of [backupPodConfigMapName, backupStatusConfigMapName]) {
    yield* watchForever(`configmap ${name}`, kube.configMaps.watch(config.reconcile.namespace, { name }))
  }

  // Periodic resync.
  yield* Effect.forkScoped(Effect.forever(Effect.sleep(config.resyncMs).pipe(Effect.andThen(wake("resync")))))

  // Delayed wake-ups (a pending render's instant, a retry after failure): the newest replaces the older.
  const timer = yield* FiberHandle.make<void, never>()
  const wakeAt = (at: number, why: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* FiberHandle.run(timer, Effect.sleep(Math.max(0, at - now)).pipe(Effect.andThen(wake(why))))
    })

  // The worker: one sync at a time; a sync in progress is not interrupted. Failed syncs are retried
  // on the Kube requests' schedule (jittered exponential backoff, the server's Retry-After when a
  // failure carries one), started afresh after each success.
  const backoff = Schedule.toStep(
    retrySchedule<unknown>({ maxRetries: Number.POSITIVE_INFINITY, baseDelayMillis: config.minBackoffMs, maxDelayMillis: config.maxBackoffMs, jitter: 0.5 }),
  )
  let retry = yield* backoff
  const retryDelay = (now: number, error: unknown) =>
    retry(now, error).pipe(
      Effect.map(([, delay]) => Duration.toMillis(delay)),
      Pull.catchDone(() => Effect.succeed(config.maxBackoffMs)),
    )
  const handle = (why: string) =>
    Effect.gen(function* () {
      if (!(yield* isLeader(config.election, leadership))) {
        // A late renewal (a slow round under load) without a step-down: no "became leader" wake will follow, so look
        // again a retry period later instead of dropping this wake until the resync.
        if (leading) yield* wakeAt((yield* Clock.currentTimeMillis) + config.election.retryPeriodMs, why)
        return
      }
      // Each write checks leadership first: a sync outlasting this replica's leadership stops before its next write.
      // A request's retries are said once, as the sync's failure, not a line per retry of every request of every sync.
      const writes = <A, E>(effect: Effect.Effect<A, E, Kube>) =>
        effect.pipe(Effect.provideService(Kube, leaderOnlyWrites(kube, config.election, leadership)), Effect.provideService(RetryLogLevel, "Debug"))
      const result = yield* Effect.exit(writes(reconcile(config.reconcile, memory)))
      // The policies' sync runs whatever the ConfigMap sync did: each reads and decides on its own.
      const synced = yield* Effect.exit(writes(syncPolicies(policyConfig, policyMemory)))
      const policies = yield* Effect.exit(Effect.flatMap(synced, retriedOnError))
      syncs++
      const now = yield* Clock.currentTimeMillis
      if (result._tag === "Success") {
        last = result.value
        ready = true
      }
      // What a sync saw is exported only while this replica leads: a step-down during the sync has cleared it.
      if (result._tag === "Success" && leading) {
        yield* metrics.observedRevisions(result.value.observed)
        yield* metrics.backedUpRevisions(result.value.status?.revisions)
        yield* metrics.renderPending(result.value.decision === "WaitUntil")
        yield* metrics.volumeShortfall(result.value.volumeShortfallBytes)
        yield* metrics.podNotStarting(result.value.podNotStarting)
        if (result.value.status?.lastRenderTime !== undefined) yield* metrics.lastRender(result.value.status.lastRenderTime)
        // From the status, not from this process's memory: a restarted operator reports the same newest backup.
        const lastComplete = result.value.status === undefined ? undefined : lastCompleteTimeOf(result.value.status)
        if (lastComplete !== undefined) yield* metrics.lastCompleteBackup(lastComplete)
      }
      if (policies._tag === "Success") lastPolicies = policies.value
      // What the sync saw of every policy, even when a write for one of them failed (a quota refusing its pod): the
      // others' backups go on, and frozen series would raise their alerts.
      if (synced._tag === "Success" && leading) yield* metrics.policies(synced.value.result.metrics)
      // The earliest instant either part asked for (a pending render, a policy's run, a stale status to read again).
      // A stale status (Conflict) is looked at again on the failures' backoff, not at once: a Conflict that lasts (a
      // mutating webhook rewriting the status, another writer) would otherwise be a hot loop against the API server.
      // A missing proxy Secret is looked at again the same way: the operator may get it, not watch it. A policy's
      // wake-up before that backoff ends (another policy's schedule) still comes on time; one already due is the
      // conflicted write itself, and waits the backoff.
      const conflicted = policies._tag === "Success" && policies.value.requeue
      const policyWake = policies._tag === "Success" ? policies.value.wakeAt : undefined
      const asked = [
        result._tag === "Success" ? result.value.requeueAt : undefined,
        conflicted ? now + (yield* retryDelay(now, undefined)) : undefined,
        conflicted && policyWake !== undefined && policyWake <= now ? undefined : policyWake,
      ].filter((t): t is number => t !== undefined)
      const failed = result._tag === "Failure" ? result.cause : policies._tag === "Failure" ? policies.cause : undefined
      if (failed === undefined) {
        if (!conflicted) retry = yield* backoff
        if (failing !== undefined) {
          yield* Effect.logInfo(`sync succeeded (${why}) after ${describeStreak(failing, "sync", now)}`)
          failing = undefined
        }
        yield* metrics.reconciled("success")
        if (asked.length > 0) yield* wakeAt(Math.min(...asked), "pending render or policy run due")
        yield* Effect.logDebug(
          `synced (${why}): ${result._tag === "Success" ? result.value.decision : ""}, policies: ${policies._tag === "Success" ? policies.value.writes : 0} writes`,
        )
      } else {
        yield* metrics.reconciled("error")
        const error = Option.getOrUndefined(Cause.findErrorOption(failed))
        const delay = yield* retryDelay(now, error)
        const message = messageOf(error) ?? Cause.pretty(failed).split("\n")[0]!
        const noted = noteFailure(failing, message, now)
        failing = noted.streak
        yield* Effect.logWithLevel(noted.loud ? "Warn" : "Debug")(
          `sync failed (${why}), retrying in ${delay} ms: ${message}${noted.loud ? "; the same failure again is logged at debug level until a sync succeeds" : ""}`,
        ).pipe(Effect.annotateLogs({ cause: String(failed) }))
        yield* wakeAt(Math.min(now + delay, ...asked), "retry after failure")
      }
    })
  yield* Effect.forkScoped(Effect.forever(Queue.take(trigger).pipe(Effect.flatMap((why) => Effect.uninterruptible(handle(why))))))
  yield* wake("start")

  return {
    // Ready: a first sync done (a standby: the API reached), and every watch running.
    ready: () => failingWatches.size === 0 && (ready || (!leading && Effect.runSync(Ref.get(leadership)).contacted)),
    leading: () => leading,
    lastResult: () => last,
    lastPolicyResult: () => lastPolicies,
    syncs: () => syncs,
  } satisfies ControllerHandle
})

const messageOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" && error.message !== "" ? error.message : undefined
