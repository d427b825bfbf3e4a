/**
 * Runs a restore plan on the host, step by step, exactly as planned: each step's preconditions
 * are checked right before it (the upfront ones were checked before the first step), then its
 * actions run in order, each printed as the dry run prints it. The ids of the steps that ran
 * are recorded, so a test can compare them with the plan.
 *
 * Every action is all or nothing on its own (rename, copy via `.part`, extraction via a staging
 * directory), except `etcdutl snapshot restore`, which may leave a partial output directory.
 * When a step fails (or is interrupted) after it changed something, its undo actions put the
 * host back as it was before the step (only the undo moves whose source exists run; one whose
 * destination is taken is not run and is named in the failure), and directories it created are
 * removed if still empty. Then the failure names the step and how to continue.
 */
import { dirname } from "node:path"
import { Clock, Effect, Schema } from "effect"
import { encodeRestoredMemberRecord } from "../../domain/restored-member-record.ts"
import { formatRfc3339Utc } from "../../domain/rfc3339.ts"
import { encodeStoodDownRecord } from "../../domain/stood-down-record.ts"
import { isDeepStrictEqual } from "node:util"
import { renderAction, renderPrecondition } from "../../domain/restore-plan-render.ts"
import { isUpfront, type RestoreAction, type RestoreStep, type StepId } from "../../domain/host-steps.ts"
import { type HostPlan, isStandDown, snapshotRestoreArgs } from "../../domain/restore-plan.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { Etcdutl } from "../../services/etcdutl.ts"
import { Tarball, type TarLimits } from "../../services/tarball/tarball.ts"
import { waitUntilStopped } from "./static-pod-activity.ts"
import { checkPrecondition, type PreconditionContext } from "./restore-preconditions.ts"
import { backupLayout } from "../verify/verify-tarball.ts"

export class RestoreActionFailed extends Schema.TaggedError<RestoreActionFailed>()("RestoreActionFailed", {
  action: Schema.String,
  message: Schema.String,
}) {}

export class RestoreStepFailed extends Schema.TaggedError<RestoreStepFailed>()("RestoreStepFailed", {
  step: Schema.String,
  /** Steps that completed before this one, in order. */
  completed: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

export interface ExecutorOptions {
  readonly plan: HostPlan
  readonly print: (line: string) => Effect.Effect<void>
  readonly backupVerified: PreconditionContext["backupVerified"]
  /** Overrides the plan's waits for the static pods to stop (tests). */
  readonly stopTimeoutSeconds?: number | undefined
  readonly stopPollMillis?: number | undefined
  /** Limits of the extraction (default `defaultTarLimits`); a restore bounds them by its manifest. */
  readonly extractLimits?: TarLimits | undefined
}

/** What one step changed so far: directories it created (to remove if it fails) and whether anything else changed. */
export interface StepChanges {
  readonly createdDirectories: Array<string>
  changed: boolean
}

/** Runs one durable file step of `action`; its failure names the action. */
const io = <A>(action: RestoreAction, run: (files: DurableFiles["Service"]) => Effect.Effect<A, { readonly message: string }, DurableFiles>) =>
  DurableFiles.use(run).pipe(Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })))

const exists = (path: string) => DurableFiles.use((files) => files.lstat(path)).pipe(Effect.map((found) => found !== undefined))

/** mkdir -p; records every directory it created. */
const createDirectory = (action: Extract<RestoreAction, { _tag: "CreateDirectory" }>, changes: StepChanges) =>
  io(action, (files) =>
    Effect.gen(function* () {
      const missing: Array<string> = []
      for (let p = action.path; !(yield* exists(p)); p = dirname(p)) missing.unshift(p)
      for (const p of missing) {
        yield* files.makeDirectory(p, action.mode)
        changes.createdDirectories.push(p)
      }
      if (missing.length > 0) yield* files.syncDirectory(dirname(missing[0]!))
    }),
  )

/** The one command the plan runs besides `snapshot status`: checked to be exactly the plan's arguments. */
const runCommand = (action: Extract<RestoreAction, { _tag: "RunCommand" }>, plan: HostPlan, print: ExecutorOptions["print"]) =>
  Effect.gen(function* () {
    const etcdutl = yield* Etcdutl
    const [command, ...args] = action.argv
    const refuse = (why: string) => new RestoreActionFailed({ action: renderAction(action), message: `the executor does not run this command: ${why}` })
    if (isStandDown(plan)) return yield* refuse("a stand-down runs no command")
    if (command !== plan.etcdutl.command) return yield* refuse(`it is not the plan's etcdutl (${plan.etcdutl.command})`)
    if (args[0] === "snapshot" && args[1] === "status" && args.length === 5 && args[3] === "-w" && args[4] === "json") {
      const status = yield* etcdutl
        .snapshotStatus(args[2]!)
        .pipe(Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })))
      yield* print(`             hash ${status.hash}, revision ${status.revision}, ${status.totalKey} keys, ${status.totalSize} bytes`)
      return
    }
    if (args[0] === "snapshot" && args[1] === "restore") {
      const dataDir = args[args.indexOf("--data-dir") + 1]
      const request = {
        snapshot: args[2] ?? "",
        memberName: plan.memberName,
        peerUrl: plan.peerUrl,
        clusterToken: plan.clusterToken,
        dataDir: dataDir ?? "",
        bump: plan.bump,
      }
      if (!isDeepStrictEqual([...snapshotRestoreArgs(request)], args)) return yield* refuse("its arguments are not the plan's snapshot restore")
      return yield* etcdutl.snapshotRestore(request).pipe(Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })))
    }
    return yield* refuse("unknown command")
  })

/** Writes one of the host's records (this tool's own files in the kept-data directory) over its older version. */
const writeRecord = (action: RestoreAction, path: string, text: string, changes: StepChanges) =>
  io(action, (files) => files.writeReplacing(path, new TextEncoder().encode(text), 0o600)).pipe(
    Effect.andThen(
      Effect.sync(() => {
        changes.changed = true
      }),
    ),
  )

const now = Effect.map(Clock.currentTimeMillis, formatRfc3339Utc)

/** The record of the member about to be renamed into place (`restored-member-record.ts`). */
const recordRestoredMember = (action: Extract<RestoreAction, { _tag: "RecordRestoredMember" }>, changes: StepChanges) =>
  Effect.gen(function* () {
    const member = yield* io(action, (files) => files.identity(action.member))
    if (member === undefined) return yield* new RestoreActionFailed({ action: renderAction(action), message: `${action.member} does not exist` })
    const text = encodeRestoredMemberRecord({ restoreId: action.restoreId, backup: action.backup, restoredAt: yield* now, member })
    yield* writeRecord(action, action.record, text, changes)
  })

/** Runs one action of `plan`; `changes` records what it created. */
export const executeAction = (action: RestoreAction, options: ExecutorOptions, changes: StepChanges) =>
  Effect.gen(function* () {
    const { plan } = options
    switch (action._tag) {
      case "CreateDirectory":
        return yield* createDirectory(action, changes)
      case "Move":
        // The move and its record as one: an interruption waits for the move (a copy off another file system may take
        // minutes) and lands after it, where the rollback must know it happened.
        return yield* Effect.uninterruptible(
          Effect.gen(function* () {
            const moved = yield* Effect.result(
              io(action, (files) => files.move(action.from, action.to, { acrossFileSystems: action.acrossFileSystems === true })),
            )
            // A move off another file system can fail after its copy took the name `to` (the destination was free before):
            // that is a change the rollback must see.
            if (moved._tag === "Success" || (yield* exists(action.to).pipe(Effect.orElseSucceed(() => false)))) changes.changed = true
            if (moved._tag === "Failure") return yield* Effect.fail(moved.failure)
          }),
        )
      case "CopyFile": {
        const expected =
          action.checkedAgainstVerifiedSnapshot === true
            ? yield* options.backupVerified.pipe(
                Effect.map(({ snapshot }) => ({ size: snapshot.size, tail: snapshot.trailer })),
                Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })),
              )
            : undefined
        const method = yield* io(action, (files) =>
          files.copyThroughPart(action.from, action.to, action.mode, {
            hardLinkWhenSafe: action.hardLinkWhenSafe === true,
            hiddenPart: action.hiddenPart === true,
            ...(expected === undefined ? {} : { expected }),
          }),
        )
        changes.changed = true
        if (method !== "copied") yield* options.print(`             ${method}: no data copied`)
        return
      }
      case "RemoveEmptyDirectory":
        yield* io(action, (files) => files.removeEmptyDirectory(action.path))
        changes.changed = true
        return
      case "ExtractArchive": {
        if (isStandDown(plan)) return yield* new RestoreActionFailed({ action: renderAction(action), message: "a stand-down extracts no backup" })
        const tarball = yield* Tarball
        const verified = yield* options.backupVerified.pipe(
          Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })),
        )
        const result = yield* tarball
          .extract({
            archive: action.archive,
            expectedArchive: verified.resources,
            target: action.target,
            unitDepth: 2,
            moveExistingTo: action.moveExistingTo,
            layout: backupLayout(plan.revisions),
            limits: options.extractLimits,
          })
          .pipe(Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })))
        changes.changed = true
        for (const aside of result.movedAside) yield* options.print(`             kept ${aside.from} as ${aside.to}`)
        return
      }
      case "WaitUntilStopped":
        return yield* waitUntilStopped(
          { what: action.what, dataDir: action.dataDir, root: plan.root, programs: action.programs, ports: action.ports },
          {
            timeoutSeconds: options.stopTimeoutSeconds ?? action.timeoutSeconds,
            print: options.print,
            ...(options.stopPollMillis === undefined ? {} : { pollMillis: options.stopPollMillis }),
          },
        ).pipe(Effect.mapError((e) => new RestoreActionFailed({ action: renderAction(action), message: e.message })))
      case "RecordRestoredMember":
        return yield* recordRestoredMember(action, changes)
      case "RecordStandDown":
        return yield* writeRecord(
          action,
          action.record,
          encodeStoodDownRecord({ standDownId: action.standDownId, stoodDownAt: yield* now, moved: action.moved }),
          changes,
        )
      case "RunCommand":
        if (action.writes.length > 0) changes.changed = true // a failed run may leave partial output: undo applies
        return yield* runCommand(action, plan, options.print)
    }
  })

/** One undo action: a move only when its source exists and its destination is free (else that part never happened). */
const applyUndo = (action: RestoreAction, changes: StepChanges) =>
  Effect.gen(function* () {
    switch (action._tag) {
      case "Move": {
        if (!(yield* exists(action.from).pipe(Effect.orElseSucceed(() => false)))) return false
        if (yield* exists(action.to).pipe(Effect.orElseSucceed(() => true))) {
          return yield* new RestoreActionFailed({
            action: renderAction(action),
            message: `${action.to} exists too, so ${action.from} was left where it is`,
          })
        }
        yield* io(action, (files) => files.move(action.from, action.to, { acrossFileSystems: action.acrossFileSystems === true }))
        return true
      }
      case "CreateDirectory":
        yield* createDirectory(action, changes)
        return true
      default:
        return yield* new RestoreActionFailed({ action: renderAction(action), message: "not an undo action" })
    }
  })

/** Undo of a step that failed half-way, then removal of the directories it created (if empty). */
const rollBack = (step: RestoreStep, changes: StepChanges, print: ExecutorOptions["print"]) =>
  Effect.gen(function* () {
    const notes: Array<string> = []
    if (changes.changed) {
      for (const action of step.undo) {
        const undone = yield* Effect.result(applyUndo(action, changes))
        if (undone._tag === "Failure") notes.push(`${renderAction(action).trim()} failed: ${undone.failure.message}`)
        else if (undone.success) yield* print(`    undone   ${renderAction(action).trimStart()}`)
      }
    }
    for (const dir of [...changes.createdDirectories].reverse()) {
      yield* DurableFiles.use((files) => files.removeEmptyDirectory(dir)).pipe(Effect.ignore)
    }
    return notes
  })

/** Runs every step of the plan in order; returns the ids of the steps that ran. */
export const executePlan = (options: ExecutorOptions) =>
  Effect.gen(function* () {
    const { plan, print } = options
    const ran: Array<StepId> = []
    const context: PreconditionContext = { plan, backupVerified: options.backupVerified }
    for (const [index, step] of plan.steps.entries()) {
      yield* print(`[${index + 1}/${plan.steps.length}] ${step.id}: ${step.title}`)
      const changes: StepChanges = { createdDirectories: [], changed: false }
      const body = Effect.gen(function* () {
        for (const p of step.preconditions) {
          if (isUpfront(p)) continue
          yield* checkPrecondition(p, context)
          yield* print(`    ok       ${renderPrecondition(p)}`)
        }
        for (const action of step.actions) {
          yield* print(`    ${renderAction(action)}`)
          yield* executeAction(action, options, changes)
        }
      })
      const outcome = yield* Effect.result(
        body.pipe(
          Effect.onInterrupt(() =>
            rollBack(step, changes, print).pipe(
              Effect.andThen(
                print(
                  `    interrupted during ${step.id}; ${changes.changed ? "what it had changed was put back" : "it had changed nothing"}. Run the restore again to continue.`,
                ),
              ),
            ),
          ),
        ),
      )
      if (outcome._tag === "Failure") {
        const notes = yield* rollBack(step, changes, print)
        const completed = [...ran]
        return yield* new RestoreStepFailed({
          step: step.id,
          completed,
          message:
            `restore step ${index + 1}/${plan.steps.length} ${step.id} (${step.title}) failed: ${outcome.failure.message}. ` +
            (changes.changed ? `What it had changed was put back${notes.length > 0 ? `, except: ${notes.join("; ")}` : ""}. ` : "It changed nothing. ") +
            (completed.length === 0 ? "No earlier step ran. " : `Earlier steps stay done (${completed.join(", ")}). `) +
            `${step.onFailure} Running the restore again plans only what is left to do.`,
        })
      }
      ran.push(step.id)
      yield* print(`    done`)
    }
    return ran
  })
