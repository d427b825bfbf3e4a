/**
 * Turns a Schema decoding failure into `{ key, message }` pairs that name the offending key the way
 * a person writes it in a file (`operands.etcd.configMaps[0].name`), for the project's tagged errors.
 */
import { SchemaIssue, type Schema } from "effect"

export interface KeyedProblem {
  /** Dotted path of the offending key; `""` for the document itself. */
  readonly key: string
  readonly message: string
}

const plainSegment = /^[A-Za-z_][-A-Za-z0-9_]*$/

/** `["a", 0, "b-c", "x.y"]` -> `a[0].b-c["x.y"]`. */
export const formatKeyPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, segment) => {
    if (typeof segment === "number") return `${acc}[${segment}]`
    const text = String(segment)
    if (plainSegment.test(text)) return acc === "" ? text : `${acc}.${text}`
    return `${acc}[${JSON.stringify(text)}]`
  }, "")

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Every problem of a decoding failure, in the order Schema reports them (never empty). */
export const keyedProblems = (error: Schema.SchemaError): ReadonlyArray<KeyedProblem> => {
  const issues = formatter(error.issue).issues
  if (issues.length === 0) return [{ key: "", message: error.message }]
  return issues.map((issue) => ({
    key: formatKeyPath((issue.path ?? []).map((p) => (typeof p === "object" ? p.key : p))),
    message: issue.message,
  }))
}

/**
 * The first problem of a decoding failure, its message phrased to follow the key
 * (`operands.etcd2 is not a known key`, `status is missing`, `size is invalid: Expected an integer`).
 */
export const firstKeyedProblem = (error: Schema.SchemaError): KeyedProblem => {
  const { key, message } = keyedProblems(error)[0]!
  const problem = message === "Expected no excess property" ? "is not a known key" : message === "Missing key" ? "is missing" : `is invalid: ${message}`
  return { key, message: problem }
}
