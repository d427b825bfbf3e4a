/**
 * `stand-down --undo`: a host stood down is put back as it was, when the recovery is called off. The
 * stand-down moved etcd's member and revision.json into the kept-data directory and the static pod
 * manifests into manifests-stopped, each under its name, or `<name>.<id>` where that was taken by an earlier
 * run. Its record names each move of the run that wrote it, and exactly that entry is put back. Where the record
 * names none for a place (a record of an earlier version; manifests stopped by a stand-down killed before its
 * record, whose rerun did not move them again), what it moved is what arrived there last: each move sets the
 * entry's ctime, and nothing of an earlier run can have arrived after it, so the newest candidate is put back.
 * Each goes back only where its place is free: etcd's member first, then revision.json (by ctime only the one
 * moved with that member), then etcd's manifest, then the other three.
 */
import { posix } from "node:path"
import { type OperandTable, operandList } from "./operands.ts"
import { hostLayout } from "./host-layout.ts"
import type { StandDownMove } from "./stood-down-record.ts"

/** An entry of a kept directory that may be what the stand-down moved there. */
export interface UndoCandidate {
  readonly name: string
  readonly ctimeMs: number
}

/** What one kept entry goes back to: its place (host path) and the candidates for it in `dir`. */
export interface UndoSlot {
  readonly what: string
  readonly dir: string
  /** The host path it goes back to. */
  readonly place: string
  readonly placeTaken: boolean
  readonly candidates: ReadonlyArray<UndoCandidate>
}

export interface UndoMove {
  readonly what: string
  /** Host paths, without the root. */
  readonly from: string
  readonly to: string
}

export type UndoPlan =
  /** `removesRecord`: the stand-down's record goes once the moves are done: it no longer applies, and a later undo must not read it. */
  | { readonly _tag: "Moves"; readonly moves: ReadonlyArray<UndoMove>; readonly removesRecord: boolean }
  | { readonly _tag: "Refused"; readonly reasons: ReadonlyArray<string> }

/** Two moves of different runs are minutes apart; entries kept within this of each other cannot be told apart. */
export const ambiguityMs = 1000
/** The stand-down moves revision.json right after the member. */
export const revisionJsonWithMemberMs = 60_000
/**
 * The stand-down writes its record right before it moves the member; a move off a dedicated etcd disk is a copy
 * that takes the member's name when done, minutes later for a large one.
 */
export const memberMoveMaxMs = 3_600_000

/** The names a stand-down gives what it keeps of one place: etcd's member, revision.json, each manifest. */
export const undoPlaces = (table: OperandTable) => [
  { what: "etcd's member", dir: hostLayout.keptDataDir, base: "member", place: posix.join(hostLayout.dataDir, "member"), type: "Directory" as const },
  { what: "revision.json", dir: hostLayout.keptDataDir, base: "revision.json", place: posix.join(hostLayout.dataDir, "revision.json"), type: "File" as const },
  ...operandList(table).map((o) => ({
    what: `${o.name}'s manifest`,
    dir: hostLayout.stoppedManifestsDir,
    base: `${o.podConfigMap}.yaml`,
    place: posix.join(hostLayout.manifestsDir, `${o.podConfigMap}.yaml`),
    type: "File" as const,
  })),
]

const newest = (candidates: ReadonlyArray<UndoCandidate>) => [...candidates].sort((a, b) => b.ctimeMs - a.ctimeMs)

/** What the stand-down's record says: when it ran, and the moves of the run that wrote it (host paths). */
export interface StandDownRecordView {
  readonly stoodDownAtMs: number
  readonly moved?: ReadonlyArray<StandDownMove> | undefined
}

/** The candidate the record names for `slot`: the entry its move of that place went to, when it is still there. */
const namedByRecord = (slot: UndoSlot, record: StandDownRecordView | undefined): UndoCandidate | undefined => {
  const move = record?.moved?.find((m) => m.from === slot.place)
  return move === undefined ? undefined : slot.candidates.find((c) => posix.join(slot.dir, c.name) === move.to)
}

/**
 * Why the entry the record names for slot `i` may not be the one to put back, or undefined. Its ctime must say it was
 * moved when the stand-down ran (the manifests before the record; etcd's member and revision.json after it, within
 * a copy off a dedicated disk), and no entry may have been kept there clearly after it: a restore run after the
 * stand-down (the record is then stale), or a chmod or relabel of either since.
 */
const changedSinceKept = (i: number, named: UndoCandidate, slot: UndoSlot, stoodDownAtMs: number): string | undefined => {
  const dataDirEntry = i < 2
  if (named.ctimeMs > stoodDownAtMs + (dataDirEntry ? memberMoveMaxMs : ambiguityMs) || (dataDirEntry && named.ctimeMs < stoodDownAtMs - ambiguityMs))
    return "its ctime says it changed after the stand-down (a chmod, chown or relabel)"
  const later = slot.candidates.find((c) => c.ctimeMs - named.ctimeMs >= ambiguityMs)
  return later === undefined ? undefined : `${posix.join(slot.dir, later.name)} was kept or changed after it (a restore since, a chmod, chown or relabel)`
}

/**
 * The moves that put the host back, in order (etcd's member, revision.json, etcd's manifest, the others), or why not.
 * `slots` in `undoPlaces` order; `partialRestores`: an interrupted restore's output in etcd's data directory;
 * `record`: the stand-down's record (written right before it moves the member), when it reads. A member neither
 * named by it nor kept at its time was set aside by a restore, whose later steps the old manifests would not survive.
 * `restoredHere`: the restore whose member is etcd's here now (its record), when there is one. Entries kept before
 * it put that member in place belong to the host before that restore: putting them back beside the restored member
 * (a restore killed before it started the pods) would start them at the old revisions; that restore is to be run again.
 */
export const planStandDownUndo = (
  slots: ReadonlyArray<UndoSlot>,
  partialRestores: ReadonlyArray<string>,
  record: StandDownRecordView | undefined,
  restoredHere?: { readonly restoreId: string; readonly restoredAtMs: number },
): UndoPlan => {
  const stoodDownAtMs = record?.stoodDownAtMs
  const reasons: Array<string> = []
  const moves: Array<UndoMove> = []
  const put = (slot: UndoSlot, candidate: UndoCandidate) => {
    if (restoredHere !== undefined && candidate.ctimeMs < restoredHere.restoredAtMs - ambiguityMs) {
      reasons.push(
        `${posix.join(slot.dir, candidate.name)} was kept before restore-${restoredHere.restoreId} put etcd's member here in place (${hostLayout.restoredMemberRecord}): that restore replaced what the stand-down left; run it again to finish it, not --undo`,
      )
      return
    }
    moves.push({ what: slot.what, from: posix.join(slot.dir, candidate.name), to: slot.place })
  }
  if (partialRestores.length > 0)
    reasons.push(
      `a restore was interrupted on this host (${partialRestores.map((id) => `restore-${id}`).join(", ")} in ${hostLayout.dataDir}): run it again to finish it, not --undo`,
    )
  let memberKeptAt: number | undefined
  for (const [i, slot] of slots.entries()) {
    if (slot.placeTaken) continue
    const named = namedByRecord(slot, record)
    if (named !== undefined && record !== undefined) {
      const changed = changedSinceKept(i, named, slot, record.stoodDownAtMs)
      if (changed !== undefined) {
        reasons.push(
          `${hostLayout.stoodDownRecord} names ${posix.join(slot.dir, named.name)} as the stand-down's, but ${changed}: which to put back cannot be told; move ${slot.what} back by hand`,
        )
        continue
      }
      if (i === 0) memberKeptAt = named.ctimeMs
      put(slot, named)
      continue
    }
    const [pick, next] = newest(slot.candidates)
    if (pick === undefined) {
      if (i === 0) reasons.push(`${slot.place} is missing and ${slot.dir} holds no kept member to put back`)
      continue
    }
    if (next !== undefined && pick.ctimeMs - next.ctimeMs < ambiguityMs) {
      reasons.push(
        `${posix.join(slot.dir, pick.name)} and ${posix.join(slot.dir, next.name)} were kept within a second of each other: which is the stand-down's cannot be told; move ${slot.what} back by hand`,
      )
      continue
    }
    if (i === 0 && (stoodDownAtMs === undefined || pick.ctimeMs < stoodDownAtMs - ambiguityMs || pick.ctimeMs - stoodDownAtMs > memberMoveMaxMs)) {
      reasons.push(
        `${posix.join(slot.dir, pick.name)} was not set aside by a stand-down (${hostLayout.stoodDownRecord} ${stoodDownAtMs === undefined ? "is missing or unreadable" : "names another time"}): a restore set it aside; run that restore again to finish it`,
      )
      continue
    }
    if (i === 0) memberKeptAt = pick.ctimeMs
    // revision.json goes back only with the member it was moved with: an older one would understate the next restore's revision bump.
    if (i === 1 && (memberKeptAt === undefined || Math.abs(pick.ctimeMs - memberKeptAt) > revisionJsonWithMemberMs)) continue
    put(slot, pick)
  }
  return reasons.length > 0 ? { _tag: "Refused", reasons } : { _tag: "Moves", moves, removesRecord: record !== undefined }
}

/** The plan as both runs print it. */
export const renderUndoPlan = (root: string, plan: UndoPlan): string =>
  plan._tag === "Refused"
    ? `Undo of the stand-down under ${root}: refused:\n${plan.reasons.map((r) => `  ${r}\n`).join("")}`
    : `${
        plan.moves.length === 0
          ? `Undo of the stand-down under ${root}: nothing to put back (etcd's member and the four manifests are in place).\n`
          : `Undo of the stand-down under ${root}: ${plan.moves.length} moves back\n${plan.moves.map((m) => `  move  ${m.from} -> ${m.to}  (${m.what})\n`).join("")}`
      }${plan.removesRecord ? `  remove ${hostLayout.stoodDownRecord}  (the stand-down's record: undone, it no longer applies)\n` : ""}`
