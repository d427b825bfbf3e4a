/**
 * `cluster-backup restore <dir>`: the host-side restore that replaces OpenShift's
 * `cluster-restore.sh`, built from the pure restore plan (`domain/restore-plan.ts`).
 *
 * Both a dry run and a real run first make every check that can be made before a change
 * (`restore-preflight.ts`: the backup passes every `verify` check except the test restore,
 * etcdutl supports the bump, enough free space, and no later step's precondition already fails)
 * and refuse, non-zero, with all that failed. `--dry-run` then prints the plan, the checks and the
 * preconditions only their step can check, and touches nothing; a real run executes exactly the
 * plan's steps in order (`restore-executor.ts`), printing each as it runs. A failing step is
 * undone where it half-happened and named, with how to continue.
 */
import { Effect, Schema } from "effect"
import type { BackupManifest } from "../domain/backup-manifest.ts"
import { renderPreflight, renderPreflightCheck, renderRestorePlan, type PreflightCheck } from "../domain/restore-plan-render.ts"
import type { RestorePlan, StepId } from "../domain/restore-plan.ts"
import { defaultTarLimits, type TarLimits } from "../services/tarball/tarball.ts"
import { executePlan } from "./restore-executor.ts"
import { gatherRestoreInputs, type RestoreInputOptions } from "./restore-inputs.ts"
import { cachedVerification, preflightChecks } from "./restore-preflight.ts"

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
  maxArchiveBytes: manifest.files.resources.size,
})

/** The refusal of a run (dry or real) whose checks before any change did not all pass. */
const refusal = (checks: ReadonlyArray<PreflightCheck>, dryRun: boolean): RestoreRefused | undefined => {
  const failures = checks.flatMap((c) => (c.unmet === undefined ? [] : [c.unmet]))
  if (failures.length === 0) return undefined
  return new RestoreRefused({
    failures,
    message: `${dryRun ? "dry run: a real restore would be refused before any change" : "restore refused before any change"}: ${failures.join("; ")}. Nothing was changed.`,
  })
}

export const restoreBackup = Effect.fn("restoreBackup")(function* (options: RestoreOptions) {
  const inputs = yield* gatherRestoreInputs(options)
  const { plan } = inputs
  const backupVerified = yield* cachedVerification(inputs, options)
  if (options.dryRun) {
    const checks = yield* preflightChecks(plan, backupVerified)
    yield* options.output(renderRestorePlan(plan) + renderPreflight(plan, checks))
    const refused = refusal(checks, true)
    if (refused !== undefined) return yield* refused
    return { plan, dryRun: true, ran: [] } satisfies RestoreOutcome
  }
  const line = (text: string) => options.output(`${text}\n`)

  yield* line(`Restore restore-${plan.restoreId} of backup ${inputs.selected.timestamp} under ${plan.root}: ${plan.steps.length} steps (${plan.steps.map((s) => s.id).join(", ")})`)
  const checks = yield* preflightChecks(plan, backupVerified, (c) => line(renderPreflightCheck(c)))
  const refused = refusal(checks, false)
  if (refused !== undefined) return yield* refused
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
