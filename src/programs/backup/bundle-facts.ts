/**
 * What `backup-init` reads, besides the operator revisions, at the snapshot's revision to prove
 * the bundle later: the number of keys per resource prefix (keys only, no values moved), the
 * ClusterVersion `version` and a bounded sample of encrypted values per key name.
 *
 * Finding every key name a prefix's values use takes reading its values: a prefix whose probe
 * keys (`bundle-sample.ts`) hold no encrypted value is taken as unencrypted, the others are read
 * whole, one prefix at a time, keeping only the sample.
 */
import { Effect, Result } from "effect"
import { clusterVersionFacts } from "../../domain/version-compatibility.ts"
import type { ClusterFacts } from "../../domain/backup-manifest.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { countKeysByPrefix, type KeyCounts } from "../../domain/key-counts.ts"
import { Etcd } from "../../services/etcd/etcd.ts"
import { sampleStoredValues } from "./bundle-sample.ts"

export interface BundleFacts {
  readonly keyCounts: KeyCounts
  readonly cluster: ClusterFacts
  readonly sample: ReadonlyArray<StoredValue>
}

/** `<prefix>/config.openshift.io/clusterversions/version` (§10 of the reference). */
export const clusterVersionKey = (prefix: string): string => `${prefix}/config.openshift.io/clusterversions/version`

const utf8 = new TextDecoder("utf-8")

/** The cluster facts from the stored ClusterVersion (`undefined`: no such key) and the member's etcd version. */
export const clusterFactsOf = (stored: Uint8Array | undefined, etcdVersion: string, key: string): ClusterFacts => {
  const base = etcdVersion === "" ? {} : { etcdVersion }
  if (stored === undefined) return { ...base, problem: `${key} does not exist at the snapshot's revision: the OpenShift version is unknown` }
  const facts = clusterVersionFacts(utf8.decode(stored))
  if (Result.isFailure(facts)) return { ...base, problem: `${key}: ${facts.failure.message}` }
  const { version, clusterId } = facts.success
  return {
    ...base,
    ...(version === undefined ? { problem: `${key} records no completed or desired version` } : { openshiftVersion: version }),
    ...(clusterId === undefined ? {} : { clusterId }),
  }
}

/** Reads the key counts, the ClusterVersion and the encrypted-value sample at `revision`. */
export const readBundleFacts = Effect.fn("readBundleFacts")(function* (revision: number, etcdVersion: string, prefix: string = defaultEtcdPrefix) {
  const etcd = yield* Etcd
  const keys = yield* etcd.getPrefix(`${prefix}/`, { revision, keysOnly: true })
  const keyCounts = countKeysByPrefix(keys.map((kv) => kv.key))
  const cvKey = clusterVersionKey(prefix)
  const cv = yield* etcd.get(cvKey, { revision })
  const sample = yield* sampleStoredValues(
    keys.map((kv) => kv.key),
    prefix,
    {
      value: (key) => etcd.get(key, { revision }).pipe(Effect.map((kv) => kv?.value)),
      prefixValues: (resourcePrefix) => etcd.getPrefix(resourcePrefix, { revision }),
    },
  )
  return { keyCounts, cluster: clusterFactsOf(cv?.value, etcdVersion, cvKey), sample } satisfies BundleFacts
})
