import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { policyMetricList } from "../../src/domain/backup-policy-metrics.ts"
import type { PolicyMetricValues } from "../../src/domain/policy-metric-values.ts"
import { ControllerMetrics } from "../../src/services/controller-metrics.ts"

const none: PolicyMetricValues = {
  policy: "nightly",
  info: { verify: "Full", store: "s3", suspended: false },
  created: 1_000_000,
  lastSuccess: undefined,
  lastFailure: undefined,
  lastDurationMs: undefined,
  lastSnapshotBytes: undefined,
  lastBackupBytes: undefined,
  newestVerified: undefined,
  nextSchedule: 4_600_000,
  scheduleIntervalMs: 3_600_000,
  revisionChangePendingSince: undefined,
  minIntervalMs: undefined,
  storeReachable: undefined,
  volumeShortfallBytes: undefined,
  podNotStarting: false,
  completed: undefined,
}
const done = (pod: string, at: number): PolicyMetricValues => ({
  ...none,
  lastSuccess: at,
  lastDurationMs: 90_000,
  lastSnapshotBytes: 4096,
  lastBackupBytes: 5120,
  newestVerified: at - 60_000,
  storeReachable: true,
  volumeShortfallBytes: 0,
  completed: { pod, bytesUploaded: 5120 },
})

const scrape = async (m: ControllerMetrics["Service"]) => (await Effect.runPromise(m.expose)).body
const line = (body: string, name: string) => body.split("\n").find((l) => l.startsWith(`${name}{`))

describe("per-policy metrics on the operator's registry", () => {
  it("registers every metric backup-policy-metrics.ts names, with the policy label", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    // Also backing up on revision changes, with changed revisions waiting since 7000 s.
    await Effect.runPromise(m.policies([{ ...done("backup-nightly-1", 7_200_000), revisionChangePendingSince: 7_000_000, minIntervalMs: 3_600_000 }]))
    const body = await scrape(m)
    expect(line(body, "cluster_backup_policy_revision_change_pending_since_timestamp_seconds")).toMatch(/ 7000$/)
    expect(line(body, "cluster_backup_policy_min_interval_seconds")).toMatch(/ 3600$/)
    for (const metric of policyMetricList) {
      expect(body).toContain(`# TYPE ${metric.name} ${metric.type}`)
      if (metric.name !== "cluster_backup_policy_last_failure_timestamp_seconds")
        expect(body).toMatch(new RegExp(`^${metric.name}\\{[^}]*policy="nightly"`, "m"))
    }
  })

  it("leaves what never happened absent, and reads times in seconds", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    await Effect.runPromise(m.policies([none]))
    const body = await scrape(m)
    expect(line(body, "cluster_backup_policy_last_success_timestamp_seconds")).toBeUndefined()
    expect(line(body, "cluster_backup_policy_store_reachable")).toBeUndefined()
    expect(line(body, "cluster_backup_policy_volume_shortfall_bytes")).toBeUndefined()
    expect(line(body, "cluster_backup_policy_next_schedule_timestamp_seconds")).toBe(
      'cluster_backup_policy_next_schedule_timestamp_seconds{policy="nightly"} 4600',
    )
    expect(line(body, "cluster_backup_policy_info")).toBe('cluster_backup_policy_info{policy="nightly",verify="Full",store="s3",suspended="false"} 1')
  })

  it("counts a completed pod's upload once, not again on later syncs nor for a pod complete before the registry saw the policy", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    // First sight (an operator restart): the pod already complete is not counted.
    await Effect.runPromise(m.policies([done("backup-nightly-1", 7_200_000)]))
    await Effect.runPromise(m.policies([done("backup-nightly-1", 7_200_000)]))
    expect(line(await scrape(m), "cluster_backup_policy_uploaded_bytes_total")).toBe('cluster_backup_policy_uploaded_bytes_total{policy="nightly"} 0')
    await Effect.runPromise(m.policies([done("backup-nightly-2", 10_800_000)]))
    await Effect.runPromise(m.policies([done("backup-nightly-2", 10_800_000)]))
    // The history limit deleted the pod: nothing new to count.
    await Effect.runPromise(m.policies([{ ...done("backup-nightly-2", 10_800_000), completed: undefined }]))
    expect(line(await scrape(m), "cluster_backup_policy_uploaded_bytes_total")).toBe('cluster_backup_policy_uploaded_bytes_total{policy="nightly"} 5120')
  })

  it("a failed upload turns store_reachable to 0; a pod that cannot start, backup_pod_not_starting to 1; a policy that is gone loses its series; changed settings replace the info series", async () => {
    const m = ControllerMetrics.make("openshift-etcd")
    await Effect.runPromise(
      m.policies([
        { ...none, lastFailure: 9_000_000, storeReachable: false },
        { ...none, policy: "weekly" },
      ]),
    )
    const body = await scrape(m)
    expect(line(body, "cluster_backup_policy_store_reachable")).toBe('cluster_backup_policy_store_reachable{policy="nightly"} 0')
    expect(line(body, "cluster_backup_policy_backup_pod_not_starting")).toBe('cluster_backup_policy_backup_pod_not_starting{policy="nightly"} 0')
    await Effect.runPromise(m.policies([{ ...none, podNotStarting: true }]))
    expect(line(await scrape(m), "cluster_backup_policy_backup_pod_not_starting")).toBe('cluster_backup_policy_backup_pod_not_starting{policy="nightly"} 1')
    expect(line(body, "cluster_backup_policy_last_failure_timestamp_seconds")).toBe(
      'cluster_backup_policy_last_failure_timestamp_seconds{policy="nightly"} 9000',
    )
    await Effect.runPromise(m.policies([{ ...none, policy: "weekly", info: { verify: "None", store: "pvc", suspended: true } }]))
    const after = await scrape(m)
    expect(after).not.toContain('policy="nightly"')
    expect(after.split("\n").filter((l) => l.startsWith("cluster_backup_policy_info{"))).toEqual([
      'cluster_backup_policy_info{policy="weekly",verify="None",store="pvc",suspended="true"} 1',
    ])
  })
})
