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
 *
 * A real run holds the restore lock from its first change to its end (`restore-leftovers.ts`):
 * a second restore is refused while one runs, and the next run after a killed one sweeps the
 * extraction's staging directory it left and moves its partial etcdutl output aside (a step of
 * the plan), then continues where it stopped.
 */
import { Effect, Schema } from "effect"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import {
  nothingChanged,
  renderNextSteps,
  renderPreflight,
  renderPreflightCheck,
  renderRestorePlan,
  type PreflightCheck,
} from "../../domain/restore-plan-render.ts"
import type { StepId } from "../../domain/host-steps.ts"
import type { RestorePlan } from "../../domain/restore-plan.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { defaultTarLimits, type TarLimits } from "../../services/tarball/tarball.ts"
import { executePlan } from "./restore-executor.ts"
import { gatherRestoreInputs, type RestoreInputOptions, type RestoreInputs } from "./restore-inputs.ts"
import { acquireRunLock, inspectRunLock } from "../../services/run-lock.ts"
import { findLeftovers, type Leftover, renderSwept, restoreLockPath, sweepLeftovers } from "./restore-leftovers.ts"
import { cachedVerification, preflightChecks } from "./restore-preflight.ts"
import { restoreVersions } from "./restore-versions.ts"
import { defaultOperands } from "../../domain/operands.ts"
import { completedRestoreCheck, restoredMemberNote } from "../../domain/restored-member-record.ts"
import { staticPodManifestsInPlace } from "../../domain/host-layout.ts"
import { afterStandDownCheck } from "../../domain/stood-down-record.ts"
import { observeRestoredMember, observeStandDown } from "./host-records.ts"

export interface RestoreOptions extends RestoreInputOptions {
  readonly dryRun: boolean
  /** Accept a possibly dirty backup (its verification's pairing check passes). */
  readonly allowDirty?: boolean | undefined
  /** `--trusted-key`: the backup's manifest must be signed by one of them, checked before any change. */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
  /** `--even-after-stand-down`: restore on a host stood down for a restore elsewhere that has not rejoined since. */
  readonly evenAfterStandDown?: boolean | undefined
  /** `--even-after-restore`: restore again on a host where an earlier restore is complete and the cluster runs from its member. */
  readonly evenAfterRestore?: boolean | undefined
  /** `--allow-version-mismatch`: restore a backup of another OpenShift release than the host's. */
  readonly allowVersionMismatch?: boolean | undefined
  /** Overrides the plan's waits for the static pods to stop (tests). */
  readonly stopTimeoutSeconds?: number | undefined
  readonly stopPollMillis?: number | undefined
  /** The directory a store's backup was downloaded into for this run, kept after it (undefined: the backup was a directory given). */
  readonly keptDownload?: string | undefined
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

/** The refusal of a run (dry or real) whose checks before any change did not all pass; `what` names the run (`restore`). */
export const refusal = (
  checks: ReadonlyArray<PreflightCheck>,
  dryRun: boolean,
  keptDownload: string | undefined,
  what = "restore",
): RestoreRefused | undefined => {
  const failures = checks.flatMap((c) => (c.unmet === undefined ? [] : [c.unmet]))
  if (failures.length === 0) return undefined
  return new RestoreRefused({
    failures,
    message: `${dryRun ? `dry run: a real ${what} would be refused before any change` : `${what} refused before any change`}: ${failures.join("; ")}. ${nothingChanged(keptDownload)}`,
  })
}

/**
 * The dry run's view of the lock (a real run now would fail to take it while another restore or
 * stand-down runs) and of what a killed one left.
 */
export const lockCheck = (root: string) =>
  Effect.gen(function* () {
    const path = restoreLockPath(root)
    const state = yield* Effect.result(inspectRunLock(path))
    const what = `no other restore is running (${path})`
    if (state._tag === "Failure") return [{ what, unmet: state.failure.message }] satisfies ReadonlyArray<PreflightCheck>
    if (state.success._tag === "Held") {
      const owner = state.success.owner
      return [
        { what, unmet: `held by ${owner.command} (PID ${owner.pid} on ${owner.host}, started ${owner.startedAt}): wait for it to finish` },
      ] satisfies ReadonlyArray<PreflightCheck>
    }
    const leftovers = yield* findLeftovers(root).pipe(Effect.orElseSucceed((): ReadonlyArray<Leftover> => []))
    return [
      { what: state.success._tag === "Stale" ? `${what}: the lock a killed restore left is replaced by a real run` : what },
      ...leftovers.map((l) => ({ what: `${l.path}, ${l.what}, is removed by a real run before its first step` })),
    ] satisfies ReadonlyArray<PreflightCheck>
  })

/** Said when the member this restore sets aside is the one an earlier restore put in place. */
const earlierRestoreNote = (root: string) => Effect.map(observeRestoredMember(root), ({ finding, recordPath }) => restoredMemberNote(finding, recordPath))

/** No earlier restore here is complete, with the cluster running from its member (unless `--even-after-restore`). */
const completedCheck = (inputs: RestoreInputs, options: RestoreOptions) =>
  Effect.map(observeRestoredMember(inputs.plan.root), ({ finding, recordPath }) =>
    completedRestoreCheck(
      finding,
      recordPath,
      staticPodManifestsInPlace(inputs.input.existing, options.operands ?? defaultOperands),
      options.evenAfterRestore === true,
    ),
  )

/** This host was not stood down for a restore elsewhere, or has rejoined since (unless `--even-after-stand-down`). */
const standDownCheck = (root: string, evenAfterStandDown: boolean | undefined) =>
  Effect.map(observeStandDown(root), ({ finding, recordPath }) => afterStandDownCheck(finding, recordPath, evenAfterStandDown === true))

/** The real run, under the restore lock: sweep what a killed restore left, re-plan, check, execute. */
const realRun = (options: RestoreOptions, root: string) =>
  Effect.gen(function* () {
    const line = (text: string) => options.output(`${text}\n`)
    const lock = yield* acquireRunLock(restoreLockPath(root), `cluster-backup restore (restore-${options.restoreId})`)
    if (lock.replaced._tag === "Stale") yield* line(`A restore was killed (its lock ${restoreLockPath(root)} was left): sweeping what it left.`)
    const sweep = sweepLeftovers(root).pipe(Effect.flatMap((removed) => Effect.forEach(removed, (l) => line(renderSwept(l)), { discard: true })))
    // However the run ends, no staging directory with decoded keys stays behind (the lock is released after).
    yield* Effect.addFinalizer(() => Effect.ignore(sweep))
    yield* sweep
    // Planned under the lock: what the host holds cannot change under this run any more.
    const inputs = yield* gatherRestoreInputs(options)
    const { plan } = inputs
    const backupVerified = yield* cachedVerification(inputs, options)
    yield* line(
      `Restore restore-${plan.restoreId} of backup ${inputs.selected.timestamp} under ${plan.root}: ${plan.steps.length} steps (${plan.steps.map((s) => s.id).join(", ")})`,
    )
    const versions = yield* restoreVersions(inputs.manifest, plan.root, options.operands ?? defaultOperands, options.allowVersionMismatch === true)
    for (const text of [...versions.lines, renderPreflightCheck(versions.check)]) yield* line(text)
    const note = yield* earlierRestoreNote(plan.root)
    if (note !== undefined) yield* line(note)
    const standDown = yield* standDownCheck(plan.root, options.evenAfterStandDown)
    yield* line(renderPreflightCheck(standDown))
    const completed = yield* completedCheck(inputs, options)
    yield* line(renderPreflightCheck(completed))
    const checks = [versions.check, standDown, completed, ...(yield* preflightChecks(plan, backupVerified, (c) => line(renderPreflightCheck(c))))]
    const refused = refusal(checks, false, options.keptDownload)
    if (refused !== undefined) return yield* refused
    const ran = yield* executePlan({
      plan,
      print: line,
      backupVerified,
      stopTimeoutSeconds: options.stopTimeoutSeconds,
      stopPollMillis: options.stopPollMillis,
      extractLimits: extractLimits(inputs.manifest),
    })
    const copiedOffDisk = plan.steps.some((s) => s.actions.some((a) => a._tag === "Move" && a.acrossFileSystems === true))
    yield* line(
      `Restore restore-${plan.restoreId} complete: ${ran.length} steps ran. etcd starts from the restored member; old data was kept, ${copiedOffDisk ? "copied off etcd's disk before it was removed there" : "nothing was deleted"}.`,
    )
    yield* line(renderNextSteps(plan.restoreId))
    return { plan, dryRun: false, ran } satisfies RestoreOutcome
  }).pipe(Effect.scoped)

export const restoreBackup = Effect.fn("restoreBackup")(function* (options: RestoreOptions) {
  const inputs = yield* gatherRestoreInputs(options)
  if (!options.dryRun) return yield* realRun(options, inputs.plan.root)
  const { plan } = inputs
  const backupVerified = yield* cachedVerification(inputs, options)
  const versions = yield* restoreVersions(inputs.manifest, plan.root, options.operands ?? defaultOperands, options.allowVersionMismatch === true)
  const checks = [
    ...(yield* lockCheck(plan.root)),
    versions.check,
    yield* standDownCheck(plan.root, options.evenAfterStandDown),
    yield* completedCheck(inputs, options),
    ...(yield* preflightChecks(plan, backupVerified)),
  ]
  const note = yield* earlierRestoreNote(plan.root)
  yield* options.output(
    `${renderRestorePlan(plan)}\nVersions:\n${versions.lines.map((l) => `${l}\n`).join("")}${note === undefined ? "" : `\n${note}\n`}${renderPreflight(plan, checks, options.keptDownload)}`,
  )
  const refused = refusal(checks, true, options.keptDownload)
  if (refused !== undefined) return yield* refused
  return { plan, dryRun: true, ran: [] } satisfies RestoreOutcome
})
