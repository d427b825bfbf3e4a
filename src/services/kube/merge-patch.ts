/**
 * JSON merge patch (RFC 7386), the `application/merge-patch+json` PATCH body: an object patch
 * merges key by key, `null` removes a key, anything else (arrays included) replaces the target.
 */
import { getOwn, setOwn } from "../../domain/own-property.ts"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

export const isJsonObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

/** `target` with `patch` applied (RFC 7386 MergePatch). Neither input is modified. */
export const applyMergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isJsonObject(patch)) return patch
  const result: Record<string, unknown> = isJsonObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else setOwn(result, key, applyMergePatch(getOwn(result, key), value))
  }
  return result
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isJsonObject(a) && isJsonObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

/** Structural equality of JSON values (key order ignored). */
export const jsonEqual = deepEqual

/**
 * The smallest merge patch turning `from` into `to`, or `undefined` when they are equal. Exact
 * for JSON without `null` values in `to` (a merge patch cannot set a key to null).
 */
export const createMergePatch = (from: unknown, to: unknown): unknown => {
  if (deepEqual(from, to)) return undefined
  if (!isJsonObject(from) || !isJsonObject(to)) return to
  const patch: Record<string, unknown> = {}
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) setOwn(patch, key, null)
  }
  for (const [key, value] of Object.entries(to)) {
    if (!Object.hasOwn(from, key)) setOwn(patch, key, value)
    else {
      const sub = createMergePatch(from[key], value)
      if (sub !== undefined) setOwn(patch, key, sub)
    }
  }
  return patch
}
