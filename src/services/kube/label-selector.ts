/**
 * Kubernetes label selectors (the `labelSelector` query parameter): parse, match, format.
 * Supported: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists), `!a` (absent).
 * As in the API, `!=` and `notin` also match objects that lack the label.
 */
import { Result } from "effect"

export type Requirement =
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: ReadonlyArray<string> }
  | { readonly key: string; readonly op: "exists" | "!exists" }

export type LabelSelector = ReadonlyArray<Requirement>

// Qualified name with optional DNS prefix (as label keys), and label values (possibly empty).
const keyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const valuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

export const isValidLabelKey = (key: string): boolean => key.length <= 317 && keyPattern.test(key)
export const isValidLabelValue = (value: string): boolean => value.length <= 63 && valuePattern.test(value)

/** Splits on commas that are not inside parentheses. */
const splitTerms = (selector: string): Array<string> => {
  const terms: Array<string> = []
  let depth = 0
  let start = 0
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i]
    if (c === "(") depth++
    else if (c === ")") depth--
    else if (c === "," && depth === 0) {
      terms.push(selector.slice(start, i))
      start = i + 1
    }
  }
  terms.push(selector.slice(start))
  return terms.map((t) => t.trim())
}

const parseTerm = (term: string): Result.Result<Requirement, string> => {
  const checkKey = (key: string) => (isValidLabelKey(key) ? undefined : `invalid label key "${key}"`)
  const checkValues = (values: ReadonlyArray<string>) => values.find((v) => !isValidLabelValue(v))
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term)
  if (set !== null) {
    const [, key = "", op, list = ""] = set
    const values = list.split(",").map((v) => v.trim())
    const keyError = checkKey(key)
    if (keyError !== undefined) return Result.fail(keyError)
    const bad = checkValues(values)
    if (bad !== undefined) return Result.fail(`invalid label value "${bad}"`)
    return Result.succeed({ key, op: op === "in" ? "in" : "notin", values })
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)
  if (eq !== null) {
    const [, key = "", op, value = ""] = eq
    const keyError = checkKey(key)
    if (keyError !== undefined) return Result.fail(keyError)
    if (!isValidLabelValue(value)) return Result.fail(`invalid label value "${value}"`)
    return Result.succeed({ key, op: op === "!=" ? "notin" : "in", values: [value] })
  }
  const absent = /^!\s*(\S+)$/.exec(term)
  if (absent !== null) {
    const key = absent[1] ?? ""
    const keyError = checkKey(key)
    return keyError === undefined ? Result.succeed({ key, op: "!exists" }) : Result.fail(keyError)
  }
  const keyError = checkKey(term)
  return keyError === undefined ? Result.succeed({ key: term, op: "exists" }) : Result.fail(keyError)
}

/** Parses a selector string; the empty string selects everything. Errors say which term is wrong. */
export const parseLabelSelector = (selector: string): Result.Result<LabelSelector, string> => {
  if (selector.trim() === "") return Result.succeed([])
  const out: Array<Requirement> = []
  for (const term of splitTerms(selector)) {
    if (term === "") return Result.fail(`unable to parse label selector "${selector}": empty requirement`)
    const parsed = parseTerm(term)
    if (Result.isFailure(parsed)) {
      return Result.fail(`unable to parse label selector "${selector}": ${parsed.failure} in "${term}"`)
    }
    out.push(parsed.success)
  }
  return Result.succeed(out)
}

const satisfies = (r: Requirement, value: string | undefined): boolean => {
  switch (r.op) {
    case "exists":
      return value !== undefined
    case "!exists":
      return value === undefined
    case "in":
      return value !== undefined && r.values.includes(value)
    case "notin":
      return value === undefined || !r.values.includes(value)
  }
}

/** Whether labels satisfy every requirement. */
export const matchesLabelSelector = (selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean =>
  selector.every((r) => satisfies(r, labels?.[r.key]))

const formatRequirement = (r: Requirement): string => {
  switch (r.op) {
    case "exists":
      return r.key
    case "!exists":
      return `!${r.key}`
    case "in":
      return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(",")})`
    case "notin":
      return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(",")})`
  }
}

/** The canonical string of a selector (`a=b`, `a!=b`, `a in (x,y)`, `a`, `!a`). */
export const formatLabelSelector = (selector: LabelSelector): string => selector.map(formatRequirement).join(",")

/** An equality selector matching every given label (`a=1,b=2`, keys sorted). */
export const selectorForLabels = (labels: Readonly<Record<string, string>>): string =>
  formatLabelSelector(
    Object.keys(labels)
      .sort()
      .map((key) => ({ key, op: "in", values: [labels[key] ?? ""] })),
  )
