/**
 * The operator's Prometheus metrics, on a registry of its own (no global state, so tests and two
 * controllers in one process do not share counters).
 */
import { Clock, Context, Effect, Layer } from "effect"
import * as Prom from "prom-client"
import { operandNames, type OperandName } from "../domain/operands.ts"
import type { PolicyMetricValues } from "../domain/policy-metric-values.ts"
import type { RevisionSet } from "../domain/revisions.ts"
import { makePolicyMetrics } from "./policy-metrics.ts"

/** 1 on the replica holding the leader Lease, 0 on a standby: the alert on no replica leading reads it. */
export const leaderMetricName = "cluster_backup_leader"

export interface ControllerMetricsShape {
  readonly reconciled: (result: "success" | "error") => Effect.Effect<void>
  readonly observedRevisions: (set: Partial<Record<OperandName, number>>) => Effect.Effect<void>
  readonly backedUpRevisions: (set: RevisionSet | undefined) => Effect.Effect<void>
  readonly renderPending: (pending: boolean) => Effect.Effect<void>
  readonly lastRender: (atMs: number) => Effect.Effect<void>
  readonly lastCompleteBackup: (atMs: number) => Effect.Effect<void>
  /** What the rendered backup pod's /backup volume lacks at etcd's quota (undefined: the quota is unknown, no series). */
  readonly volumeShortfall: (bytes: number | undefined) => Effect.Effect<void>
  /** Whether the newest pod made from `cluster-backup-pod` that still runs cannot start. */
  readonly podNotStarting: (notStarting: boolean) => Effect.Effect<void>
  readonly leader: (isLeader: boolean) => Effect.Effect<void>
  /** Every BackupPolicy's series, from one sync's values (a policy not among them loses its series). */
  readonly policies: (values: ReadonlyArray<PolicyMetricValues>) => Effect.Effect<void>
  /** The text exposition (`/metrics`) and its content type. */
  readonly expose: Effect.Effect<{ readonly body: string; readonly contentType: string }>
}

export class ControllerMetrics extends Context.Service<ControllerMetrics, ControllerMetricsShape>()("cluster-backup/ControllerMetrics") {
  /**
   * A fresh registry. Time series about backups carry the `namespace` the controller manages, so
   * they are absent (not 0) until known: `absent()` alerts work, and an age of 0 never hides
   * a missing backup. `now` is the clock for the age of the newest complete backup.
   */
  static readonly make = (namespace: string, now: () => number = Date.now): ControllerMetricsShape => {
    const ns = { namespace }
    const registry = new Prom.Registry()
    const gauge = <L extends string = never>(name: string, help: string, labelNames: ReadonlyArray<L> = [], collect?: Prom.CollectFunction<Prom.Gauge<L>>) =>
      new Prom.Gauge<L>({ name, help, labelNames, registers: [registry], ...(collect === undefined ? {} : { collect }) })
    const reconciles = new Prom.Counter({
      name: "cluster_backup_reconciles_total",
      help: "Reconciles run by the BackupConfigController, by result",
      labelNames: ["result"] as const,
      registers: [registry],
    })
    const observed = gauge("cluster_backup_observed_revision", "status.latestAvailableRevision of each operand's operator CR, as last observed", ["operand"])
    const backedUp = gauge("cluster_backup_backed_up_revision", "Revision of each operand in the newest rendered backup (backup-status)", ["operand"])
    const pending = gauge(
      "cluster_backup_render_pending",
      "1 while revisions differ from the rendered backup pod and a render waits (settle window or minimum interval)",
    )
    const lastRender = gauge("cluster_backup_last_render_timestamp_seconds", "When cluster-backup-pod was last rendered", ["namespace"])
    let lastCompleteMs: number | undefined
    const lastComplete = gauge("cluster_backup_last_complete_backup_timestamp_seconds", "When the newest complete backup finished", ["namespace"])
    const age = gauge(
      "cluster_backup_newest_complete_backup_age_seconds",
      "Age of the newest complete backup (absent until one completed): alert when it grows",
      ["namespace"],
      function () {
        if (lastCompleteMs !== undefined) this.set(ns, Math.max(0, (now() - lastCompleteMs) / 1000))
      },
    )
    const shortfall = gauge(
      "cluster_backup_volume_shortfall_bytes",
      "What the rendered cluster-backup pod's /backup volume lacks to hold a backup of etcd at its quota (0 when it holds one; absent while the quota is unknown)",
      ["namespace"],
    )
    const notStarting = gauge(
      "cluster_backup_pod_not_starting",
      "1 while the newest pod made from cluster-backup-pod that still runs cannot start (the Warning BackupPodNotStarting on backup-status says why), else 0",
      ["namespace"],
    )
    const leader = gauge(leaderMetricName, "1 while this replica holds the leader Lease")
    const policies = makePolicyMetrics(registry)
    const setRevisions = (gauge: Prom.Gauge<"operand">, set: Partial<Record<OperandName, number>> | undefined) =>
      Effect.sync(() => {
        for (const name of operandNames) {
          const value = set?.[name]
          if (value === undefined) gauge.remove({ operand: name })
          else gauge.set({ operand: name }, value)
        }
      })
    return {
      reconciled: (result) => Effect.sync(() => reconciles.inc({ result })),
      observedRevisions: (set) => setRevisions(observed, set),
      backedUpRevisions: (set) => setRevisions(backedUp, set),
      renderPending: (p) => Effect.sync(() => pending.set(p ? 1 : 0)),
      lastRender: (atMs) => Effect.sync(() => lastRender.set(ns, atMs / 1000)),
      lastCompleteBackup: (atMs) =>
        Effect.sync(() => {
          lastCompleteMs = atMs
          lastComplete.set(ns, atMs / 1000)
        }),
      volumeShortfall: (bytes) => Effect.sync(() => (bytes === undefined ? shortfall.remove(ns) : shortfall.set(ns, bytes))),
      podNotStarting: (flag) => Effect.sync(() => notStarting.set(ns, flag ? 1 : 0)),
      leader: (isLeader) =>
        Effect.sync(() => {
          leader.set(isLeader ? 1 : 0)
          if (isLeader) return
          // A standby exports nothing it saw as leader: both replicas are scraped, and its frozen series would
          // outvote the leader's in the alerts' `max by (policy)` (a store that became unreachable, a deleted policy).
          for (const g of [observed, backedUp, pending, lastRender, lastComplete, age, shortfall, notStarting]) g.reset()
          lastCompleteMs = undefined
          policies.record([])
        }),
      policies: (values) => Effect.sync(() => policies.record(values)),
      expose: Effect.promise(async () => ({ body: await registry.metrics(), contentType: registry.contentType })),
    }
  }

  /** A fresh registry whose backup age follows the Clock (a TestClock in tests). */
  static readonly live = (namespace: string) =>
    Layer.effect(
      ControllerMetrics,
      Clock.clockWith((clock) => Effect.sync(() => ControllerMetrics.make(namespace, () => clock.currentTimeMillisUnsafe()))),
    )
}
