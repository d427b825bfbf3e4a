/**
 * Every check a restore can make before it changes anything, shared by the dry run and the real
 * run so that the dry run refuses exactly when a real run would: the backup verifies (every
 * `verify` check except the test restore), the other upfront preconditions (etcdutl, free space,
 * path types), and the preconditions of later steps that already cannot hold
 * (`foreseeableFailures`). The checks read; none writes.
 */
import { isDeepStrictEqual } from "node:util"
import { Effect, type FileSystem, type Path } from "effect"
import type { ChildProcessSpawner as Spawner } from "effect/process"
import { renderPrecondition, type PreflightCheck } from "../../domain/restore-plan-render.ts"
import type { OperandTable } from "../../domain/operands.ts"
import { upfrontPreconditions } from "../../domain/host-steps.ts"
import type { HostPlan } from "../../domain/restore-plan.ts"
import type { Etcdutl } from "../../services/etcdutl.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import type { RestoreInputs } from "./restore-inputs.ts"
import { checkPrecondition, foreseeableFailures, freeSpaceTogether, RestorePreconditionFailed, type VerifiedFiles } from "./restore-preconditions.ts"
import { verifyBackupWithEvidence } from "../verify/verify.ts"
import { describeCheck, failedChecks } from "../verify/verify-report.ts"

export interface VerificationOptions {
  readonly allowDirty?: boolean | undefined
  readonly operands?: OperandTable | undefined
  /** `--trusted-key`: with any, an unsigned, unknown-key or badly signed backup does not verify. */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
}

/**
 * The backup's verification as the precondition `BackupVerified` runs it: memoised, so the
 * upfront check and the step that names it run `verify` once.
 */
export const cachedVerification = (inputs: RestoreInputs, options: VerificationOptions) =>
  Effect.gen(function* () {
    // The verification needs the same services as the restore: captured here, run at most once.
    const services = yield* Effect.context<Etcdutl | FileSystem.FileSystem | Path.Path | Spawner.ChildProcessSpawner>()
    return yield* Effect.cached(
      Effect.gen(function* () {
        const { report, evidence } = yield* verifyBackupWithEvidence({
          backupDir: inputs.backupDir,
          timestamp: inputs.selected.timestamp,
          allowDirty: options.allowDirty,
          trustedKeys: options.trustedKeys,
          ...(options.operands === undefined ? {} : { operands: options.operands }),
        })
        const failed = failedChecks(report.checks)
        if (failed.length > 0) {
          return yield* new RestorePreconditionFailed({
            precondition: "BackupVerified",
            message: `the backup does not verify: ${failed.map(describeCheck).join("; ")}; restore another backup (cluster-backup verify ${inputs.backupDir} shows every check)`,
          })
        }
        // The plan was made from the manifest as first read; the verification read it again (and checked its signature).
        if (evidence.manifest === undefined || evidence.snapshot === undefined || !isDeepStrictEqual(evidence.manifest, inputs.manifest)) {
          return yield* new RestorePreconditionFailed({
            precondition: "BackupVerified",
            message: `the backup's manifest in ${inputs.backupDir} changed while the restore read it (the plan was made from another manifest than the one verified); make sure nothing writes to the backup directory and run the restore again`,
          })
        }
        return { resources: { size: evidence.manifest.files.resources.size, sha256: evidence.manifest.files.resources.sha256 }, snapshot: evidence.snapshot }
      }).pipe(Effect.provideContext(services)),
    )
  })

/** Runs every check that can be made now; `onCheck` sees each as it completes (the real run prints them). */
export const preflightChecks = (
  plan: HostPlan,
  backupVerified: Effect.Effect<VerifiedFiles, RestorePreconditionFailed>,
  onCheck: (check: PreflightCheck) => Effect.Effect<void> = () => Effect.void,
) =>
  Effect.gen(function* () {
    const checks: Array<PreflightCheck> = []
    const record = (check: PreflightCheck) =>
      Effect.andThen(
        Effect.sync(() => void checks.push(check)),
        onCheck(check),
      )
    for (const p of upfrontPreconditions(plan)) {
      const checked = yield* Effect.result(checkPrecondition(p, { plan, backupVerified }))
      yield* record({ what: renderPrecondition(p), unmet: checked._tag === "Failure" ? checked.failure.message : undefined })
    }
    const together = yield* Effect.result(freeSpaceTogether(plan))
    if (together._tag === "Failure") yield* record({ what: "free space for the steps writing to one file system together", unmet: together.failure.message })
    else for (const check of together.success) yield* record(check)
    const foreseen = yield* Effect.result(foreseeableFailures(plan))
    if (foreseen._tag === "Failure") {
      yield* record({ what: "no later step's precondition already fails", unmet: foreseen.failure.message })
    } else if (foreseen.success.length === 0) {
      yield* record({ what: "no later step's precondition already fails (directories it empties, paths it needs free)" })
    } else {
      for (const failure of foreseen.success) yield* record({ what: failure.what, unmet: failure.message })
    }
    return checks
  })
