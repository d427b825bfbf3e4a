/**
 * The JSON wire form the simulated cluster stores, and the accessors its object store and watch
 * log share. Malformed fields read as absent: validation is the API's job, not the accessors'.
 */
import { isJsonObject } from "../services/kube/merge-patch.ts"
import type { ResourceType } from "../services/kube/resources.ts"

export type Obj = Record<string, unknown>

/** Objects of one resource type live under one key: `<group>/<plural>`. */
export const typeKey = (type: ResourceType): string => `${type.group}/${type.resource}`
export const objectKey = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`
/** A cluster-scoped type has no namespace, whatever the request says. */
export const scopeOf = (type: ResourceType, namespace: string | undefined): string | undefined => (type.namespaced ? namespace : undefined)

export const metaOf = (obj: Obj): Obj => (isJsonObject(obj.metadata) ? (obj.metadata as Obj) : {})
export const labelsOf = (obj: Obj): Record<string, string> | undefined => {
  const labels = metaOf(obj).labels
  return isJsonObject(labels) ? (labels as Record<string, string>) : undefined
}
/** A non-empty string field, or undefined. */
export const stringField = (obj: Obj, key: string): string | undefined => {
  const value = obj[key]
  return typeof value === "string" && value !== "" ? value : undefined
}
export const clone = <A>(value: A): A => structuredClone(value)
/** The API's timestamps: RFC 3339 in UTC, whole seconds. */
export const apiTime = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z")
