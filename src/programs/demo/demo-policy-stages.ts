/**
 * The demo's automated part, after the manual one: the local Swift and a bucket; a BackupPolicy makes
 * the operator create the backup pod itself, the local node runs it (verify Full, then backup-upload
 * into Swift) and `list` shows the backup; a new revision brings a second backup and retention prunes
 * the first; `backup-now` asks for a third and waits until it is stored; the policy's status and the alert metric
 * read healthy.
 */
import { join } from "node:path"
import { Effect, Fiber, type Layer, Result } from "effect"
import { parseBackupPodReport } from "../../domain/backup-pod-report.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import type { ControllerMetrics } from "../../services/controller-metrics.ts"
import type { Kube } from "../../services/kube/kube.ts"
import { etcdToolPath } from "../../services/local-etcd.ts"
import { s3Request } from "../../services/store/s3-http.ts"
import type { Etcd3 } from "etcd3"
import {
  awaitMetrics,
  awaitPolicyBackup,
  declarePolicy,
  type DemoPolicy,
  listStore,
  policyConditions,
  policyStatusOf,
  type StoredBackups,
} from "./demo-policy.ts"
import type { DemoStageContext } from "./demo-stage-context.ts"
import { DemoFailed } from "./demo-wait.ts"
import { newRevision } from "./etcd-seed.ts"
import { type LocalPodRun, runLocalContainer } from "./local-kubelet.ts"
import { type LocalSwift, type LocalSwiftFailed, swiftEndpoint } from "./local-swift.ts"
import { runPolicyPods } from "./policy-pod-runner.ts"

export interface PolicyStagesContext extends DemoStageContext {
  readonly namespace: string
  readonly etcdUrl: string
  readonly etcd: Etcd3
  readonly kube: Layer.Layer<Kube>
  readonly metrics: typeof ControllerMetrics.Service
  readonly swiftStart: Fiber.Fiber<LocalSwift, LocalSwiftFailed>
}

export interface PolicySummary {
  readonly policy: DemoPolicy
  /** The store after each backup, as `list --json` showed it. */
  readonly listings: ReadonlyArray<StoredBackups>
  readonly pruned: ReadonlyArray<string>
  /** The backup `backup-now` asked for, and what retention pruned for it. */
  readonly requested: { readonly id: string; readonly verifyMode: string | undefined; readonly pruned: ReadonlyArray<string> }
  readonly conditions: string
  readonly healthy: boolean
  readonly alertFiring: boolean
}

/** The policy the demo declares: keepLast 1, so the second backup prunes the first. */
export const demoPolicy: DemoPolicy = { name: "demo", bucket: "demo-backups", prefix: "demo", keepLast: 1, minInterval: "1s", bandwidthLimit: "64Mi" }

/** How long one policy backup may take (seven containers as processes; a loaded machine is slow). */
const backupTimeoutMs = 240_000

/** The policies' pods run by the local node as the operator creates them, until the scope closes. */
export const startPolicyNode = (ctx: Omit<PolicyStagesContext, "stage" | "swiftStart" | "fixture" | "etcd" | "metrics">) =>
  Effect.forkScoped(
    runPolicyPods(ctx.cluster, {
      namespace: ctx.namespace,
      podsDir: join(ctx.work, "policy-pods"),
      kube: ctx.kube,
      local: {
        entry: ctx.entry,
        // The image's etcdutl is this machine's; the etcd Service's address the local member's.
        replace: { "--etcd-endpoints": ctx.etcdUrl, "--etcdutl": etcdToolPath("etcdutl") },
        env: { KUBECONFIG: ctx.kubeconfig },
        onStart: (container) => ctx.say(`  ${container}`),
        onLines: () => Effect.void,
      },
      onEnded: (pod, _policy, run) => ctx.say(podEnded(pod, run)),
    }),
  )

/** One line for a policy pod that ended: what backup-upload reported, or why it failed. */
const podEnded = (pod: string, run: LocalPodRun): string => {
  if (run.failure !== undefined) return `pod ${pod} Failed: ${run.failure.message}`
  const message = run.outcome.containers?.["backup-upload"]?.message ?? ""
  const report = parseBackupPodReport(message)
  if (Result.isFailure(report)) return `pod ${pod} Succeeded, but backup-upload's report does not read: ${report.failure.message}`
  const r = report.success
  return `pod ${pod} Succeeded: ${r.id} stored at ${r.location} (${formatBytes(r.bytesUploaded)} uploaded, verify ${r.verifyMode}, ${r.pruned ?? 0} pruned)`
}

const showListing = (ctx: PolicyStagesContext, listing: StoredBackups) =>
  Effect.forEach(
    listing,
    (b) => ctx.say(`  ${b.id}  ${b.complete ? "complete" : "incomplete"}  verified ${b.verified ? (b.verifyMode ?? "yes") : "no"}  ${formatBytes(b.bytes)}`),
    { discard: true },
  )

export const runPolicyStages = Effect.fn("demoPolicyStages")(function* (ctx: PolicyStagesContext) {
  const policy = demoPolicy
  const swift = yield* ctx.stage(
    "the local Swift (S3) and a bucket",
    Effect.gen(function* () {
      const swift = yield* Fiber.join(ctx.swiftStart).pipe(Effect.mapError((e) => new DemoFailed({ stage: "swift", message: e.message })))
      yield* s3Request(swiftEndpoint(swift, policy.bucket), { operation: "CreateBucket", method: "PUT", key: "" }).pipe(
        Effect.mapError((e) => new DemoFailed({ stage: "swift", message: `cannot create bucket ${policy.bucket}: ${e.message}` })),
      )
      yield* ctx.say(`Swift with s3api serves ${swift.endpoint} (started in the background at the beginning); bucket ${policy.bucket} created`)
      return swift
    }),
  )

  const first = yield* ctx.stage(
    "a BackupPolicy: the operator creates the backup pod itself",
    Effect.gen(function* () {
      yield* declarePolicy(ctx.cluster, ctx.namespace, swift, policy)
      yield* ctx.say(`Secret ${policy.name}-store (key credentials: an AWS shared-credentials file for Swift's account)`)
      yield* ctx.say(
        `BackupPolicy ${policy.name}: onRevisionChange (minInterval ${policy.minInterval}), store s3://${policy.bucket}/${policy.prefix}${policy.bandwidthLimit === undefined ? "" : ` at most ${policy.bandwidthLimit} a second`}, verify Full, keepLast ${policy.keepLast}`,
      )
      yield* startPolicyNode(ctx)
      yield* ctx.say("the local node runs each pod the operator creates:")
      const status = yield* awaitPolicyBackup(ctx.cluster, policy.name, new Set(), backupTimeoutMs)
      const listing = yield* listStore(ctx.entry, swift, policy)
      yield* ctx.say(`status.lastSuccessfulBackup ${status.lastSuccessfulBackup!.id}; cluster-backup list ${`s3://${policy.bucket}/${policy.prefix}`}:`)
      yield* showListing(ctx, listing)
      return { id: status.lastSuccessfulBackup!.id, listing }
    }),
  )

  const second = yield* ctx.stage(
    "a new kube-scheduler revision: a second backup, retention prunes",
    Effect.gen(function* () {
      const revision = yield* newRevision(ctx.cluster, ctx.fixture, ctx.etcd, "kube-scheduler").pipe(
        Effect.mapError((e) => new DemoFailed({ stage: "policy", message: e.message })),
      )
      yield* ctx.say(`the revision controller made kube-scheduler revision ${revision}; once settled, the policy backs it up`)
      const status = yield* awaitPolicyBackup(ctx.cluster, policy.name, new Set([first.id]), backupTimeoutMs)
      const listing = yield* listStore(ctx.entry, swift, policy)
      const kept = new Set(listing.map((b) => b.id))
      const pruned = first.listing.map((b) => b.id).filter((id) => !kept.has(id))
      yield* ctx.say(`status.lastSuccessfulBackup ${status.lastSuccessfulBackup!.id}; cluster-backup list:`)
      yield* showListing(ctx, listing)
      yield* ctx.say(`keepLast ${policy.keepLast}: pruned ${pruned.length === 0 ? "nothing" : pruned.join(", ")}`)
      return { id: status.lastSuccessfulBackup!.id, listing, pruned }
    }),
  )

  const requested = yield* ctx.stage(
    "backup-now: a backup on request, followed until it is stored",
    Effect.gen(function* () {
      const args = ["backup-now", policy.name, "--kubeconfig", ctx.kubeconfig, "--poll-interval", "200ms", "--timeout", `${backupTimeoutMs / 1000}s`]
      yield* ctx.say(`cluster-backup ${args.join(" ")} (the local node runs the pod the operator creates for it):`)
      const said: Array<string> = []
      yield* runLocalContainer(
        "backup-now",
        ctx.entry,
        args,
        {},
        () => undefined,
        (line) => said.push(line),
      ).pipe(Effect.mapError((e) => new DemoFailed({ stage: "backup-now", message: e.message })))
      yield* Effect.forEach(said, (line) => ctx.say(`backup-now | ${line}`), { discard: true })
      const status = policyStatusOf(ctx.cluster, policy.name)
      const id = status?.lastRequest?.backup?.id ?? ""
      if (id === "" || status?.lastSuccessfulBackup?.id !== id)
        return yield* new DemoFailed({
          stage: "backup-now",
          message: "backup-now exited 0, but the policy records no backup stored for its request as its newest",
        })
      const listing = yield* listStore(ctx.entry, swift, policy)
      const kept = new Set(listing.map((b) => b.id))
      const pruned = second.listing.map((b) => b.id).filter((b) => !kept.has(b))
      yield* ctx.say(`cluster-backup list:`)
      yield* showListing(ctx, listing)
      return { id, verifyMode: listing.find((b) => b.id === id)?.verifyMode ?? undefined, pruned }
    }),
  )

  return yield* ctx.stage(
    "policy status and the alert metric",
    Effect.gen(function* () {
      const status = policyStatusOf(ctx.cluster, policy.name)
      // The metrics follow the status within the same sync: wait until they count the second backup.
      const since = Math.floor(Date.parse(status?.lastSuccessfulBackup?.time ?? "") / 1000)
      const series = yield* awaitMetrics(ctx.metrics, policy.name, since)
      const conditions = policyConditions(status)
      yield* ctx.say(`BackupPolicy ${policy.name} conditions: ${conditions.text}`)
      yield* ctx.say("the operator's /metrics for this policy:")
      yield* Effect.forEach(series.lines, (l) => ctx.say(`  ${l}`), { discard: true })
      yield* ctx.say(
        `ClusterBackupLastBackupFailed: ${series.alertFiring ? "FIRING" : "not firing"} (last failure ${series.lastFailure ?? "none"}, last success ${series.lastSuccess})`,
      )
      return {
        policy,
        listings: [first.listing, second.listing],
        pruned: second.pruned,
        requested,
        conditions: conditions.text,
        healthy: conditions.healthy,
        alertFiring: series.alertFiring,
      } satisfies PolicySummary
    }),
  )
})
