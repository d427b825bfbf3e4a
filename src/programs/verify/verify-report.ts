/**
 * The result of `cluster-backup verify`: one line per check with its verdict, what was expected
 * and what was found. `SKIP` marks a check that could not run because an earlier one failed (a
 * skipped check is not a pass); `WARN` one that did not fail but could not vouch for the backup
 * (an unauthenticated backup: no --trusted-key). The JSON form is a Schema, so scripts can decode it.
 */
import { Schema } from "effect"

export const CheckVerdict = Schema.Literals(["PASS", "WARN", "FAIL", "SKIP"])
export type CheckVerdict = typeof CheckVerdict.Type

export const VerifyCheck = Schema.Struct({
  /** Stable identifier (`snapshot-trailer`, `tarball-operands`, ...). */
  id: Schema.String,
  /** What the check proves, in words. */
  title: Schema.String,
  verdict: CheckVerdict,
  expected: Schema.String,
  found: Schema.String,
})
export type VerifyCheck = typeof VerifyCheck.Type

export const VerifyReport = Schema.Struct({
  backupDir: Schema.String,
  /** The backup's timestamp, `null` when no backup could be selected. */
  timestamp: Schema.NullOr(Schema.String),
  snapshot: Schema.NullOr(Schema.String),
  resources: Schema.NullOr(Schema.String),
  /** True iff every check passed (or warned). */
  passed: Schema.Boolean,
  checks: Schema.Array(VerifyCheck),
})
export type VerifyReport = typeof VerifyReport.Type

export const pass = (id: string, title: string, expected: string, found: string): VerifyCheck => ({ id, title, verdict: "PASS", expected, found })
export const fail = (id: string, title: string, expected: string, found: string): VerifyCheck => ({ id, title, verdict: "FAIL", expected, found })
export const warn = (id: string, title: string, expected: string, found: string): VerifyCheck => ({ id, title, verdict: "WARN", expected, found })
export const skip = (id: string, title: string, why: string): VerifyCheck => ({ id, title, verdict: "SKIP", expected: "", found: `not checked: ${why}` })

/** PASS when `ok`, else FAIL, with the same words. */
export const verdictOf = (ok: boolean, id: string, title: string, expected: string, found: string): VerifyCheck =>
  ok ? pass(id, title, expected, found) : fail(id, title, expected, found)

/** A warning does not fail the backup. */
export const checkPassed = (c: VerifyCheck): boolean => c.verdict === "PASS" || c.verdict === "WARN"

export const failedChecks = (checks: ReadonlyArray<VerifyCheck>): ReadonlyArray<VerifyCheck> => checks.filter((c) => !checkPassed(c))

/**
 * No check found the backup wrong, yet some could not run (a test restore without room in its scratch
 * directory): the backup is neither vouched for nor blamed.
 */
export const isIncomplete = (checks: ReadonlyArray<VerifyCheck>): boolean => {
  const failed = failedChecks(checks)
  return failed.length > 0 && failed.every((c) => c.verdict === "SKIP")
}

/** One check in a sentence: `snapshot-trailer FAIL (expected ...; found ...)`. */
export const describeCheck = (c: VerifyCheck): string =>
  c.verdict === "SKIP" ? `${c.id} SKIP (${c.found})` : `${c.id} ${c.verdict} (expected ${c.expected}; found ${c.found})`

/** The report as text: one line per check, then a summary line (ends with a newline). */
export const renderVerifyReport = (report: VerifyReport): string => {
  const width = Math.max(0, ...report.checks.map((c) => c.id.length))
  const lines = [
    `backup ${report.timestamp ?? "(none)"} in ${report.backupDir}` +
      (report.snapshot === null ? "" : `: ${report.snapshot}, ${report.resources ?? "(no tarball)"}`),
    ...report.checks.map(
      (c) => `${c.verdict} ${c.id.padEnd(width)}  ${c.title}: ${c.verdict === "SKIP" ? c.found : `expected ${c.expected}; found ${c.found}`}`,
    ),
  ]
  const failed = failedChecks(report.checks)
  const ids = failed.map((c) => c.id).join(", ")
  lines.push(
    failed.length === 0
      ? `verify: PASS (${report.checks.length} checks)`
      : isIncomplete(report.checks)
        ? `verify: INCOMPLETE (${failed.length} of ${report.checks.length} checks could not run: ${ids}; none failed)`
        : `verify: FAIL (${failed.length} of ${report.checks.length} checks did not pass: ${ids})`,
  )
  return `${lines.join("\n")}\n`
}

/** The report as one JSON document (ends with a newline). */
export const encodeVerifyReport = (report: VerifyReport): string => `${JSON.stringify(report, null, 2)}\n`

export const decodeVerifyReport = Schema.decodeUnknownResult(Schema.fromJsonString(VerifyReport))
