/**
 * The per-BackupPolicy series (`backup-policy-metrics.ts` names them) on the operator's registry. Each sync hands
 * in every policy's values: a value that is undefined removes its series (absent, not 0), and a policy that is gone
 * loses all of its series. The uploaded-bytes counter grows once per completed pod this registry saw complete; a
 * pod already complete when the registry first sees its policy (an operator restart) is not counted again.
 */
import * as Prom from "prom-client"
import { policyMetrics, type PolicyMetric } from "../domain/backup-policy-metrics.ts"
import type { PolicyMetricValues } from "../domain/policy-metric-values.ts"

export interface PolicyMetricsRecorder {
  readonly record: (values: ReadonlyArray<PolicyMetricValues>) => void
}

type GaugeName = Exclude<keyof typeof policyMetrics, "info" | "uploadedBytes">

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000)

/** Each gauge (by its key in `policyMetrics`) and how it reads from the values. */
const gaugeValues: Readonly<Record<GaugeName, (v: PolicyMetricValues) => number | undefined>> = {
  created: (v) => seconds(v.created),
  lastSuccess: (v) => seconds(v.lastSuccess),
  lastFailure: (v) => seconds(v.lastFailure),
  lastDuration: (v) => seconds(v.lastDurationMs),
  lastSnapshotSize: (v) => v.lastSnapshotBytes,
  lastBackupSize: (v) => v.lastBackupBytes,
  newestVerified: (v) => seconds(v.newestVerified),
  nextSchedule: (v) => seconds(v.nextSchedule),
  scheduleInterval: (v) => seconds(v.scheduleIntervalMs),
  revisionChangePending: (v) => seconds(v.revisionChangePendingSince),
  minInterval: (v) => seconds(v.minIntervalMs),
  storeReachable: (v) => (v.storeReachable === undefined ? undefined : v.storeReachable ? 1 : 0),
  volumeShortfall: (v) => v.volumeShortfallBytes,
  podNotStarting: (v) => (v.podNotStarting ? 1 : 0),
}

export const makePolicyMetrics = (registry: Prom.Registry): PolicyMetricsRecorder => {
  const options = (m: PolicyMetric) => ({ name: m.name, help: m.help, labelNames: [...m.labels], registers: [registry] })
  const info = new Prom.Gauge(options(policyMetrics.info))
  const uploaded = new Prom.Counter(options(policyMetrics.uploadedBytes))
  const gauges = (Object.keys(gaugeValues) as Array<GaugeName>).map((key) => [new Prom.Gauge(options(policyMetrics[key])), gaugeValues[key]] as const)
  /** Per policy: the newest completed pod counted (undefined: none yet). */
  const counted = new Map<string, string | undefined>()
  const infoLabels = new Map<string, Record<string, string>>()

  const forget = (policy: string) => {
    for (const [gauge] of gauges) gauge.remove({ policy })
    uploaded.remove({ policy })
    const labels = infoLabels.get(policy)
    if (labels !== undefined) info.remove(labels)
    infoLabels.delete(policy)
    counted.delete(policy)
  }

  const recordOne = (v: PolicyMetricValues) => {
    const policy = v.policy
    for (const [gauge, read] of gauges) {
      const value = read(v)
      if (value === undefined) gauge.remove({ policy })
      else gauge.set({ policy }, value)
    }
    const labels = v.info === undefined ? undefined : { policy, verify: v.info.verify, store: v.info.store, suspended: String(v.info.suspended) }
    const before = infoLabels.get(policy)
    if (before !== undefined && JSON.stringify(before) !== JSON.stringify(labels)) info.remove(before)
    if (labels === undefined) infoLabels.delete(policy)
    else {
      info.set(labels, 1)
      infoLabels.set(policy, labels)
    }
    const pod = v.completed?.pod
    if (!counted.has(policy)) uploaded.inc({ policy }, 0)
    else if (v.completed !== undefined && counted.get(policy) !== pod) uploaded.inc({ policy }, v.completed.bytesUploaded)
    counted.set(policy, pod ?? counted.get(policy))
  }

  return {
    record: (values) => {
      const present = new Set(values.map((v) => v.policy))
      for (const policy of [...counted.keys()]) if (!present.has(policy)) forget(policy)
      for (const v of values) recordOne(v)
    },
  }
}
