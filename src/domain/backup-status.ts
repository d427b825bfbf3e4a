/**
 * The `backup-status` ConfigMap's `data`: what the controller last rendered and how the backup of it
 * went. Decoding accepts the shape OpenShift's seed writes (`status`, and `revisions` as a YAML list
 * of single-key maps with quoted or unquoted numbers); encoding writes one canonical form.
 * Content a person or another tool broke is an error value naming the key, never an exception.
 */
import { Result, Schema } from "effect"
import { defaultOperands, operandList, type OperandName, type OperandTable } from "./operands.ts"
import { maxRevision, RevisionSet, type Revision } from "./revisions.ts"
import { formatRfc3339Utc, isRfc3339Millis, parseRfc3339Utc } from "./rfc3339.ts"
import { parseYamlText } from "./yaml-text.ts"

export const backupStatusConfigMapName = "backup-status"

/** `Pending`: a pod spec was rendered and no backup of it has finished; `Complete`/`Failed`: how the last one ended. */
export const BackupPhase = Schema.Literals(["Pending", "Complete", "Failed"])
export type BackupPhase = typeof BackupPhase.Type

/** An instant as epoch milliseconds that RFC 3339 can write (years 0000-9999). */
export const EpochMillis = Schema.Int.check(Schema.makeFilter((ms: number) => isRfc3339Millis(ms), { expected: "epoch milliseconds within years 0000-9999" }))

export const BackupStatus = Schema.Struct({
  status: BackupPhase,
  /** The revisions of the last rendered pod spec. */
  revisions: RevisionSet,
  /** When that spec was rendered. */
  lastRenderTime: Schema.optionalKey(EpochMillis),
  /** When a backup last finished (Complete or Failed). */
  lastBackupTime: Schema.optionalKey(EpochMillis),
  /** When the newest complete backup finished: kept through later renders and failures, so a restarted operator still knows it. */
  lastCompleteTime: Schema.optionalKey(EpochMillis),
  /** A sentence for people: why it failed, what is pending. */
  message: Schema.optionalKey(Schema.String),
})
export type BackupStatus = typeof BackupStatus.Type

/** The ConfigMap's `data` as Kubernetes holds it. */
export const BackupStatusData = Schema.Record(Schema.String, Schema.String)
export type BackupStatusData = typeof BackupStatusData.Type

/** Data keys, in the order `encodeBackupStatus` writes them. */
export const backupStatusKeys = ["status", "revisions", "lastRenderTime", "lastBackupTime", "lastCompleteTime", "message"] as const

/** `backup-status` data that cannot be read; `key` is the data key at fault, or a path inside `revisions` (`revisions[2].kubeFoo`). */
export class BackupStatusInvalid extends Schema.TaggedError<BackupStatusInvalid>()("BackupStatusInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

const invalid = (key: string, problem: string) =>
  Result.fail(
    new BackupStatusInvalid({
      key,
      message: `ConfigMap ${backupStatusConfigMapName}: ${key} ${problem}. The controller rewrites it on its next render; delete the key (or the ConfigMap) to start over.`,
    }),
  )

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === "object" && !Array.isArray(v)
const decimal = /^[0-9]+$/

const decodeRevisions = (text: string, table: OperandTable): Result.Result<RevisionSet, BackupStatusInvalid> => {
  const parsed = parseYamlText(text, { schema: "failsafe" })
  if (Result.isFailure(parsed)) return invalid("revisions", `is not readable: ${parsed.failure.message}`)
  const list = parsed.success
  const expectedShape = `a YAML list of single-key maps, one per operand (${operandList(table)
    .map((o) => `- ${o.statusKey}: "N"`)
    .join(" ")})`
  if (!Array.isArray(list)) return invalid("revisions", `is not ${expectedShape}`)
  const byKey = new Map(operandList(table).map((o) => [o.statusKey, o.name] as const))
  const set: Partial<Record<OperandName, Revision>> = {}
  for (const [i, item] of list.entries()) {
    const keys = isRecord(item) ? Object.keys(item) : []
    if (keys.length !== 1) return invalid(`revisions[${i}]`, `is not a single-key map; expected ${expectedShape}`)
    const key = keys[0]!
    const operand = byKey.get(key)
    if (operand === undefined) {
      return invalid(`revisions[${i}].${key}`, `is not an operand key (one of ${[...byKey.keys()].join(", ")})`)
    }
    if (set[operand] !== undefined) return invalid(`revisions[${i}].${key}`, "repeats an operand already listed")
    const value = (item as Record<string, unknown>)[key]
    const n = typeof value === "string" && decimal.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < 1 || n > maxRevision) {
      return invalid(`revisions[${i}].${key}`, `is ${typeof value === "string" ? `"${value}"` : "not a scalar"}; expected a revision from 1 to ${maxRevision}`)
    }
    set[operand] = n
  }
  const missing = operandList(table).filter((o) => set[o.name] === undefined)
  if (missing.length > 0) return invalid("revisions", `has no revision for ${missing.map((o) => o.statusKey).join(", ")}`)
  return Result.succeed(set as RevisionSet)
}

const decodeTime = (key: string, value: string): Result.Result<number, BackupStatusInvalid> => {
  const ms = parseRfc3339Utc(value)
  return ms === undefined ? invalid(key, `is "${value}"; expected an RFC 3339 UTC time such as 2024-05-01T12:00:00Z`) : Result.succeed(ms)
}

/**
 * Reads the ConfigMap's `data` (unknown, as fetched). Keys other than `backupStatusKeys` are
 * ignored, so a newer controller's additions do not stop an older one.
 */
export const decodeBackupStatus = (data: unknown, table: OperandTable = defaultOperands): Result.Result<BackupStatus, BackupStatusInvalid> => {
  if (!isRecord(data)) return invalid("data", "is missing or not a map of strings")
  for (const key of backupStatusKeys) {
    if (data[key] !== undefined && typeof data[key] !== "string") return invalid(key, "is not a string")
  }
  const { status, revisions, lastRenderTime, lastBackupTime, lastCompleteTime, message } = data as Readonly<Partial<Record<string, string>>>
  if (status === undefined) return invalid("status", "is missing")
  if (!Schema.is(BackupPhase)(status)) return invalid("status", `is "${status}"; expected Pending, Complete or Failed`)
  if (revisions === undefined) return invalid("revisions", "is missing")
  const decodedRevisions = decodeRevisions(revisions, table)
  if (Result.isFailure(decodedRevisions)) return Result.fail(decodedRevisions.failure)
  let result: BackupStatus = { status, revisions: decodedRevisions.success }
  if (lastRenderTime !== undefined) {
    const t = decodeTime("lastRenderTime", lastRenderTime)
    if (Result.isFailure(t)) return Result.fail(t.failure)
    result = { ...result, lastRenderTime: t.success }
  }
  if (lastBackupTime !== undefined) {
    const t = decodeTime("lastBackupTime", lastBackupTime)
    if (Result.isFailure(t)) return Result.fail(t.failure)
    result = { ...result, lastBackupTime: t.success }
  }
  if (lastCompleteTime !== undefined) {
    const t = decodeTime("lastCompleteTime", lastCompleteTime)
    if (Result.isFailure(t)) return Result.fail(t.failure)
    result = { ...result, lastCompleteTime: t.success }
  }
  if (message !== undefined) result = { ...result, message }
  return Result.succeed(result)
}

/** The `revisions` value: `- etcd: "3"` lines in operand order, with a trailing newline. */
export const encodeStatusRevisions = (revisions: RevisionSet, table: OperandTable = defaultOperands): string =>
  operandList(table)
    .map((o) => `- ${o.statusKey}: "${revisions[o.name]}"\n`)
    .join("")

/** The canonical `data` of a status: keys in `backupStatusKeys` order, absent fields omitted. */
export const encodeBackupStatus = (status: BackupStatus, table: OperandTable = defaultOperands): BackupStatusData => ({
  status: status.status,
  revisions: encodeStatusRevisions(status.revisions, table),
  ...(status.lastRenderTime === undefined ? {} : { lastRenderTime: formatRfc3339Utc(status.lastRenderTime) }),
  ...(status.lastBackupTime === undefined ? {} : { lastBackupTime: formatRfc3339Utc(status.lastBackupTime) }),
  ...(status.lastCompleteTime === undefined ? {} : { lastCompleteTime: formatRfc3339Utc(status.lastCompleteTime) }),
  ...(status.message === undefined ? {} : { message: status.message }),
})

/**
 * When the newest complete backup finished, as far as the status tells: `lastCompleteTime`, else (a status written
 * before that key, or OpenShift's seed) `lastBackupTime` of a Complete status.
 */
export const lastCompleteTimeOf = (status: BackupStatus): number | undefined =>
  status.lastCompleteTime ?? (status.status === "Complete" ? status.lastBackupTime : undefined)
