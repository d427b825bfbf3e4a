/**
 * The operator's Prometheus metrics, on a registry of its own (no global state, so tests and two
 * controllers in one process do not share counters).
 */
import { Context, Effect, Layer } from "effect"
import * as Prom from "prom-client"
import { operandNames, type OperandName } from "../domain/operands.ts"
import type { RevisionSet } from "../domain/revisions.ts"

export interface ControllerMetricsShape {
  readonly reconciled: (result: "success" | "error") => Effect.Effect<void>
  readonly observedRevisions: (set: Partial<Record<OperandName, number>>) => Effect.Effect<void>
  readonly backedUpRevisions: (set: RevisionSet | undefined) => Effect.Effect<void>
  readonly renderPending: (pending: boolean) => Effect.Effect<void>
  readonly lastRender: (atMs: number) => Effect.Effect<void>
  readonly lastCompleteBackup: (atMs: number) => Effect.Effect<void>
  readonly leader: (isLeader: boolean) => Effect.Effect<void>
  /** The text exposition (`/metrics`) and its content type. */
  readonly expose: Effect.Effect<{ readonly body: string; readonly contentType: string }>
}

export class ControllerMetrics extends Context.Service<ControllerMetrics, ControllerMetricsShape>()(
  "cluster-backup/ControllerMetrics",
) {
  /**
   * A fresh registry. Time series about backups carry the `namespace` the controller manages, so
   * they are absent (not 0) until known: `absent()` alerts work, and an age of 0 never hides
   * a missing backup. `now` is the clock for the age of the newest complete backup.
   */
  static readonly make = (namespace: string, now: () => number = Date.now): ControllerMetricsShape => {
    const ns = { namespace }
    const registry = new Prom.Registry()
    const reconciles = new Prom.Counter({
      name: "cluster_backup_reconciles_total",
      help: "Reconciles run by the BackupConfigController, by result",
      labelNames: ["result"] as const,
      registers: [registry],
    })
    const observed = new Prom.Gauge({
      name: "cluster_backup_observed_revision",
      help: "status.latestAvailableRevision of each operand's operator CR, as last observed",
      labelNames: ["operand"] as const,
      registers: [registry],
    })
    const backedUp = new Prom.Gauge({
      name: "cluster_backup_backed_up_revision",
      help: "Revision of each operand in the newest rendered backup (backup-status)",
      labelNames: ["operand"] as const,
      registers: [registry],
    })
    const pending = new Prom.Gauge({
      name: "cluster_backup_render_pending",
      help: "1 while revisions differ from the rendered backup pod and a render waits (settle window or minimum interval)",
      registers: [registry],
    })
    const lastRender = new Prom.Gauge({
      name: "cluster_backup_last_render_timestamp_seconds",
      help: "When cluster-backup-pod was last rendered",
      labelNames: ["namespace"] as const,
      registers: [registry],
    })
    let lastCompleteMs: number | undefined
    const lastComplete = new Prom.Gauge({
      name: "cluster_backup_last_complete_backup_timestamp_seconds",
      help: "When the newest complete backup finished",
      labelNames: ["namespace"] as const,
      registers: [registry],
    })
    new Prom.Gauge({
      name: "cluster_backup_newest_complete_backup_age_seconds",
      help: "Age of the newest complete backup (absent until one completed): alert when it grows",
      labelNames: ["namespace"] as const,
      registers: [registry],
      collect() {
        if (lastCompleteMs !== undefined) this.set(ns, Math.max(0, (now() - lastCompleteMs) / 1000))
      },
    })
    const leader = new Prom.Gauge({
      name: "cluster_backup_leader",
      help: "1 while this replica holds the leader Lease",
      registers: [registry],
    })
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
      leader: (isLeader) => Effect.sync(() => leader.set(isLeader ? 1 : 0)),
      expose: Effect.promise(async () => ({ body: await registry.metrics(), contentType: registry.contentType })),
    }
  }

  static readonly live = (namespace: string) => Layer.sync(ControllerMetrics, () => ControllerMetrics.make(namespace))
}
