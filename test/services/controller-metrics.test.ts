import { it as effectIt } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { ControllerMetrics } from "../../src/services/controller-metrics.ts"

const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e)

describe("ControllerMetrics", () => {
  it("exposes reconcile counts, revisions per operand and the age of the newest complete backup", async () => {
    // The backup completes "now"; its age is read from the clock when /metrics is scraped, later.
    let now = 400_000
    const m = ControllerMetrics.make("openshift-etcd", () => now)
    await run(m.reconciled("success"))
    await run(m.reconciled("success"))
    await run(m.reconciled("error"))
    await run(m.observedRevisions({ etcd: 3, "kube-apiserver": 7 }))
    await run(m.backedUpRevisions({ etcd: 2, "kube-apiserver": 7, "kube-controller-manager": 5, "kube-scheduler": 6 }))
    await run(m.lastCompleteBackup(400_000))
    now = 1_000_000
    const { body, contentType } = await run(m.expose)
    expect(contentType).toContain("text/plain")
    expect(body).toContain('cluster_backup_reconciles_total{result="success"} 2')
    expect(body).toContain('cluster_backup_reconciles_total{result="error"} 1')
    expect(body).toContain('cluster_backup_observed_revision{operand="etcd"} 3')
    expect(body).not.toContain('cluster_backup_observed_revision{operand="kube-scheduler"}')
    expect(body).toContain('cluster_backup_backed_up_revision{operand="kube-scheduler"} 6')
    expect(body).toContain('cluster_backup_newest_complete_backup_age_seconds{namespace="openshift-etcd"} 600')
  })

  effectIt.effect("the live layer's backup age follows the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_000_000)
      const m = yield* Effect.provide(ControllerMetrics, ControllerMetrics.live("openshift-etcd"))
      yield* m.lastCompleteBackup(1_000_000)
      yield* TestClock.adjust(600_000)
      expect((yield* m.expose).body).toContain('cluster_backup_newest_complete_backup_age_seconds{namespace="openshift-etcd"} 600')
    }),
  )

  it("exposes what the rendered pod's volume lacks at etcd's quota, and no series while the quota is unknown", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    const series = async () => (await run(m.expose)).body.split("\n").filter((l) => l.startsWith("cluster_backup_volume_shortfall_bytes"))
    expect(await series()).toEqual([])
    await run(m.volumeShortfall(4 * 2 ** 30))
    expect(await series()).toEqual([`cluster_backup_volume_shortfall_bytes{namespace="openshift-etcd"} ${4 * 2 ** 30}`])
    await run(m.volumeShortfall(undefined))
    expect(await series()).toEqual([])
    await run(m.volumeShortfall(0))
    await run(m.leader(false))
    expect(await series()).toEqual([])
  })

  it("exposes whether the newest rendered pod that runs cannot start, and no series on a standby", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    const series = async () => (await run(m.expose)).body.split("\n").filter((l) => l.startsWith("cluster_backup_pod_not_starting"))
    expect(await series()).toEqual([])
    await run(m.podNotStarting(true))
    expect(await series()).toEqual(['cluster_backup_pod_not_starting{namespace="openshift-etcd"} 1'])
    await run(m.podNotStarting(false))
    expect(await series()).toEqual(['cluster_backup_pod_not_starting{namespace="openshift-etcd"} 0'])
    await run(m.leader(false))
    expect(await series()).toEqual([])
  })

  it("two registries do not share counters", async () => {
    const a = ControllerMetrics.make("openshift-etcd")
    const b = ControllerMetrics.make("openshift-etcd")
    await run(a.reconciled("success"))
    expect((await run(b.expose)).body).not.toContain('result="success"} 1')
  })

  it("reports no backup age before any backup completed", async () => {
    const { body } = await run(ControllerMetrics.make("openshift-etcd").expose)
    expect(body).not.toMatch(/^cluster_backup_(newest_complete_backup_age_seconds|last_complete_backup_timestamp_seconds)\S* \d/m)
  })
})
