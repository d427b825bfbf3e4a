/**
 * How many etcd keys each resource prefix holds, and whether a restored member holds the same:
 * a snapshot that silently lost data fails here although it restores and starts.
 *
 * A key's prefix is its first two path segments (`/kubernetes.io/secrets/`), or three when the
 * second names an API group, which always holds a dot (`/kubernetes.io/operator.openshift.io/etcds/`:
 * custom resources are stored under `<prefix>/<group>/<resource>/`, built-in ones under
 * `<prefix>/<resource>/`). A key outside that layout (`compact_rev_key`) counts under itself.
 */
import { Schema } from "effect"

/** Keys per prefix, as the manifest records them. */
export const KeyCounts = Schema.Record(Schema.String, Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
export type KeyCounts = typeof KeyCounts.Type

/**
 * The prefix a key is counted under. Given the API server's `--etcd-prefix` of several segments (`/a/b`), that
 * prefix stands as the first segment (`/a/b/secrets/`), as `/kubernetes.io` does.
 */
export const keyPrefix = (key: string, etcdPrefix?: string): string => {
  if (etcdPrefix !== undefined && etcdPrefix.lastIndexOf("/") > 0 && (key === etcdPrefix || key.startsWith(`${etcdPrefix}/`))) {
    const inner = keyPrefix(`/p${key.slice(etcdPrefix.length)}`)
    return inner.endsWith("/") ? `${etcdPrefix}${inner.slice(2)}` : key
  }
  const segments = key.split("/")
  // "/a/b/c" splits to ["", "a", "b", "c"]
  if (segments[0] !== "" || segments.length < 4 || segments[1] === "" || segments[2] === "") return key
  const depth = segments[2]!.includes(".") && segments.length >= 5 && segments[3] !== "" ? 4 : 3
  return `${segments.slice(0, depth).join("/")}/`
}

/** Counts keys by prefix (`etcdPrefix`: as `keyPrefix`). */
export const countKeysByPrefix = (keys: Iterable<string>, etcdPrefix?: string): KeyCounts => {
  const counts = new Map<string, number>()
  for (const key of keys) {
    const prefix = keyPrefix(key, etcdPrefix)
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1)
  }
  return Object.fromEntries(counts)
}

export interface KeyCountDifference {
  readonly prefix: string
  readonly expected: number
  readonly found: number
}

export interface KeyCountComparison {
  readonly verdict: "PASS" | "FAIL"
  readonly expectedTotal: number
  readonly foundTotal: number
  readonly differences: ReadonlyArray<KeyCountDifference>
  readonly message: string
}

const total = (counts: KeyCounts) => Object.values(counts).reduce((a, b) => a + b, 0)

/**
 * Compares the counts recorded at backup time with a restored member's. Every prefix must hold
 * exactly as many keys: fewer means lost data, more means the snapshot is not the one recorded.
 */
export const compareKeyCounts = (expected: KeyCounts, found: KeyCounts): KeyCountComparison => {
  const prefixes = [...new Set([...Object.keys(expected), ...Object.keys(found)])].sort()
  const differences = prefixes.flatMap((prefix) => {
    const e = expected[prefix] ?? 0
    const f = found[prefix] ?? 0
    return e === f ? [] : [{ prefix, expected: e, found: f }]
  })
  const expectedTotal = total(expected)
  const foundTotal = total(found)
  const shown = differences.slice(0, 10).map((d) => `${d.prefix} ${d.expected} -> ${d.found}`)
  const more = differences.length > shown.length ? `, and ${differences.length - shown.length} more` : ""
  return differences.length === 0
    ? { verdict: "PASS", expectedTotal, foundTotal, differences, message: `${foundTotal} keys under ${prefixes.length} prefixes, as recorded at backup time` }
    : {
        verdict: "FAIL",
        expectedTotal,
        foundTotal,
        differences,
        message: `the restored member holds ${foundTotal} keys where the backup recorded ${expectedTotal}; ${differences.length} prefix${differences.length === 1 ? " differs" : "es differ"} (recorded -> restored): ${shown.join("; ")}${more}`,
      }
}
