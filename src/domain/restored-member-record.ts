/**
 * The record a restore leaves of the etcd member it put in place (`/var/lib/etcd-backup/restored-member.json`),
 * and what `stand-down` concludes from it. OpenShift's procedure stands down every control-plane host
 * *other* than the recovery host; run there by mistake after the restore (a loop over all masters), a
 * stand-down would stop the restored cluster's only member and move it aside. The record lets it refuse.
 *
 * The member is named by its directory's device and inode: the restore records them before it renames
 * etcdutl's output into place, the rename keeps them, and etcd writes inside the directory without
 * replacing it. A member put there later (a new restore, a stand-down and a rejoin) has another inode, so an
 * old record stops applying by itself; the restore overwrites the record each time.
 */
import { Schema } from "effect"
import { overridableCheck, type PreflightCheck, type RecordVerdict } from "./restore-plan-render.ts"
import { decodeHostRecord, type HostRecordRead, hostLayout, restoreIdPattern } from "./host-layout.ts"
import { Rfc3339Utc } from "./rfc3339.ts"

const Decimal = Schema.String.check(Schema.isPattern(/^(0|[1-9]\d{0,19})$/))

/** A directory's identity as the kernel keeps it (decimal: 64-bit values). */
export const DirectoryIdentity = Schema.Struct({ device: Decimal, inode: Decimal })
export type DirectoryIdentity = typeof DirectoryIdentity.Type

export const RestoredMemberRecord = Schema.Struct({
  restoreId: Schema.String.check(Schema.isPattern(restoreIdPattern)),
  /** The backup directory restored (a host path). */
  backup: Schema.String,
  /** When the restore put the member in place. */
  restoredAt: Rfc3339Utc,
  member: DirectoryIdentity,
})
export type RestoredMemberRecord = typeof RestoredMemberRecord.Type

const RecordJson = Schema.fromJsonString(RestoredMemberRecord)
const decodeRecord = Schema.decodeUnknownResult(RecordJson)

/** The record's text: one JSON object and a newline. */
export const encodeRestoredMemberRecord = (record: RestoredMemberRecord): string => `${JSON.stringify(record)}\n`

/** What the record says of the member in etcd's data directory now. */
export type RecoveryHostFinding =
  | { readonly _tag: "NoRecord" }
  /** etcd has no member here: a stand-down has none to move aside, whatever the record says. */
  | { readonly _tag: "NoMember" }
  /** A record that cannot be read or does not decode: damaged or not this tool's. */
  | { readonly _tag: "Unreadable"; readonly reason: string }
  /** The member the record names is no longer in place. */
  | { readonly _tag: "MemberReplaced"; readonly record: RestoredMemberRecord }
  | { readonly _tag: "RestoredHere"; readonly record: RestoredMemberRecord }

const sameDirectory = (a: DirectoryIdentity, b: DirectoryIdentity) => a.device === b.device && a.inode === b.inode

/** `recordText`: the record as read; `member`: the identity of etcd's member directory now, undefined when there is none. */
export const recoveryHostFinding = (recordText: HostRecordRead, member: DirectoryIdentity | undefined): RecoveryHostFinding => {
  if (recordText === undefined) return { _tag: "NoRecord" }
  if (member === undefined) return { _tag: "NoMember" }
  const decoded = decodeHostRecord(recordText, decodeRecord)
  if (decoded._tag === "Unreadable") return decoded
  const record = decoded.record
  return sameDirectory(record.member, member) ? { _tag: "RestoredHere", record } : { _tag: "MemberReplaced", record }
}

/** The flag (without its dashes) that stands a recovery host down anyway. */
export const evenOnRecoveryHostFlag = "even-on-recovery-host"

/**
 * The stand-down's check: unmet where this host holds the member a restore put in place, unless
 * `evenOnRecoveryHost` (a new restore is to run on another host, and this one must stand down too).
 */
export const recoveryHostCheck = (finding: RecoveryHostFinding, recordPath: string, evenOnRecoveryHost: boolean): PreflightCheck =>
  overridableCheck(
    "not the recovery host of a restore, whose member a stand-down would move aside",
    recoveryHostVerdict(finding, recordPath),
    `--${evenOnRecoveryHostFlag}`,
    evenOnRecoveryHost,
    "standing this host down anyway",
  )

const recoveryHostVerdict = (finding: RecoveryHostFinding, recordPath: string): RecordVerdict => {
  switch (finding._tag) {
    case "NoRecord":
      return { _tag: "Clear", detail: `no ${recordPath}` }
    case "NoMember":
      return { _tag: "Clear", detail: "etcd has no member here to move aside" }
    case "MemberReplaced":
      return {
        _tag: "Clear",
        detail: `restore-${finding.record.restoreId} of ${finding.record.restoredAt} recorded in ${recordPath}: its member is no longer in place`,
      }
    case "Unreadable":
      return {
        _tag: "Blocks",
        finding: `${recordPath} is unreadable (${finding.reason}), so this host may be where a restore put the restored cluster's member`,
        consequence: "If it is not, or it must stand down anyway",
      }
    case "RestoredHere":
      return {
        _tag: "Blocks",
        finding: `this is the recovery host: restore-${finding.record.restoreId} put the restored member of ${finding.record.backup} in place here at ${finding.record.restoredAt} (${recordPath}), and it is still etcd's member`,
        consequence:
          "Standing it down would stop the restored cluster and move its member aside. Run stand-down on the other control-plane hosts only; to stand this host down anyway (a new restore is to run on another host)",
      }
  }
}

/** The flag (without its dashes) that restores again on a host whose earlier restore is complete. */
export const evenAfterRestoreFlag = "even-after-restore"

/**
 * The restore's check: unmet where an earlier restore here is complete (its member is still etcd's, and etcd's and the
 * control plane's manifests are in place again: the cluster runs from it), unless `evenAfterRestore`. Rerun by mistake
 * (the command recalled from the shell's history), a restore would take the running cluster back to the backup. A
 * restore interrupted before that point is continued, not refused.
 */
export const completedRestoreCheck = (
  finding: RecoveryHostFinding,
  recordPath: string,
  staticPodsInPlace: boolean,
  evenAfterRestore: boolean,
): PreflightCheck =>
  overridableCheck(
    "not a host where an earlier restore is complete and the cluster runs from its member",
    completedRestoreVerdict(finding, recordPath, staticPodsInPlace),
    `--${evenAfterRestoreFlag}`,
    evenAfterRestore,
    "restoring again",
  )

const completedRestoreVerdict = (finding: RecoveryHostFinding, recordPath: string, staticPodsInPlace: boolean): RecordVerdict => {
  switch (finding._tag) {
    case "NoRecord":
      return { _tag: "Clear", detail: `no ${recordPath}` }
    case "NoMember":
      return { _tag: "Clear", detail: "etcd has no member here" }
    case "Unreadable":
      return { _tag: "Clear", detail: `${recordPath} is unreadable (${finding.reason}): no restore is known to be complete here` }
    case "MemberReplaced":
      return { _tag: "Clear", detail: `the member restore-${finding.record.restoreId} put in place is no longer etcd's` }
  }
  const { restoreId, backup, restoredAt } = finding.record
  if (!staticPodsInPlace)
    return {
      _tag: "Clear",
      detail: `restore-${restoreId}'s member is in place, but not every static pod manifest is: that restore did not finish, and this run does it again`,
    }
  return {
    _tag: "Blocks",
    finding: `restore-${restoreId} put the restored member of ${backup} in place here at ${restoredAt} (${recordPath}); it is still etcd's member, and etcd's and the control plane's manifests are in place again: that restore is complete and the cluster runs from it`,
    consequence:
      "A new restore would stop them, set that member aside and take the cluster back to this backup: what the cluster stored since would be only in the kept member. If that is wanted (a new recovery, or that restore's result is to be thrown away)",
  }
}

/**
 * What a restore says when the member it is about to set aside is the one an earlier restore put in
 * place (a second restore, by mistake or not, takes the cluster back past what it stored since).
 */
export const restoredMemberNote = (finding: RecoveryHostFinding, recordPath: string): string | undefined =>
  finding._tag === "RestoredHere"
    ? `Note: etcd's member here is the one restore-${finding.record.restoreId} put in place at ${finding.record.restoredAt} from ${finding.record.backup} (${recordPath}). This restore sets it aside (kept in ${hostLayout.keptDataDir}) and takes the cluster back to this backup: what the cluster stored since that restore is then only in the kept member.`
    : undefined
