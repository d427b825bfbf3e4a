/**
 * `cluster-backup restore <dir>`: the host-side restore that replaces OpenShift's
 * `cluster-restore.sh`, built from the pure restore plan (`domain/restore-plan.ts`).
 *
 * `--dry-run` prints the plan (`renderRestorePlan`) and touches nothing. A real run first checks
 * the preconditions no step can change (the backup passes every `verify` check except the test
 * restore; etcdutl supports the bump; enough free space) and those of later steps that already
 * cannot hold (`foreseeableFailures`), refusing with all that failed before anything changed; then it executes exactly the plan's steps in order (`restore-executor.ts`),
 * printing each as it runs. A failing step is undone where it half-happened and named, with how
 * to continue.
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import type { ChildProcessSpawner as Spawner } from "effect/process"
import type { BackupManifest } from "../domain/backup-manifest.ts"
import { renderPrecondition, renderRestorePlan } from "../domain/restore-plan-render.ts"
import { isUpfront, type Precondition, type RestorePlan, type StepId } from "../domain/restore-plan.ts"
import type { Etcdutl } from "../services/etcdutl.ts"
import { defaultTarLimits, type TarLimits } from "../services/tarball/tarball.ts"
import { executePlan } from "./restore-executor.ts"
import { gatherRestoreInputs, type RestoreInputOptions } from "./restore-inputs.ts"
import { checkPrecondition, foreseeableFailures, RestorePreconditionFailed } from "./restore-preconditions.ts"
import { verifyBackup } from "./verify.ts"
import { describeCheck, failedChecks } from "./verify-report.ts"

export interface RestoreOptions extends RestoreInputOptions {
  readonly dryRun: boolean
  /** Accept a possibly dirty backup (its verification's pairing check passes). */
  readonly allowDirty?: boolean | undefined
  /** Overrides the plan's wait for etcd to stop (tests). */
  readonly stopTimeoutSeconds?: number | undefined
  readonly stopPollMillis?: number | undefined
  /** Where the plan and the progress go (text; lines end with a newline). */
  readonly output: (text: string) => Effect.Effect<void>
}

export interface RestoreOutcome {
  readonly plan: RestorePlan
  readonly dryRun: boolean
  /** Ids of the steps that ran, in order (empty for a dry run). */
  readonly ran: ReadonlyArray<StepId>
}

export class RestoreRefused extends Schema.TaggedError<RestoreRefused>()("RestoreRefused", {
  failures: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/**
 * The verified manifest says exactly what the tarball holds: the extraction accepts no more
 * bytes than its files add up to, and no more entries than they and their directories can be.
 */
export const extractLimits = (manifest: BackupManifest): TarLimits => ({
  ...defaultTarLimits,
  maxTotalFileBytes: manifest.entries.reduce((sum, e) => sum + e.size, 0),
  maxEntries: 4 * manifest.entries.length + 16,
})

export const restoreBackup = Effect.fn("restoreBackup")(function* (options: RestoreOptions) {
  const inputs = yield* gatherRestoreInputs(options)
  const { plan } = inputs
  if (options.dryRun) {
    yield* options.output(renderRestorePlan(plan))
    return { plan, dryRun: true, ran: [] } satisfies RestoreOutcome
  }
  const line = (text: string) => options.output(`${text}\n`)

  // The verification needs the same services as this program: captured here, run at most once.
  const services = yield* Effect.context<Etcdutl | FileSystem.FileSystem | Path.Path | Spawner.ChildProcessSpawner>()
  const backupVerified = yield* Effect.cached(
    Effect.gen(function* () {
      const report = yield* verifyBackup({
        backupDir: inputs.backupDir,
        timestamp: inputs.selected.timestamp,
        allowDirty: options.allowDirty,
        ...(options.operands === undefined ? {} : { operands: options.operands }),
      })
      const failed = failedChecks(report.checks)
      if (failed.length > 0) {
        return yield* new RestorePreconditionFailed({
          precondition: "BackupVerified",
          message: `the backup does not verify: ${failed.map(describeCheck).join("; ")}`,
        })
      }
    }).pipe(Effect.provideContext(services)),
  )

  yield* line(`Restore restore-${plan.restoreId} of backup ${inputs.selected.timestamp} under ${plan.root}: ${plan.steps.length} steps (${plan.steps.map((s) => s.id).join(", ")})`)
  const seen = new Set<string>()
  const upfront: Array<Precondition> = []
  for (const p of plan.steps.flatMap((s) => s.preconditions)) {
    const key = JSON.stringify(p)
    if (isUpfront(p) && !seen.has(key)) {
      seen.add(key)
      upfront.push(p)
    }
  }
  const failures: Array<string> = []
  for (const p of upfront) {
    const checked = yield* Effect.result(checkPrecondition(p, { plan, backupVerified }))
    if (checked._tag === "Failure") failures.push(checked.failure.message)
    yield* line(`check    ${renderPrecondition(p)}: ${checked._tag === "Success" ? "ok" : "NOT MET"}`)
  }
  for (const foreseen of yield* foreseeableFailures(plan).pipe(Effect.mapError((e) => new RestoreRefused({ failures: [e.message], message: e.message })))) {
    failures.push(foreseen)
    yield* line(`check    ${foreseen}: NOT MET`)
  }
  if (failures.length > 0) {
    return yield* new RestoreRefused({
      failures,
      message: `restore refused before any change: ${failures.join("; ")}. Nothing was changed.`,
    })
  }
  const ran = yield* executePlan({
    plan,
    print: line,
    backupVerified,
    stopTimeoutSeconds: options.stopTimeoutSeconds,
    stopPollMillis: options.stopPollMillis,
    extractLimits: extractLimits(inputs.manifest),
  })
  yield* line(`Restore restore-${plan.restoreId} complete: ${ran.length} steps ran. etcd starts from the restored member; old data was kept, nothing was deleted.`)
  return { plan, dryRun: false, ran } satisfies RestoreOutcome
})
