/**
 * What `backup-init` reads, besides the operator revisions, at the snapshot's revision to prove
 * the bundle later: the number of keys per resource prefix (keys only, no values moved), the
 * ClusterVersion `version` and a bounded sample of encrypted values per key name.
 *
 * Finding every key name a prefix's values use takes reading its values: a prefix whose first
 * `probeValues` values hold no encrypted one is taken as unencrypted (the API server encrypts
 * a resource's every value once its migration is done), the others are read whole, one prefix
 * at a time, keeping only the sample.
 */
import { Effect, Result } from "effect"
import { clusterVersionFacts } from "../../domain/version-compatibility.ts"
import type { ClusterFacts } from "../../domain/backup-manifest.ts"
import { isEncryptedValue, resourceOfPrefix, sampleEncryptedValues } from "../../domain/bundle-decryption.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import { defaultEtcdPrefix } from "../../domain/etcd-prefix.ts"
import { countKeysByPrefix, type KeyCounts } from "../../domain/key-counts.ts"
import { Etcd } from "../../services/etcd/etcd.ts"

/** Values read from a prefix to decide whether it holds encrypted ones. */
const probeValues = 20

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
  const sample: Array<StoredValue> = []
  for (const resourcePrefix of Object.keys(keyCounts).sort()) {
    if (!resourcePrefix.endsWith("/")) continue
    const probe = yield* etcd.getPrefix(resourcePrefix, { revision, limit: probeValues })
    if (!probe.some((kv) => isEncryptedValue(kv.value))) continue
    const values = probe.length < probeValues ? probe : yield* etcd.getPrefix(resourcePrefix, { revision })
    sample.push(...sampleEncryptedValues(values, resourceOfPrefix(resourcePrefix, prefix)))
  }
  return { keyCounts, cluster: clusterFactsOf(cv?.value, etcdVersion, cvKey), sample } satisfies BundleFacts
})
