/**
 * What `backup-create` reports about the backup it finished, as its container's termination message: the backup's ID
 * and its pairing verdict with the reasons, so that whoever follows the pod (`backup-pod`) can tell a consistent backup
 * from a possibly dirty one without reading the backup. The reasons are cut to fit the kubelet's limit; the manifest
 * holds them whole.
 */
import { Result, Schema } from "effect"
import { BackupId } from "./store-layout.ts"
import { maxReportBytes, parseTerminationReport } from "./termination-report.ts"

/** The longest reason kept, in characters; a longer one ends in an ellipsis. */
export const maxReasonLength = 240

export const BackupCreateReport = Schema.Struct({
  id: BackupId,
  verdict: Schema.Literals(["consistent", "dirty"]),
  reasons: Schema.Array(Schema.String.check(Schema.isMaxLength(maxReasonLength))),
}).check(
  Schema.makeFilter((r) => (Buffer.byteLength(JSON.stringify(r), "utf8") <= maxReportBytes ? undefined : `at most ${maxReportBytes} bytes of JSON`), {
    expected: "a report that fits a termination message",
  }),
)
export type BackupCreateReport = typeof BackupCreateReport.Type

export class BackupCreateReportInvalid extends Schema.TaggedError<BackupCreateReportInvalid>()("BackupCreateReportInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

const cut = (reason: string): string => {
  if (reason.length <= maxReasonLength) return reason
  const end = maxReasonLength - 1
  // Not between the two halves of a surrogate pair.
  const code = reason.charCodeAt(end - 1)
  return `${reason.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end)}…`
}

/**
 * The report of a backup: every reason (cut to `maxReasonLength`) while they fit, then one saying how many more the
 * manifest holds.
 */
export const backupCreateReportOf = (id: string, verdict: "consistent" | "dirty", reasons: ReadonlyArray<string>): BackupCreateReport => {
  const fits = (kept: ReadonlyArray<string>) => Buffer.byteLength(JSON.stringify({ id, verdict, reasons: kept }), "utf8") <= maxReportBytes
  const moreLine = (n: number) => `and ${n} more reasons in backup-manifest.json`
  const kept: Array<string> = []
  for (const [i, reason] of reasons.entries()) {
    const short = cut(reason)
    const after = reasons.length - i - 1
    // Room is kept for the line that says how many more there are.
    if (fits(after === 0 ? [...kept, short] : [...kept, short, moreLine(after)])) kept.push(short)
    else {
      kept.push(moreLine(after + 1))
      break
    }
  }
  return { id, verdict, reasons: kept }
}

export const encodeBackupCreateReport = (report: BackupCreateReport): string => JSON.stringify(report)

const decode = Schema.decodeUnknownResult(BackupCreateReport, { errors: "all" })

export const parseBackupCreateReport = (terminationMessage: string): Result.Result<BackupCreateReport, BackupCreateReportInvalid> =>
  Result.mapError(
    parseTerminationReport(decode, terminationMessage, { report: "backup-create report", writer: "backup-create" }),
    (problem) => new BackupCreateReportInvalid(problem),
  )
