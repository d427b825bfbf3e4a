/**
 * What a policy's backup pod reports about the backup it stored: `backup-upload` writes it as its
 * container termination message (`/dev/termination-log`), and the operator reads it from the pod's
 * status into the policy's status and metrics. The kubelet keeps at most 4096 bytes of a termination
 * message (and cuts the rest silently), so the Schema bounds every field: no valid report can encode
 * to more than `maxReportBytes`, and a cut or foreign message fails to parse instead of being misread.
 */
import { Result, Schema } from "effect"
import { VerifyMode } from "./backup-policy.ts"
import { dnsSubdomainProblem } from "./k8s-names.ts"
import { Rfc3339Utc } from "./rfc3339.ts"
import { maxReportBytes, parseTerminationReport, terminationMessageLimit } from "./termination-report.ts"
import { BackupId } from "./store-layout.ts"

export { maxReportBytes, terminationMessageLimit }
export const maxLocationLength = 1024
export const maxRevisionEntries = 16

const NonNegativeInt = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))
/** Printable ASCII only: a URL or path as the stores write them, each character one byte in JSON. */
const Location = Schema.String.check(Schema.isPattern(/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,1024}$/, { expected: "printable ASCII without quote or backslash" }))
const OperandKey = Schema.String.check(
  Schema.makeFilter((s: string) => (s.length <= 63 ? (dnsSubdomainProblem(s) ?? undefined) : "at most 63 characters"), { expected: "an operand name" }),
)

export const BackupPodReport = Schema.Struct({
  /** At most 200 characters (a layout segment). */
  id: BackupId,
  location: Location,
  time: Rfc3339Utc,
  revisions: Schema.Record(OperandKey, NonNegativeInt).check(Schema.isMaxProperties(maxRevisionEntries)),
  etcdRevision: NonNegativeInt,
  snapshotBytes: NonNegativeInt,
  resourcesBytes: NonNegativeInt,
  totalBytes: NonNegativeInt,
  bytesUploaded: NonNegativeInt,
  verdict: Schema.Literals(["consistent", "dirty"]),
  verified: Schema.Boolean,
  verifyMode: VerifyMode,
  /** Backups the in-pod prune deleted; absent when no retention rule ran or the prune failed (a warning only). */
  pruned: Schema.optionalKey(NonNegativeInt),
})
export type BackupPodReport = typeof BackupPodReport.Type

export class BackupPodReportInvalid extends Schema.TaggedError<BackupPodReportInvalid>()("BackupPodReportInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

const decode = Schema.decodeUnknownResult(BackupPodReport, { errors: "all" })

/** The report as one line of JSON (at most `maxReportBytes` bytes for any valid report). */
export const encodeBackupPodReport = (report: BackupPodReport): string => JSON.stringify(report)

/** The report in a container's termination message; a message that is not one (logs, a cut report) is named as such. */
export const parseBackupPodReport = (terminationMessage: string): Result.Result<BackupPodReport, BackupPodReportInvalid> =>
  Result.mapError(
    parseTerminationReport(decode, terminationMessage, { report: "backup report", writer: "backup-upload" }),
    (problem) => new BackupPodReportInvalid(problem),
  )
