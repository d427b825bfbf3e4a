/**
 * Runs leader election on a `coordination.k8s.io/v1` Lease with the domain's rules
 * (`src/domain/leader-election.ts`). Takeovers are conditional updates on the resourceVersion
 * just read, so two candidates never both win; a leader that cannot renew stops acting after
 * `renewDeadline`, before its lease can expire for the others. On scope close it releases the
 * Lease so a successor takes over at once.
 */
import { Clock, Effect, Ref, Result } from "effect"
import {
  electionStep,
  formatMicroTime,
  mayAct,
  observeLease,
  parseKubeTime,
  releasedLease,
  type ElectionConfig,
  type LeaseObservation,
  type LeaseRecord,
} from "../../domain/leader-election.ts"
import { Kube, type KubeService } from "../../services/kube/kube.ts"
import type { Lease } from "../../services/kube/schemas.ts"
import { RetryLogLevel } from "../../services/retry-warning.ts"
import { describeStreak, type FailureStreak, noteFailure } from "../../domain/failure-streak.ts"

export interface LeaseElectionConfig extends ElectionConfig {
  readonly namespace: string
  readonly leaseName: string
}

/**
 * What the candidate knows: when it last renewed while holding the lease, and the Lease as it last
 * saw it change. Both times are on this process's monotonic clock (`monotonicMillis`), never the
 * wall clock, so an NTP step neither expires a lease still held nor stretches a leader's deadline.
 */
export interface LeadershipState {
  readonly lastRenew: number | undefined
  /** The last election round completed: the Lease read and, when the step needed one, written (a standby that could lead). */
  readonly contacted: boolean
  readonly observed: LeaseObservation | undefined
}

export const initialLeadership: LeadershipState = { lastRenew: undefined, contacted: false, observed: undefined }

const recordOf = (lease: Lease): LeaseRecord => {
  const spec = lease.spec ?? {}
  const renew = parseKubeTime(spec.renewTime ?? "") ?? 0
  return {
    holderIdentity: spec.holderIdentity ?? "",
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: parseKubeTime(spec.acquireTime ?? "") ?? renew,
    renewTime: renew,
    leaseTransitions: spec.leaseTransitions ?? 0,
  }
}

const specOf = (r: LeaseRecord) => ({
  holderIdentity: r.holderIdentity,
  leaseDurationSeconds: r.leaseDurationSeconds,
  acquireTime: formatMicroTime(r.acquireTime),
  renewTime: formatMicroTime(r.renewTime),
  leaseTransitions: r.leaseTransitions,
})

/** Milliseconds on the Clock's monotonic time (process.hrtime in the live Clock; the TestClock's adjusted time in tests). */
const monotonicMillis = Effect.map(Clock.monotonicTimeNanos, (n) => Number(n / 1000n) / 1000)

/** Whether this candidate may act now. */
export const isLeader = (config: ElectionConfig, state: Ref.Ref<LeadershipState>) =>
  Effect.gen(function* () {
    const now = yield* monotonicMillis
    return mayAct(config, (yield* Ref.get(state)).lastRenew, now)
  })

/** One round: read the Lease, take the domain's step. Returns whether it holds the lease now. */
export const electionRound = Effect.fn("electionRound")(function* (config: LeaseElectionConfig, state: Ref.Ref<LeadershipState>) {
  const kube = yield* Kube
  const now = yield* monotonicMillis
  const current = yield* kube.leases.get(config.namespace, config.leaseName).pipe(
    Effect.map((l): Lease | undefined => l),
    Effect.catchIf(
      (e) => e._tag === "NotFound",
      () => Effect.succeed(undefined),
    ),
  )
  const observed = observeLease((yield* Ref.get(state)).observed, current === undefined ? undefined : recordOf(current), now)
  yield* Ref.update(state, (s) => ({ ...s, contacted: true, observed }))
  const step = electionStep(config, observed, now, yield* Clock.currentTimeMillis)
  switch (step._tag) {
    case "Follow": {
      yield* Ref.update(state, (s) => ({ ...s, lastRenew: undefined }))
      return false
    }
    case "Create":
      yield* kube.leases.create(config.namespace, {
        metadata: { name: config.leaseName, namespace: config.namespace },
        spec: specOf(step.lease),
      })
      break
    case "Renew":
    case "Acquire":
      // `current` carries the resourceVersion read above: a racing candidate's write makes this a Conflict.
      yield* kube.leases.update(config.namespace, { ...current!, spec: specOf(step.lease) })
      if (step._tag === "Acquire") yield* Effect.logInfo(`acquired leadership (lease ${config.namespace}/${config.leaseName})`)
      break
  }
  yield* Ref.update(state, (s) => ({ ...s, lastRenew: now, observed: { record: step.lease, at: now } }))
  return true
})

/** Lets go of the Lease if this candidate holds it (on shutdown). Failures are logged, not raised. */
export const releaseLease = Effect.fn("releaseLease")(function* (config: LeaseElectionConfig, state: Ref.Ref<LeadershipState>) {
  if ((yield* Ref.get(state)).lastRenew === undefined) return
  const kube = yield* Kube
  const now = yield* Clock.currentTimeMillis
  yield* kube.leases.get(config.namespace, config.leaseName).pipe(
    Effect.flatMap((lease) => {
      const record = recordOf(lease)
      if (record.holderIdentity !== config.identity) return Effect.void
      return kube.leases.update(config.namespace, { ...lease, spec: specOf(releasedLease(record, now)) })
    }),
    Effect.tap(() => Ref.update(state, (s) => ({ ...s, lastRenew: undefined, contacted: true }))),
    Effect.tap(() => Effect.logInfo(`released lease ${config.namespace}/${config.leaseName}`)),
    Effect.catch((e) => Effect.logWarning(`could not release lease ${config.namespace}/${config.leaseName}: ${e.message}`)),
  )
})

/**
 * Rounds every `retryPeriod` until interrupted; `onChange` runs when leadership starts or ends.
 * A failed round is logged; leadership then lapses by itself after `renewDeadline`.
 */
export const runElection = (config: LeaseElectionConfig, state: Ref.Ref<LeadershipState>, onChange: (leading: boolean) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    let leading = false
    // An outage is said once (failure-streak.ts), not every round, nor every retry of a round's requests.
    let failing: FailureStreak | undefined
    while (true) {
      const round = yield* Effect.result(electionRound(config, state).pipe(Effect.provideService(RetryLogLevel, "Debug")))
      const at = yield* Clock.currentTimeMillis
      if (Result.isFailure(round)) {
        // A round that cannot write the Lease (RBAC, admission) leaves this replica unable ever to lead: not contacted.
        yield* Ref.update(state, (s) => ({ ...s, contacted: false }))
        const message = round.failure.message
        const noted = noteFailure(failing, message, at)
        failing = noted.streak
        yield* Effect.logWithLevel(noted.loud ? "Warn" : "Debug")(
          `leader election round failed: ${message}${noted.loud ? "; the same failure again is logged at debug level until a round succeeds" : ""}`,
        )
      } else if (failing !== undefined) {
        yield* Effect.logInfo(`leader election round succeeded after ${describeStreak(failing, "round", at)}`)
        failing = undefined
      }
      const now = yield* isLeader(config, state)
      if (now !== leading) {
        leading = now
        yield* onChange(now)
      }
      yield* Effect.sleep(config.retryPeriodMs)
    }
  })

/**
 * The Kube whose writes go through only while this candidate may act: a sync that was slow enough
 * for leadership to pass to another replica is interrupted at its next write instead of creating
 * a second pod beside the new leader's. Reads and the Lease itself are untouched.
 */
export const leaderOnlyWrites = (kube: KubeService, config: ElectionConfig, state: Ref.Ref<LeadershipState>): KubeService => {
  const gate =
    <Args extends ReadonlyArray<unknown>, A, E>(write: (...args: Args) => Effect.Effect<A, E>) =>
    (...args: Args): Effect.Effect<A, E> =>
      Effect.flatMap(isLeader(config, state), (leading) =>
        leading ? write(...args) : Effect.logWarning("leadership lost during a sync: stopping it before its next write").pipe(Effect.andThen(Effect.interrupt)),
      )
  return {
    ...kube,
    configMaps: { ...kube.configMaps, create: gate(kube.configMaps.create), update: gate(kube.configMaps.update), patch: gate(kube.configMaps.patch) },
    secrets: { ...kube.secrets, create: gate(kube.secrets.create), update: gate(kube.secrets.update), patch: gate(kube.secrets.patch) },
    pods: { ...kube.pods, create: gate(kube.pods.create), delete: gate(kube.pods.delete) },
    events: { ...kube.events, create: gate(kube.events.create) },
    backupPolicies: { ...kube.backupPolicies, updateStatus: gate(kube.backupPolicies.updateStatus) },
  }
}
