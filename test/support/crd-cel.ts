/**
 * What the API server does to a custom resource beyond the structural schema (kube-openapi-validator.ts):
 * applies `default`s to absent fields, then evaluates every `x-kubernetes-validations` CEL rule with
 * `self` bound to the value at the rule's place (rules on absent fields are skipped, as upstream does).
 * CEL by @marcbachmann/cel-js: the standard library plus `matches`, not Kubernetes' extension libraries.
 */
import { evaluate, parse } from "@marcbachmann/cel-js"
import type { OpenApiSchema } from "./kube-openapi-validator.ts"

export interface CelRule {
  readonly rule: string
  readonly message?: string
}
type CelSchema = OpenApiSchema & {
  readonly default?: unknown
  readonly "x-kubernetes-validations"?: ReadonlyArray<CelRule>
  readonly properties?: Readonly<Record<string, CelSchema>>
  readonly items?: CelSchema
  readonly additionalProperties?: boolean | CelSchema
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** `value` with every absent property that has a `default` filled in, recursively (a copy). */
export const withDefaults = (schema: CelSchema, value: unknown): unknown => {
  if (Array.isArray(value)) return schema.items === undefined ? value : value.map((v) => withDefaults(schema.items!, v))
  if (!isObject(value)) return value
  const out: Record<string, unknown> = { ...value }
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && child.default !== undefined) out[key] = structuredClone(child.default)
    if (out[key] !== undefined) out[key] = withDefaults(child, out[key])
  }
  return out
}

/** Every rule in the schema with the path it sits at. */
export const celRules = (schema: CelSchema, path = "$"): ReadonlyArray<{ readonly path: string; readonly rule: CelRule }> => [
  ...(schema["x-kubernetes-validations"] ?? []).map((rule) => ({ path, rule })),
  ...Object.entries(schema.properties ?? {}).flatMap(([k, child]) => celRules(child, `${path}.${k}`)),
  ...(schema.items === undefined ? [] : celRules(schema.items, `${path}[]`)),
]

/** Rules that do not parse, as `path: rule: error` lines. */
export const celSyntaxProblems = (schema: CelSchema): ReadonlyArray<string> =>
  celRules(schema).flatMap(({ path, rule }) => {
    try {
      parse(rule.rule)
      return []
    } catch (e) {
      return [`${path}: ${rule.rule}: ${String(e)}`]
    }
  })

/** The messages of the rules `value` (defaults applied by the caller) breaks, as `path: message` lines. */
export const celProblems = (schema: CelSchema, value: unknown, path = "$"): ReadonlyArray<string> => {
  if (value === undefined) return []
  const own = (schema["x-kubernetes-validations"] ?? []).flatMap((r) => (evaluate(r.rule, { self: value }) === true ? [] : [`${path}: ${r.message ?? r.rule}`]))
  const children = Array.isArray(value)
    ? schema.items === undefined
      ? []
      : value.flatMap((v, i) => celProblems(schema.items!, v, `${path}[${i}]`))
    : isObject(value)
      ? Object.entries(schema.properties ?? {}).flatMap(([k, child]) => celProblems(child, value[k], `${path}.${k}`))
      : []
  return [...own, ...children]
}
