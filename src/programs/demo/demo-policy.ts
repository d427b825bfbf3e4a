/**
 * The demo's automated loop, the parts the demo and the end-to-end test share: a BackupPolicy storing
 * into the local Swift (its credentials in a Secret), the policy's status as the operator wrote it, the
 * store as `cluster-backup list --json` shows it, and the policy's series on the operator's /metrics
 * with the ClusterBackupLastBackupFailed alert's verdict.
 */
import { Effect, Result, Schema } from "effect"
import { BackupPolicyStatus } from "../../domain/backup-policy.ts"
import type { ControllerMetrics } from "../../services/controller-metrics.ts"
import { backupPolicyType, secretType } from "../../services/kube/resources.ts"
import type { SimulatedCluster } from "../../simulation/simulated-cluster.ts"
import { awaitEffect, awaitValue, DemoFailed } from "./demo-wait.ts"
import { runLocalContainer } from "./local-kubelet.ts"
import { type LocalSwift, sharedCredentialsFile } from "./local-swift.ts"

export interface DemoPolicy {
  readonly name: string
  readonly bucket: string
  readonly prefix: string
  /** Retention: the newest backups kept. */
  readonly keepLast: number
  /** The least time between two backups started by revision changes (e.g. `1s`). */
  readonly minInterval: string
  /** The upload's bandwidth limit (`spec.store.bandwidthLimit`), if any. */
  readonly bandwidthLimit?: string | undefined
}

const storeSecretName = (policy: DemoPolicy) => `${policy.name}-store`

/** `s3://bucket/prefix`, as the store commands take it. */
export const storeUrl = (policy: DemoPolicy) => `s3://${policy.bucket}/${policy.prefix}`

/**
 * Declares `policy` in `namespace`'s cluster: the store credentials Secret (an AWS shared-credentials file, key
 * `credentials`), then the BackupPolicy: a backup on every settled revision change (at most one per minInterval; faster
 * to show than a cron schedule's minute), into Swift, verify Full in the pod, keepLast, one ended pod kept.
 */
export const declarePolicy = (cluster: SimulatedCluster, namespace: string, swift: LocalSwift, policy: DemoPolicy) =>
  Effect.suspend(() => {
    const failed = (what: string) => (e: { message: string }) => new DemoFailed({ stage: "policy", message: `cannot create ${what}: ${e.message}` })
    const secret = cluster.create(secretType, {
      metadata: { name: storeSecretName(policy), namespace },
      data: { credentials: Buffer.from(sharedCredentialsFile(swift)).toString("base64") },
    })
    if (Result.isFailure(secret)) return Effect.fail(failed(`Secret ${storeSecretName(policy)}`)(secret.failure))
    const created = cluster.create(backupPolicyType, {
      apiVersion: "backup.openshift.io/v1alpha1",
      kind: "BackupPolicy",
      metadata: { name: policy.name },
      spec: {
        onRevisionChange: true,
        minInterval: policy.minInterval,
        store: {
          s3: {
            bucket: policy.bucket,
            prefix: policy.prefix,
            endpoint: swift.endpoint,
            region: swift.region,
            forcePathStyle: true,
            credentialsSecret: { name: storeSecretName(policy) },
          },
          ...(policy.bandwidthLimit === undefined ? {} : { bandwidthLimit: policy.bandwidthLimit }),
        },
        retention: { keepLast: policy.keepLast },
        verify: "Full",
        successfulPodsHistoryLimit: 1,
        failedPodsHistoryLimit: 1,
      },
    })
    return Result.isFailure(created) ? Effect.fail(failed(`BackupPolicy ${policy.name}`)(created.failure)) : Effect.void
  })

/** The policy's status as the operator wrote it (undefined before it did, or when it does not decode). */
export const policyStatusOf = (cluster: SimulatedCluster, name: string): BackupPolicyStatus | undefined => {
  const status = cluster.get(backupPolicyType, undefined, name)?.status
  if (status === undefined) return undefined
  const decoded = Schema.decodeUnknownResult(BackupPolicyStatus)(status)
  return Result.isSuccess(decoded) ? decoded.success : undefined
}

/** Waits until the policy's status names a successful backup not in `seen`; its id. */
export const awaitPolicyBackup = (cluster: SimulatedCluster, name: string, seen: ReadonlySet<string>, timeoutMs: number) =>
  awaitValue(
    "policy",
    `a new successful backup in BackupPolicy ${name}'s status`,
    () => {
      const status = policyStatusOf(cluster, name)
      const id = status?.lastSuccessfulBackup?.id
      return id !== undefined && !seen.has(id) ? status : undefined
    },
    timeoutMs,
  )

/** Ready True and Degraded not True, as `Ready=True Degraded=False`; healthy says whether it is so. */
export const policyConditions = (status: BackupPolicyStatus | undefined) => {
  const of = (type: string) => status?.conditions?.find((c) => c.type === type)
  const ready = of("Ready")
  const degraded = of("Degraded")
  return {
    healthy: ready?.status === "True" && degraded?.status !== "True",
    text: ["Ready", "Progressing", "Degraded"].map((t) => `${t}=${of(t)?.status ?? "-"}${of(t) === undefined ? "" : ` (${of(t)!.reason})`}`).join(" "),
  }
}

const ListedJson = Schema.Array(
  Schema.Struct({
    id: Schema.String,
    complete: Schema.Boolean,
    verified: Schema.Boolean,
    verifyMode: Schema.NullOr(Schema.String),
    bytes: Schema.Number,
  }),
)
export type StoredBackups = typeof ListedJson.Type

/** The store as `cluster-backup list --json` shows it, oldest first. */
export const listStore = (entry: string, swift: LocalSwift, policy: DemoPolicy) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const stdout: Array<string> = []
    const args = ["list", storeUrl(policy), "--s3-endpoint", swift.endpoint, "--s3-region", swift.region, "--s3-addressing", "path", "--json"]
    const env = { AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey }
    yield* runLocalContainer(
      "list",
      entry,
      args,
      env,
      (line) => lines.push(line),
      (line) => stdout.push(line),
    ).pipe(Effect.mapError((e) => new DemoFailed({ stage: "list", message: e.message })))
    const parsed = Schema.decodeUnknownResult(Schema.fromJsonString(ListedJson))(stdout.join("\n"))
    if (Result.isFailure(parsed)) {
      return yield* new DemoFailed({ stage: "list", message: `list --json printed no backup list: ${lines.slice(-3).join(" / ")}` })
    }
    return parsed.success
  })

/** The policy's series on the operator's /metrics, and whether ClusterBackupLastBackupFailed's expression holds. */
export const policyMetrics = (metrics: typeof ControllerMetrics.Service, name: string) =>
  Effect.map(metrics.expose, ({ body }) => {
    const lines = body.split("\n").filter((l) => l.startsWith("cluster_backup_policy_") && l.includes(`policy="${name}"`))
    const value = (metric: string) => {
      const line = lines.find((l) => l.startsWith(`${metric}{`))
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    const lastSuccess = value("cluster_backup_policy_last_success_timestamp_seconds")
    const lastFailure = value("cluster_backup_policy_last_failure_timestamp_seconds")
    // max(last failure) > (last success or 0): no failure series, no alert.
    return { lines, lastSuccess, lastFailure, alertFiring: lastFailure !== undefined && lastFailure > (lastSuccess ?? 0) }
  })

/** Waits until the policy's series show a last success at or after `since` (epoch seconds). */
export const awaitMetrics = (metrics: typeof ControllerMetrics.Service, name: string, since: number, timeoutMs = 30_000) =>
  awaitEffect(
    "metrics",
    `${name}'s last success on /metrics`,
    Effect.map(policyMetrics(metrics, name), (series) => (series.lastSuccess !== undefined && series.lastSuccess >= since ? series : undefined)),
    timeoutMs,
  )
