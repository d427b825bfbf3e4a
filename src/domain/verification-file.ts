/**
 * `verification.json`: the JSON report `verify --report-out` leaves in a backup directory, uploaded
 * beside the manifest. backup-upload also records what it vouches for in the manifest it stores (`verification`), where
 * `list` and retention read it first; the file stays the full report, and the record of a backup whose signed
 * manifest the upload could not re-sign. Only what that decision needs is read here (the
 * full report's Schema is verify's own); anything else, a report of another backup included, means
 * "not verified".
 */
import { Result, Schema } from "effect"
import type { ManifestVerification } from "./backup-manifest.ts"

export const verificationFileName = "verification.json"

/** How a backup was verified: every check (`Full`), or also restored into a throwaway etcd (`TestRestore`). */
export type VerifiedMode = "Full" | "TestRestore"

/** The check id verify reports for the restore into a throwaway etcd. */
export const testRestoreCheckId = "test-restore"

const RecordedReport = Schema.fromJsonString(
  Schema.Struct({
    timestamp: Schema.NullOr(Schema.String),
    passed: Schema.Boolean,
    checks: Schema.Array(Schema.Struct({ id: Schema.String, verdict: Schema.String })),
  }),
)
const decodeRecorded = Schema.decodeUnknownResult(RecordedReport)

/**
 * What a verification report vouches for `timestamp`'s backup: the mode and the ids of its checks; undefined when it is
 * not a report, names another backup, or any check did not pass (a skipped check is not a pass; a warning, such as an
 * unauthenticated backup's, is).
 */
export const verificationOf = (text: string, timestamp: string | undefined): ManifestVerification | undefined => {
  const decoded = decodeRecorded(text)
  if (Result.isFailure(decoded)) return undefined
  const r = decoded.success
  if (!r.passed || r.checks.length === 0 || r.checks.some((c) => (c.verdict !== "PASS" && c.verdict !== "WARN") || c.id === "")) return undefined
  if (timestamp !== undefined && r.timestamp !== timestamp) return undefined
  return { mode: r.checks.some((c) => c.id === testRestoreCheckId) ? "TestRestore" : "Full", checks: r.checks.map((c) => c.id) }
}

/** The mode a verification report vouches for `timestamp`'s backup with (see `verificationOf`). */
export const verifiedMode = (text: string, timestamp: string | undefined): VerifiedMode | undefined => verificationOf(text, timestamp)?.mode
