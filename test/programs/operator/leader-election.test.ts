import { describe, expect, it } from "@effect/vitest"
import { type Clock, Effect, Ref } from "effect"
import * as EffectClock from "effect/Clock"
import { formatMicroTime } from "../../../src/domain/leader-election.ts"
import { electionRound, initialLeadership, isLeader, type LeaseElectionConfig } from "../../../src/programs/operator/leader-election.ts"
import { leaseType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"

/** A clock whose wall time and monotonic time move apart, as an NTP step moves the one and not the other. */
const steppingClock = (wallStart: number) => {
  const t = { wall: wallStart, mono: 5_000 }
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => t.wall,
    currentTimeMillis: Effect.sync(() => t.wall),
    currentTimeNanosUnsafe: () => BigInt(t.wall) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(t.wall) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => BigInt(t.mono) * 1_000_000n,
    monotonicTimeNanos: Effect.sync(() => BigInt(t.mono) * 1_000_000n),
    sleep: () => Effect.void,
  }
  /** Real time passes: both clocks move. */
  const pass = (ms: number) => {
    t.wall += ms
    t.mono += ms
  }
  /** The wall clock is stepped; the monotonic one does not move. */
  const step = (ms: number) => {
    t.wall += ms
  }
  return { clock, pass, step }
}

const ns = "openshift-etcd"
const election = (identity: string): LeaseElectionConfig => ({
  identity,
  namespace: ns,
  leaseName: "cluster-backup-operator",
  leaseDurationMs: 10_000,
  renewDeadlineMs: 6000,
  retryPeriodMs: 2000,
})
const day = 86_400_000

describe("leader election under a wall-clock step", () => {
  it.effect("a follower whose wall clock jumps forward does not take a lease its holder still renews", () =>
    Effect.gen(function* () {
      const start = Date.parse("2026-12-01T00:00:00Z")
      const { clock, pass, step } = steppingClock(start)
      const cluster = makeSimulatedCluster({ now: () => new Date(clock.currentTimeMillisUnsafe()) })
      cluster.create(leaseType, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "cluster-backup-operator", namespace: ns },
        spec: { holderIdentity: "a", leaseDurationSeconds: 10, acquireTime: formatMicroTime(start), renewTime: formatMicroTime(start), leaseTransitions: 0 },
      })
      const state = yield* Ref.make(initialLeadership)
      const round = electionRound(election("b"), state).pipe(Effect.provide(SimulatedKube.inMemory(cluster)), Effect.provideService(EffectClock.Clock, clock))
      expect(yield* round).toBe(false)
      pass(1000)
      step(day)
      expect(yield* round).toBe(false)
      expect((cluster.get(leaseType, ns, "cluster-backup-operator") as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity).toBe("a")
    }),
  )

  it.effect("a leader whose wall clock jumps back stops acting once its renew deadline passed by its own elapsed time", () =>
    Effect.gen(function* () {
      const { clock, pass, step } = steppingClock(Date.parse("2026-12-01T00:00:00Z"))
      const cluster = makeSimulatedCluster({ now: () => new Date(clock.currentTimeMillisUnsafe()) })
      const state = yield* Ref.make(initialLeadership)
      const live = <A, E, R>(e: Effect.Effect<A, E, R>) => e.pipe(Effect.provideService(EffectClock.Clock, clock))
      expect(yield* live(electionRound(election("a"), state).pipe(Effect.provide(SimulatedKube.inMemory(cluster))))).toBe(true)
      expect(yield* live(isLeader(election("a"), state))).toBe(true)
      // No renewal for 7 s (past the 6 s renew deadline) while the wall clock was stepped back an hour.
      pass(7000)
      step(-3_600_000)
      expect(yield* live(isLeader(election("a"), state))).toBe(false)
    }),
  )
})
