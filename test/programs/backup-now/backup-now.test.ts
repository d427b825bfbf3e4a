import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Result } from "effect"
import { TestClock } from "effect/testing"
import { backupRequestAnnotation } from "../../../src/domain/policy-pod.ts"
import { backupNow } from "../../../src/programs/backup-now/backup-now.ts"
import { backupPolicyType } from "../../../src/services/kube/resources.ts"
import { makeSimulatedCluster } from "../../../src/simulation/simulated-cluster.ts"
import * as SimulatedKube from "../../../src/simulation/simulated-kube.ts"
import { createPolicy } from "../operator/reconcile-harness.ts"

const annotationOf = (cluster: ReturnType<typeof makeSimulatedCluster>) =>
  (cluster.get(backupPolicyType, undefined, "nightly")?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[
    backupRequestAnnotation
  ]

describe("backupNow with no operator to take the request", () => {
  it.effect("asks after a minute whether the operator runs, then fails at the timeout saying where the request stood; the request stays", () =>
    Effect.gen(function* () {
      const cluster = makeSimulatedCluster()
      createPolicy(cluster, "nightly", { schedule: "0 0 1 1 *" })
      const lines: Array<string> = []
      const run = yield* Effect.forkChild(
        backupNow({ policy: "nightly", wait: true, timeoutMs: 120_000, pollMs: 5_000, output: (line) => Effect.sync(() => void lines.push(line)) }).pipe(
          Effect.provide(SimulatedKube.inMemory(cluster)),
          Effect.result,
        ),
      )
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
      const cluster = makeSimulatedCluster()
      createPolicy(cluster, "nightly", { schedule: "0 0 1 1 *" })
      const run = yield* Effect.forkChild(
        backupNow({ policy: "nightly", wait: true, timeoutMs: 120_000, pollMs: 5_000, output: () => Effect.void }).pipe(
          Effect.provide(SimulatedKube.inMemory(cluster)),
          Effect.result,
        ),
      )
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
