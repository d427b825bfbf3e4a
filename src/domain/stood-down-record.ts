/**
 * The record a stand-down leaves (`/var/lib/etcd-backup/stood-down.json`), and what `restore` concludes
 * from it. A host stood down for a restore on another host has no etcd member until the etcd operator
 * adds it back as a new one. A restore there as well (a loop over every control-plane host, or a
 * second person) would make a second, separate single-member cluster: the two halves of the
 * control plane would each serve their own. The record lets the restore refuse while the host has not
 * rejoined; once it has (etcd's member directory is back), the record no longer applies.
 */
import { Schema } from "effect"
import { overridableCheck, type PreflightCheck, type RecordVerdict } from "./restore-plan-render.ts"
import { decodeHostRecord, type HostRecordRead, restoreIdPattern } from "./host-layout.ts"
import { Rfc3339Utc } from "./rfc3339.ts"

/** A move the stand-down makes: from its place on the host to the name it is kept under (host paths). */
export const StandDownMove = Schema.Struct({ from: Schema.String, to: Schema.String })
export type StandDownMove = typeof StandDownMove.Type

export const StoodDownRecord = Schema.Struct({
  standDownId: Schema.String.check(Schema.isPattern(restoreIdPattern)),
  /** When the stand-down set etcd's member aside. */
  stoodDownAt: Rfc3339Utc,
  /**
   * The moves of the run that wrote the record: its stopped manifests, etcd's member and revision.json, each under
   * the name it is kept as. `stand-down --undo` puts back exactly these. Missing in records of earlier versions.
   */
  moved: Schema.optionalKey(Schema.Array(StandDownMove)),
})
export type StoodDownRecord = typeof StoodDownRecord.Type

const decodeRecord = Schema.decodeUnknownResult(Schema.fromJsonString(StoodDownRecord))

/** The record's text: one JSON object and a newline. */
export const encodeStoodDownRecord = (record: StoodDownRecord): string => `${JSON.stringify(record)}\n`

/** The record as read, decoded; undefined when there is none or it does not read as one. */
export const readStoodDownRecord = (recordText: HostRecordRead): StoodDownRecord | undefined => {
  if (recordText === undefined) return undefined
  const decoded = decodeHostRecord(recordText, decodeRecord)
  return decoded._tag === "Decoded" ? decoded.record : undefined
}

/** What the record says of this host now. */
export type StoodDownFinding =
  | { readonly _tag: "NoRecord" }
  /** etcd has a member here again: the host rejoined (or was never left without one), whatever the record says. */
  | { readonly _tag: "MemberInPlace" }
  | { readonly _tag: "Unreadable"; readonly reason: string }
  | { readonly _tag: "StoodDown"; readonly record: StoodDownRecord }

/** `recordText`: the record as read; `memberInPlace`: etcd's member directory exists. */
export const stoodDownFinding = (recordText: HostRecordRead, memberInPlace: boolean): StoodDownFinding => {
  if (recordText === undefined) return { _tag: "NoRecord" }
  if (memberInPlace) return { _tag: "MemberInPlace" }
  const decoded = decodeHostRecord(recordText, decodeRecord)
  return decoded._tag === "Unreadable" ? decoded : { _tag: "StoodDown", record: decoded.record }
}

/** The flag (without its dashes) that restores on a stood-down host anyway. */
export const evenAfterStandDownFlag = "even-after-stand-down"

/**
 * The restore's check: unmet where this host was stood down and has no member since, unless
 * `evenAfterStandDown` (the restore is to run here instead: the other host's never ran, or failed).
 */
export const afterStandDownCheck = (finding: StoodDownFinding, recordPath: string, evenAfterStandDown: boolean): PreflightCheck =>
  overridableCheck(
    "not a host stood down for a restore on another host",
    afterStandDownVerdict(finding, recordPath),
    `--${evenAfterStandDownFlag}`,
    evenAfterStandDown,
    "restoring here",
  )

const secondCluster =
  "A restore here too would make a second, separate cluster beside the one restored there. Restore on one host only; if it is to be this one (the restore elsewhere never ran, or failed and will not be run again)"

const afterStandDownVerdict = (finding: StoodDownFinding, recordPath: string): RecordVerdict => {
  switch (finding._tag) {
    case "NoRecord":
      return { _tag: "Clear", detail: `no ${recordPath}` }
    case "MemberInPlace":
      return { _tag: "Clear", detail: `${recordPath} is there, but etcd has a member here again: the host rejoined` }
    case "Unreadable":
      return {
        _tag: "Blocks",
        finding: `${recordPath} is unreadable (${finding.reason}), and etcd has no member here: this host may have been stood down for a restore on another host`,
        consequence: secondCluster,
      }
    case "StoodDown":
      return {
        _tag: "Blocks",
        finding: `this host was stood down (stand-down-${finding.record.standDownId} at ${finding.record.stoodDownAt}, ${recordPath}) for a restore on another host, and etcd has had no member here since`,
        consequence: secondCluster,
      }
  }
}
