/**
 * `cluster-backup stand-down`: what OpenShift's procedure for restoring to a previous cluster state
 * does by hand on every control-plane host other than the recovery host, before
 * `cluster-restore.sh` runs there: stop kube-apiserver, kube-controller-manager, kube-scheduler and
 * etcd (their manifests moved out of the kubelet's directory, kept), wait until they are gone, and
 * move etcd's data aside, kept, so that the etcd operator later adds this host back as a new member.
 *
 * It is the restore's first part, from the same pure plan (`planStandDown`), checks, executor,
 * lock and leftover sweep: `--dry-run` prints the plan and refuses as a real run would; a real run
 * prints each step, undoes a step that failed half-way, and a rerun continues where it stopped.
 */
import { Effect } from "effect"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { posix } from "node:path"
import {
  afterStandDown,
  type PreflightCheck,
  renderPrecondition,
  renderPreflight,
  renderPreflightCheck,
  renderStandDownPlan,
} from "../../domain/restore-plan-render.ts"
import { hostLayout, stopPathsToObserve } from "../../domain/host-layout.ts"
import type { Precondition, StepId } from "../../domain/host-steps.ts"
import { planStandDown, type StandDownPlan } from "../../domain/restore-plan.ts"
import { decodeStandDownInput } from "../../domain/restore-plan-input.ts"
import { recoveryHostCheck } from "../../domain/restored-member-record.ts"
import { executePlan } from "./restore-executor.ts"
import { observeHost, RestoreInputInvalid, resolveRoot } from "./restore-inputs.ts"
import { holdHostLock } from "./restore-leftovers.ts"
import { checkPrecondition, RestorePreconditionFailed } from "./restore-preconditions.ts"
import { preflightChecks } from "./restore-preflight.ts"
import { lockCheck, refusal } from "./restore.ts"
import { observeRestoredMember } from "./host-records.ts"

/** Whether this host is where a restore put etcd's member, still in place: refused unless `--even-on-recovery-host`. */
const recoveryHostCheckOf = (root: string, evenOnRecoveryHost: boolean | undefined) =>
  Effect.map(observeRestoredMember(root), ({ finding, recordPath }) => recoveryHostCheck(finding, recordPath, evenOnRecoveryHost === true))

export interface StandDownOptions {
  readonly root: string
  readonly dryRun: boolean
  /** A fresh UUID: names what this run moves where an earlier run took the usual name. */
  readonly standDownId: string
  /** `--even-on-recovery-host`: stand down a host whose etcd member a restore put in place (a new restore is to run elsewhere). */
  readonly evenOnRecoveryHost?: boolean | undefined
  readonly operands?: OperandTable | undefined
  /** Overrides the plan's waits for the pods to stop (tests). */
  readonly stopTimeoutSeconds?: number | undefined
  readonly stopPollMillis?: number | undefined
  readonly output: (text: string) => Effect.Effect<void>
}

export interface StandDownOutcome {
  readonly plan: StandDownPlan
  readonly dryRun: boolean
  readonly ran: ReadonlyArray<StepId>
}

/** A stand-down reads no backup: the precondition never appears in its plan. */
const noBackup = Effect.fail(new RestorePreconditionFailed({ precondition: "BackupVerified", message: "a stand-down restores no backup" }))

/**
 * The host is a control-plane host: its kubelet's manifest directory is there. Without it (a `--root`
 * that is not the host's `/`) every step would find nothing to do, and the run would report a
 * stand-down that stopped nothing.
 */
const controlPlaneHostCheck = (plan: StandDownPlan) =>
  Effect.gen(function* () {
    const manifests: Precondition = { _tag: "IsDirectory", path: posix.join(plan.root, hostLayout.manifestsDir), linkAllowed: true, mayBeAbsent: false }
    const checked = yield* Effect.result(checkPrecondition(manifests, { plan, backupVerified: noBackup }))
    return {
      what: `a control-plane host: ${renderPrecondition(manifests)}`,
      unmet: checked._tag === "Failure" ? `${checked.failure.message}; --root must be the host's / (from oc debug node: --root /host)` : undefined,
    } satisfies PreflightCheck
  })

const planOf = (options: StandDownOptions) =>
  Effect.gen(function* () {
    const table = options.operands ?? defaultOperands
    const root = yield* resolveRoot(options.root)
    const observed = yield* observeHost(root, (partials) => stopPathsToObserve(table, partials))
    const input = yield* Effect.fromResult(
      decodeStandDownInput({
        root,
        standDownId: options.standDownId,
        existing: observed.existing,
        partialRestores: observed.partialRestores,
        ...(observed.separateDataDisk === undefined ? {} : { separateDataDisk: observed.separateDataDisk }),
      }),
    ).pipe(Effect.mapError((e) => new RestoreInputInvalid({ what: "input", message: `the stand-down's input is invalid: ${e.message}` })))
    return planStandDown(input, table)
  })

/** The real run, under the restore lock (a restore and a stand-down never run together on a host). */
const realRun = (options: StandDownOptions, root: string) =>
  Effect.gen(function* () {
    const line = (text: string) => options.output(`${text}\n`)
    yield* holdHostLock(root, `cluster-backup stand-down (stand-down-${options.standDownId})`, line)
    const plan = yield* planOf(options)
    yield* line(`Stand-down stand-down-${plan.standDownId} under ${plan.root}: ${plan.steps.length} steps (${plan.steps.map((s) => s.id).join(", ")})`)
    const host = yield* controlPlaneHostCheck(plan)
    yield* line(renderPreflightCheck(host))
    const recovery = yield* recoveryHostCheckOf(plan.root, options.evenOnRecoveryHost)
    yield* line(renderPreflightCheck(recovery))
    const checks = [host, recovery, ...(yield* preflightChecks(plan, noBackup, (c) => line(renderPreflightCheck(c))))]
    const refused = refusal(checks, false, undefined, "stand-down")
    if (refused !== undefined) return yield* refused
    const ran = yield* executePlan({
      plan,
      print: line,
      backupVerified: noBackup,
      stopTimeoutSeconds: options.stopTimeoutSeconds,
      stopPollMillis: options.stopPollMillis,
    })
    yield* line(
      `Stand-down stand-down-${plan.standDownId} complete: ${ran.length} steps ran. This host's static pods are stopped and etcd's data is kept in /var/lib/etcd-backup; nothing was deleted.`,
    )
    yield* line(afterStandDown)
    return { plan, dryRun: false, ran } satisfies StandDownOutcome
  }).pipe(Effect.scoped)

export const standDown = Effect.fn("standDown")(function* (options: StandDownOptions) {
  // A real run plans under the lock; only its root is needed to take it.
  if (!options.dryRun) return yield* realRun(options, yield* resolveRoot(options.root))
  const plan = yield* planOf(options)
  const checks = [
    ...(yield* lockCheck(plan.root)),
    yield* controlPlaneHostCheck(plan),
    yield* recoveryHostCheckOf(plan.root, options.evenOnRecoveryHost),
    ...(yield* preflightChecks(plan, noBackup)),
  ]
  yield* options.output(`${renderStandDownPlan(plan)}${renderPreflight(plan, checks)}`)
  const refused = refusal(checks, true, undefined, "stand-down")
  if (refused !== undefined) return yield* refused
  return { plan, dryRun: true, ran: [] } satisfies StandDownOutcome
})
