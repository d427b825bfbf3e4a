/**
 * `cluster-backup stand-down --undo`: puts a host stood down back as it was (`domain/stand-down-undo.ts`), under
 * the restore lock, after the sweep of what killed runs left. Each move is a rename (a copy, fsynced, then the
 * removal of the original, where etcd's data directory is a disk of its own), so a kill leaves each entry in one
 * place or the other, and a rerun goes on: what is back has its place taken, and is not moved again.
 */
import { posix } from "node:path"
import { Effect } from "effect"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { planStandDownUndo, renderUndoPlan, type UndoPlan, type UndoSlot, undoPlaces } from "../../domain/stand-down-undo.ts"
import { DurableFiles } from "../../services/durable-files.ts"
import { baseOrWithRunId, hostLayout } from "../../domain/host-layout.ts"
import { parseRfc3339Utc } from "../../domain/rfc3339.ts"
import { observeRestoredMember, readStandDownRecord } from "./host-records.ts"
import { resolveRoot } from "./restore-inputs.ts"
import { findPartialRestores, holdHostLock, namesIn } from "./restore-leftovers.ts"
import { lockCheck, refusal } from "./restore.ts"
import { renderPreflightCheck } from "../../domain/restore-plan-render.ts"

export interface StandDownUndoOptions {
  readonly root: string
  readonly dryRun: boolean
  readonly operands?: OperandTable | undefined
  readonly output: (text: string) => Effect.Effect<void>
}

/** Each place's state and candidates under `root` (links are never candidates; a link in a place takes it). */
const observe = (root: string, table: OperandTable) =>
  Effect.gen(function* () {
    const slots: Array<UndoSlot> = []
    for (const place of undoPlaces(table)) {
      const candidates = []
      for (const name of (yield* namesIn(posix.join(root, place.dir))).filter((n) => baseOrWithRunId(place.base, n))) {
        const info = yield* DurableFiles.use((files) => files.lstat(posix.join(root, place.dir, name)))
        if (info !== undefined && (place.type === "Directory" ? info.isDirectory() : info.isFile())) candidates.push({ name, ctimeMs: info.ctimeMs })
      }
      const taken = yield* DurableFiles.use((files) => files.lstat(posix.join(root, place.place)))
      slots.push({ what: place.what, dir: place.dir, place: place.place, placeTaken: taken !== undefined, candidates })
    }
    const record = yield* readStandDownRecord(root)
    const stoodDownAtMs = record === undefined ? undefined : parseRfc3339Utc(record.stoodDownAt)
    const { finding: restored } = yield* observeRestoredMember(root)
    const restoredAtMs = restored._tag === "RestoredHere" ? parseRfc3339Utc(restored.record.restoredAt) : undefined
    return planStandDownUndo(
      slots,
      yield* findPartialRestores(root),
      stoodDownAtMs === undefined ? undefined : { stoodDownAtMs, moved: record?.moved },
      restored._tag === "RestoredHere" && restoredAtMs !== undefined ? { restoreId: restored.record.restoreId, restoredAtMs } : undefined,
    )
  })

const checksOf = (plan: UndoPlan) =>
  plan._tag === "Refused" ? plan.reasons.map((r) => ({ what: "what the stand-down moved can be told and put back", unmet: r })) : []

export const undoStandDown = Effect.fn("undoStandDown")(function* (options: StandDownUndoOptions) {
  const table = options.operands ?? defaultOperands
  const root = yield* resolveRoot(options.root)
  const line = (text: string) => options.output(`${text}\n`)
  if (options.dryRun) {
    const plan = yield* observe(root, table)
    const checks = [...(yield* lockCheck(root)), ...checksOf(plan)]
    yield* options.output(`${renderUndoPlan(root, plan)}${checks.map((c) => `${renderPreflightCheck(c)}\n`).join("")}`)
    const refused = refusal(checks, true, undefined, "stand-down --undo")
    if (refused !== undefined) return yield* refused
    return plan
  }
  return yield* Effect.scoped(
    Effect.gen(function* () {
      yield* holdHostLock(root, "cluster-backup stand-down --undo", line)
      const plan = yield* observe(root, table)
      yield* options.output(renderUndoPlan(root, plan))
      if (plan._tag === "Refused") return yield* refusal(checksOf(plan), false, undefined, "stand-down --undo")!
      for (const move of plan.moves) {
        yield* DurableFiles.use((files) => files.move(posix.join(root, move.from), posix.join(root, move.to), { acrossFileSystems: true }))
        yield* line(`moved    ${move.from} -> ${move.to}`)
      }
      // Last, so that a run killed before it goes on from the record; after it, the record is inert anyway (etcd has its member).
      if (plan.removesRecord) {
        const record = posix.join(root, hostLayout.stoodDownRecord)
        yield* DurableFiles.use((files) => files.removeFile(record).pipe(Effect.andThen(files.syncDirectory(posix.dirname(record)))))
        yield* line(`removed  ${hostLayout.stoodDownRecord}`)
      }
      yield* line(
        `Stand-down undone: ${plan.moves.length} moves back. The kubelet starts etcd and the others from their manifests; etcd rejoins with the member it had.`,
      )
      return plan
    }),
  )
})
