/**
 * Revisions of the four operands: `RevisionSet` maps each operand to a revision number
 * (a positive int32, as `status.latestAvailableRevision` of its operator CR); reading it from the
 * CRs, comparing two sets, and the `--revisions` flag that names one.
 */
import { Result, Schema } from "effect"
import { defaultOperands, OperandName, operandNames, operatorCrName, operatorGroup, type OperandTable } from "./operands.ts"

/** A revision number: positive int32. */
export const Revision = Schema.Int.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(2_147_483_647))
export type Revision = typeof Revision.Type

export const RevisionSet = Schema.Struct({
  etcd: Revision,
  "kube-apiserver": Revision,
  "kube-controller-manager": Revision,
  "kube-scheduler": Revision,
})
/** One revision per operand. */
export type RevisionSet = typeof RevisionSet.Type

/** `etcd=3,kube-apiserver=7,...` in the fixed operand order (for logs, labels, messages). */
export const formatRevisionSet = (set: RevisionSet): string => operandNames.map((name: OperandName) => `${name}=${set[name]}`).join(",")

/** Largest revision an int32 field can hold. */
export const maxRevision = 2_147_483_647

/** Whether two sets name the same revision for every operand. */
export const revisionSetsEqual = (a: RevisionSet, b: RevisionSet): boolean => operandNames.every((name) => a[name] === b[name])

// ---------------------------------------------------------------------------------------------
// status.latestAvailableRevision of an operator CR

const crFields = {
  operand: OperandName,
  /** The CR as `<plural>.<group>/<name>`, e.g. `etcds.operator.openshift.io/cluster`. */
  cr: Schema.String,
  message: Schema.String,
}

/** The CR itself does not exist (deleted, or never created). */
export class OperatorCrMissing extends Schema.TaggedError<OperatorCrMissing>()("OperatorCrMissing", crFields) {}
/** The CR has no `status.latestAvailableRevision` (or no status at all): its operator has not reported yet. */
export class LatestRevisionAbsent extends Schema.TaggedError<LatestRevisionAbsent>()("LatestRevisionAbsent", crFields) {}
/** `status.latestAvailableRevision` is 0: no revision of the operand is ready yet. */
export class LatestRevisionZero extends Schema.TaggedError<LatestRevisionZero>()("LatestRevisionZero", crFields) {}
/** `status.latestAvailableRevision` is negative: the CR is corrupt. */
export class LatestRevisionNegative extends Schema.TaggedError<LatestRevisionNegative>()("LatestRevisionNegative", {
  ...crFields,
  found: Schema.Number,
}) {}
/** `status.latestAvailableRevision` is a number but not an int32 (fraction, too large, not finite). */
export class LatestRevisionNotInteger extends Schema.TaggedError<LatestRevisionNotInteger>()("LatestRevisionNotInteger", {
  ...crFields,
  found: Schema.Number,
}) {}
/** `status.latestAvailableRevision` is not a number at all (a string, null, an object, ...). */
export class LatestRevisionNotNumber extends Schema.TaggedError<LatestRevisionNotNumber>()("LatestRevisionNotNumber", {
  ...crFields,
  /** The JSON type found: `string`, `null`, `object`, `array`, `boolean`. */
  foundType: Schema.String,
}) {}

export type LatestRevisionError =
  | OperatorCrMissing
  | LatestRevisionAbsent
  | LatestRevisionZero
  | LatestRevisionNegative
  | LatestRevisionNotInteger
  | LatestRevisionNotNumber

/** `<plural>.<group>/cluster` of an operand's CR, as `oc get` names it. */
export const operandCrReference = (operand: OperandName, table: OperandTable = defaultOperands): string =>
  `${table[operand].plural}.${operatorGroup}/${operatorCrName}`

const jsonType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === "object" && !Array.isArray(v)

/** What is wrong with an operator CR's `status.latestAvailableRevision`, before it is told to a person. */
export type LatestRevisionProblem =
  | { readonly problem: "missing" }
  | { readonly problem: "absent" }
  | { readonly problem: "not-number"; readonly found: unknown }
  | { readonly problem: "not-integer" | "zero" | "negative"; readonly found: number }

/**
 * The one reading of `status.latestAvailableRevision` from an operator CR object (unknown, as
 * read through the API or from etcd; `undefined` when the CR does not exist): a revision, or
 * the problem with it.
 */
export const readLatestAvailableRevision = (cr: unknown): Result.Result<Revision, LatestRevisionProblem> => {
  if (cr === undefined) return Result.fail({ problem: "missing" })
  const status = isRecord(cr) ? cr.status : undefined
  const value = isRecord(status) ? status.latestAvailableRevision : undefined
  if (value === undefined) return Result.fail({ problem: "absent" })
  if (typeof value !== "number") return Result.fail({ problem: "not-number", found: value })
  if (!Number.isInteger(value) || value > maxRevision) return Result.fail({ problem: "not-integer", found: value })
  if (value === 0) return Result.fail({ problem: "zero", found: value })
  if (value < 0) return Result.fail({ problem: "negative", found: value })
  return Result.succeed(value)
}

const latestRevisionError = (operand: OperandName, ref: string, p: LatestRevisionProblem): LatestRevisionError => {
  const where = `${ref} (${operand})`
  const named = { operand, cr: ref }
  switch (p.problem) {
    case "missing":
      return new OperatorCrMissing({
        ...named,
        message: `${where} is missing: the operator CR does not exist (deleted, or not created yet). Check with oc get ${ref}; backups wait until it exists again.`,
      })
    case "absent":
      return new LatestRevisionAbsent({
        ...named,
        message: `${where} has no status.latestAvailableRevision: its operator has not reported a revision yet. Check that the operator runs (oc get ${ref} -o yaml); backups wait until it does.`,
      })
    case "not-number": {
      const foundType = jsonType(p.found)
      return new LatestRevisionNotNumber({
        ...named,
        foundType,
        message: `${where} status.latestAvailableRevision is ${/^[aeiou]/.test(foundType) ? "an" : "a"} ${foundType}, expected a positive integer. The CR is not in the shape this tool knows; check the OpenShift version.`,
      })
    }
    case "not-integer":
      return new LatestRevisionNotInteger({
        ...named,
        found: p.found,
        message: `${where} status.latestAvailableRevision is ${p.found}, expected an integer from 1 to ${maxRevision}. The CR is corrupt; do not back up until its operator repairs it.`,
      })
    case "zero":
      return new LatestRevisionZero({
        ...named,
        message: `${where} status.latestAvailableRevision is 0: no revision is ready yet (the cluster is still installing). Backups wait for revision 1.`,
      })
    case "negative":
      return new LatestRevisionNegative({
        ...named,
        found: p.found,
        message: `${where} status.latestAvailableRevision is ${p.found}, expected a positive integer. The CR is corrupt; do not back up until its operator repairs it.`,
      })
  }
}

/**
 * `status.latestAvailableRevision` of an operator CR object (as read from the API: unknown;
 * `undefined` when the CR does not exist). Every way it can be unusable is a distinct error
 * naming the operand and the CR.
 */
export const decodeLatestAvailableRevision = (
  operand: OperandName,
  cr: unknown,
  table: OperandTable = defaultOperands,
): Result.Result<Revision, LatestRevisionError> =>
  Result.mapError(readLatestAvailableRevision(cr), (p) => latestRevisionError(operand, operandCrReference(operand, table), p))

/**
 * The observed `RevisionSet` from the four CR objects (unknown; `undefined` when a CR is missing).
 * Fails with every operand's error, in operand order, so one report names all of them.
 */
export const decodeObservedRevisions = (
  crs: Readonly<Record<OperandName, unknown>>,
  table: OperandTable = defaultOperands,
): Result.Result<RevisionSet, ReadonlyArray<LatestRevisionError>> => {
  const errors: Array<LatestRevisionError> = []
  const set: Partial<Record<OperandName, Revision>> = {}
  for (const name of operandNames) {
    const r = decodeLatestAvailableRevision(name, crs[name], table)
    if (Result.isSuccess(r)) set[name] = r.success
    else errors.push(r.failure)
  }
  return errors.length > 0 ? Result.fail(errors) : Result.succeed(set as RevisionSet)
}

// ---------------------------------------------------------------------------------------------
// Differences

/** One operand whose revision moved (`from` is `undefined` when nothing was backed up before). */
export interface RevisionChange {
  readonly operand: OperandName
  readonly from: Revision | undefined
  readonly to: Revision
}

/** The operands whose revision in `observed` differs from `last`, in operand order; empty iff the sets are equal. */
export const diffRevisions = (observed: RevisionSet, last: RevisionSet | undefined): ReadonlyArray<RevisionChange> =>
  operandNames
    .filter((operand) => last === undefined || last[operand] !== observed[operand])
    .map((operand) => ({ operand, from: last?.[operand], to: observed[operand] }))

/** `kube-apiserver 6 -> 7`, `etcd (none) -> 3`. */
export const formatRevisionChange = (change: RevisionChange): string =>
  `${change.operand} ${change.from === undefined ? "(none)" : change.from} -> ${change.to}`

// ---------------------------------------------------------------------------------------------
// --revisions etcd=3,kube-apiserver=7,...

export type RevisionsFlagProblem = "empty" | "malformed-item" | "unknown-operand" | "duplicate-operand" | "not-a-revision" | "missing-operand"

/** A `--revisions` value that does not name exactly one revision per operand. */
export class RevisionsFlagInvalid extends Schema.TaggedError<RevisionsFlagInvalid>()("RevisionsFlagInvalid", {
  problem: Schema.Literals(["empty", "malformed-item", "unknown-operand", "duplicate-operand", "not-a-revision", "missing-operand"]),
  /** The item or operand at fault (`etcd=x`, `kube-foo`, `kube-scheduler`); `""` for an empty value. */
  item: Schema.String,
  message: Schema.String,
}) {}

const flagExample = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
const decimal = /^[0-9]+$/

/**
 * Parses `etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7` (any order, blanks
 * around items ignored): every operand exactly once, each with a revision from 1 to 2147483647.
 * Inverse of `formatRevisionSet`.
 */
export const parseRevisionsFlag = (text: string): Result.Result<RevisionSet, RevisionsFlagInvalid> => {
  const fail = (problem: RevisionsFlagProblem, item: string, what: string) =>
    Result.fail(new RevisionsFlagInvalid({ problem, item, message: `--revisions: ${what}; expected e.g. ${flagExample}` }))
  if (text.trim() === "") return fail("empty", "", "the value is empty")
  const set: Partial<Record<OperandName, Revision>> = {}
  for (const raw of text.split(",")) {
    const item = raw.trim()
    const eq = item.indexOf("=")
    if (eq < 0) return fail("malformed-item", item, `"${item}" is not <operand>=<revision>`)
    const name = item.slice(0, eq).trim()
    const value = item.slice(eq + 1).trim()
    if (!Schema.is(OperandName)(name)) {
      return fail("unknown-operand", name, `"${name}" is not an operand (one of ${operandNames.join(", ")})`)
    }
    if (set[name] !== undefined) return fail("duplicate-operand", name, `${name} is given more than once`)
    const n = decimal.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < 1 || n > maxRevision) {
      return fail("not-a-revision", item, `${name}'s revision "${value}" is not a whole number from 1 to ${maxRevision}`)
    }
    set[name] = n
  }
  const missing = operandNames.filter((name) => set[name] === undefined)
  if (missing.length > 0) return fail("missing-operand", missing[0]!, `no revision for ${missing.join(", ")}`)
  return Result.succeed(set as RevisionSet)
}
