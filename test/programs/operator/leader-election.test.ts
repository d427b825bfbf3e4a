import { describe, expect, it } from "@effect/vitest"
import { type Clock, Duration, Effect, Fiber, Logger, Ref, References } from "effect"
import { TestClock } from "effect/testing"
import * as EffectClock from "effect/Clock"
import { formatMicroTime } from "../../../src/domain/leader-election.ts"
import { electionRound, initialLeadership, isLeader, type LeaseElectionConfig, runElection } from "../../../src/programs/operator/leader-election.ts"
import { Fault } from "../../../src/simulation/faults.ts"
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

describe("leader election during an API outage", () => {
  it.effect("says the outage once (no line per round, nor per request retry), and once when a round succeeds again", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      cluster.faults.inject(Fault.unavailable(), { resource: "leases", times: Infinity })
      const lines: Array<string> = []
      const capture = Logger.layer([Logger.make(({ logLevel, message }) => void lines.push(`${logLevel} ${String(message)}`))])
      const state = yield* Ref.make(initialLeadership)
      const changes: Array<boolean> = []
      const fiber = yield* runElection(election("a"), state, (leading) => Effect.sync(() => void changes.push(leading))).pipe(
        Effect.provide(SimulatedKube.inMemory(cluster)),
        Effect.provide(capture),
        Effect.provideService(References.MinimumLogLevel, "Debug"),
        Effect.forkChild,
      )
      for (let i = 0; i < 60; i++) yield* TestClock.adjust(Duration.seconds(1))
      const failed = lines.filter((l) => l.includes("leader election round failed"))
      expect(failed.length).toBeGreaterThanOrEqual(25)
      expect(lines.filter((l) => l.startsWith("Warn"))).toEqual([
        expect.stringMatching(
          /^Warn leader election round failed: .*The server is currently unable to handle the request \(injected\); the same failure again is logged at debug level until a round succeeds$/,
        ),
      ])
      expect(lines.filter((l) => /; retry \d+ of 5 in /.test(l)).length).toBeGreaterThan(0)
      cluster.faults.clear()
      for (let i = 0; i < 3; i++) yield* TestClock.adjust(Duration.seconds(1))
      expect(lines.filter((l) => l.includes("succeeded"))).toEqual([`Info leader election round succeeded after ${failed.length} failed rounds over 1m2s`])
      expect(changes).toEqual([true])
      yield* Fiber.interrupt(fiber)
    }),
  )
})
