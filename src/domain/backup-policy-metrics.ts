/**
 * The metrics the operator exports per BackupPolicy, by name, type, help and labels: the one list the
 * operator registers and deploy/prometheus-rule.yaml's alerts read (a test keeps the two in step).
 * Timestamps rather than ages, so a stalled operator cannot report a fresh age; a timestamp of a thing
 * that never happened is absent, not 0.
 */
export interface PolicyMetric {
  readonly name: string
  readonly type: "gauge" | "counter"
  readonly help: string
  readonly labels: ReadonlyArray<string>
}

const policy = ["policy"] as const

export const policyMetrics = {
  info: {
    name: "cluster_backup_policy_info",
    type: "gauge",
    help: "1 per BackupPolicy, its settings as labels: verify (None|Full|TestRestore), store (s3|pvc), suspended (true|false)",
    labels: ["policy", "verify", "store", "suspended"],
  },
  created: {
    name: "cluster_backup_policy_created_timestamp_seconds",
    type: "gauge",
    help: "When the BackupPolicy was created (the reference time until its first backup)",
    labels: policy,
  },
  lastSuccess: {
    name: "cluster_backup_policy_last_success_timestamp_seconds",
    type: "gauge",
    help: "When the newest successful backup of the policy completed (uploaded, and verified if the policy verifies); absent before the first",
    labels: policy,
  },
  lastFailure: {
    name: "cluster_backup_policy_last_failure_timestamp_seconds",
    type: "gauge",
    help: "When the newest failed backup of the policy ended; absent before the first failure",
    labels: policy,
  },
  lastDuration: {
    name: "cluster_backup_policy_last_duration_seconds",
    type: "gauge",
    help: "How long the newest finished backup of the policy took, from pod start to upload complete",
    labels: policy,
  },
  lastSnapshotSize: {
    name: "cluster_backup_policy_last_snapshot_size_bytes",
    type: "gauge",
    help: "Size of the etcd snapshot in the newest successful backup",
    labels: policy,
  },
  lastBackupSize: {
    name: "cluster_backup_policy_last_backup_size_bytes",
    type: "gauge",
    help: "Total size of the newest successful backup (snapshot, resources tarball, manifest)",
    labels: policy,
  },
  uploadedBytes: {
    name: "cluster_backup_policy_uploaded_bytes_total",
    type: "counter",
    help: "Bytes uploaded into the policy's store by completed backups",
    labels: policy,
  },
  newestVerified: {
    name: "cluster_backup_policy_newest_verified_backup_timestamp_seconds",
    type: "gauge",
    help: "When the newest verified backup in the policy's store was taken; absent while there is none",
    labels: policy,
  },
  nextSchedule: {
    name: "cluster_backup_policy_next_schedule_timestamp_seconds",
    type: "gauge",
    help: "When the next scheduled backup is due; absent for a policy without a schedule",
    labels: policy,
  },
  scheduleInterval: {
    name: "cluster_backup_policy_schedule_interval_seconds",
    type: "gauge",
    help: "The longer gap between scheduled backups on either side of the newest due time (a weekday schedule's weekend); absent for a policy without a schedule",
    labels: policy,
  },
  revisionChangePending: {
    name: "cluster_backup_policy_revision_change_pending_since_timestamp_seconds",
    type: "gauge",
    help: "For a policy that backs up on revision changes: since when the operands' settled revisions wait for a backup that holds them (not before the policy's creation); absent while the newest backup holds them",
    labels: policy,
  },
  minInterval: {
    name: "cluster_backup_policy_min_interval_seconds",
    type: "gauge",
    help: "For a policy that backs up on revision changes: its minInterval, the least time between two of its backups; absent otherwise",
    labels: policy,
  },
  storeReachable: {
    name: "cluster_backup_policy_store_reachable",
    type: "gauge",
    help: "1 when the last access to the policy's store (upload, list or probe) succeeded, 0 when it failed",
    labels: policy,
  },
  volumeShortfall: {
    name: "cluster_backup_policy_volume_shortfall_bytes",
    type: "gauge",
    help: "What the policy's backup pods' /backup volume (--backup-volume-size) lacks to hold a backup of etcd at its quota (spec.backendQuotaGiB): 0 when it holds one; absent while the quota is unknown",
    labels: policy,
  },
  podNotStarting: {
    name: "cluster_backup_policy_backup_pod_not_starting",
    type: "gauge",
    help: "1 while the policy's running backup pod cannot start (a container its kubelet cannot start, or none started on its node within 2 minutes, 10 while its Events show its image being pulled; its Progressing condition says why), else 0",
    labels: policy,
  },
} as const satisfies Readonly<Record<string, PolicyMetric>>

export const policyMetricList: ReadonlyArray<PolicyMetric> = Object.values(policyMetrics)
