/**
 * One byte form per value: object keys in a fixed order, so that serialising the same data always
 * gives the same bytes (hashes and "nothing changed" checks depend on it).
 */

import { setOwn } from "./own-property.ts"

export type Json = string | number | boolean | null | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * A copy of `value` whose object keys are ordered: first those named in `keyOrder` (in that
 * order), then the rest by code-unit order. `undefined` properties are dropped, like JSON does.
 */
export const canonicalize = (value: unknown, keyOrder: ReadonlyArray<string> = []): Json => {
  const rank = new Map(keyOrder.map((key, i) => [key, i] as const))
  const compare = (a: string, b: string): number => {
    const ra = rank.get(a)
    const rb = rank.get(b)
    if (ra !== undefined || rb !== undefined) return (ra ?? Infinity) - (rb ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0)
    return a < b ? -1 : a > b ? 1 : 0
  }
  const go = (v: unknown): Json => {
    if (Array.isArray(v)) return v.map(go)
    if (v !== null && typeof v === "object") {
      const out: Record<string, Json> = {}
      for (const key of Object.keys(v).sort(compare)) {
        const child = (v as Record<string, unknown>)[key]
        if (child !== undefined) setOwn(out, key, go(child))
      }
      return out
    }
    return v as Json
  }
  return go(value)
}

/** Pretty JSON (2-space indent, trailing newline) of `canonicalize(value, keyOrder)`. */
export const canonicalJson = (value: unknown, keyOrder: ReadonlyArray<string> = []): string => `${JSON.stringify(canonicalize(value, keyOrder), null, 2)}\n`
