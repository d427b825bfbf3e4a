/**
 * A structural validator for the subset of OpenAPI v3 that CRD schemas use: type, properties,
 * required, items, enum, format (int32, int64, date-time, uuid, byte), minimum/maximum,
 * minLength/maxLength, pattern, minItems/maxItems, additionalProperties, nullable,
 * x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string and list-type map/set
 * uniqueness. An object with declared `properties` rejects undeclared fields (the API server
 * would prune them silently, losing data). CEL rules (x-kubernetes-validations) are not evaluated.
 */
import { readFileSync } from "node:fs"
import { parse } from "yaml"

export interface OpenApiSchema {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  readonly properties?: Readonly<Record<string, OpenApiSchema>>
  readonly required?: ReadonlyArray<string>
  readonly items?: OpenApiSchema
  readonly enum?: ReadonlyArray<unknown>
  readonly format?: string
  readonly minimum?: number
  readonly maximum?: number
  readonly minLength?: number
  readonly maxLength?: number
  readonly pattern?: string
  readonly minItems?: number
  readonly maxItems?: number
  readonly additionalProperties?: boolean | OpenApiSchema
  readonly nullable?: boolean
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean
  readonly "x-kubernetes-int-or-string"?: boolean
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map"
  readonly "x-kubernetes-list-map-keys"?: ReadonlyArray<string>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const typeOf = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value)

const checkFormat = (format: string, value: unknown): string | undefined => {
  if (format === "int32" && typeof value === "number" && (value < -(2 ** 31) || value > 2 ** 31 - 1)) return "out of int32 range"
  if (format === "int64" && typeof value === "number" && !Number.isSafeInteger(value)) return "not a safe int64"
  if (format === "date-time" && typeof value === "string" && !rfc3339.test(value)) return "not an RFC 3339 date-time"
  if (format === "uuid" && typeof value === "string" && !uuid.test(value)) return "not a UUID"
  if (format === "byte" && typeof value === "string" && !base64.test(value)) return "not base64"
  return undefined
}

/** Every violation of `schema` by `value`, as `path: problem` lines; empty when valid. */
export const openApiProblems = (schema: OpenApiSchema, value: unknown, path = "$"): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const report = (problem: string, at = path) => problems.push(`${at}: ${problem}`)
  if (value === null) {
    if (schema.nullable !== true) report("null is not allowed")
    return problems
  }
  if (schema["x-kubernetes-int-or-string"] === true) {
    if (!(typeof value === "string" || Number.isInteger(value))) report(`expected an integer or a string, found ${typeOf(value)}`)
    return problems
  }
  const actual = typeOf(value)
  if (schema.type !== undefined) {
    const ok =
      schema.type === actual || (schema.type === "number" && (actual === "integer" || actual === "number")) || (schema.type === "object" && isObject(value))
    if (!ok) {
      report(`expected ${schema.type}, found ${actual}`)
      return problems
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => e === value)) report(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (schema.format !== undefined) {
    const bad = checkFormat(schema.format, value)
    if (bad !== undefined) report(`${JSON.stringify(value)} is ${bad}`)
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) report(`${value} is below the minimum ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) report(`${value} is above the maximum ${schema.maximum}`)
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) report(`shorter than ${schema.minLength}`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength) report(`longer than ${schema.maxLength}`)
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) report(`${JSON.stringify(value)} does not match ${schema.pattern}`)
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) report(`fewer than ${schema.minItems} items`)
    if (schema.maxItems !== undefined && value.length > schema.maxItems) report(`more than ${schema.maxItems} items`)
    if (schema.items !== undefined) for (const [i, item] of value.entries()) problems.push(...openApiProblems(schema.items, item, `${path}[${i}]`))
    const listType = schema["x-kubernetes-list-type"]
    if (listType === "set" || listType === "map") {
      const keys = schema["x-kubernetes-list-map-keys"] ?? []
      const identity = (item: unknown) => JSON.stringify(listType === "map" && isObject(item) ? keys.map((k) => item[k]) : item)
      const seen = new Set<string>()
      for (const item of value) {
        const id = identity(item)
        if (seen.has(id)) report(`duplicate ${listType} entry ${id}`)
        seen.add(id)
      }
    }
  }
  if (isObject(value)) {
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(value, key)) report(`missing required field "${key}"`)
    }
    const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true
    for (const [key, child] of Object.entries(value)) {
      const declared = schema.properties?.[key]
      const at = `${path}.${key}`
      if (declared !== undefined) problems.push(...openApiProblems(declared, child, at))
      else if (isObject(schema.additionalProperties)) problems.push(...openApiProblems(schema.additionalProperties, child, at))
      else if (schema.properties !== undefined && schema.additionalProperties !== true && !preserve) {
        report("unknown field (the API server would prune it)", at)
      }
    }
  }
  return problems
}

/** The openAPIV3Schema of a CRD file for one version (default v1), and the CRD's group and kind. */
export const loadCrdSchema = (
  file: string,
  version = "v1",
): { readonly group: string; readonly kind: string; readonly plural: string; readonly schema: OpenApiSchema } => {
  const crd = parse(readFileSync(file, "utf8")) as {
    spec: {
      group: string
      names: { kind: string; plural: string }
      versions: ReadonlyArray<{ name: string; schema: { openAPIV3Schema: OpenApiSchema } }>
    }
  }
  const entry = crd.spec.versions.find((v) => v.name === version)
  if (entry === undefined) throw new Error(`${file} has no version ${version}`)
  return { group: crd.spec.group, kind: crd.spec.names.kind, plural: crd.spec.names.plural, schema: entry.schema.openAPIV3Schema }
}
