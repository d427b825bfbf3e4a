/**
 * What `backup-init` reads, besides the operator revisions, at the snapshot's revision to prove
 * the bundle later: the number of keys per resource prefix (keys only, no values moved), the
 * ClusterVersion `version` and a bounded sample of encrypted values per key name.
 *
 * Finding every key name a prefix's values use takes reading its values: a prefix whose probe
 * keys (`bundle-sample.ts`) hold no encrypted value is taken as unencrypted, the others are read
 * a page at a time, keeping only the sample (a prefix's values, the cluster's secrets, may not fit in the pod's memory).
 */
import { Effect, Result } from "effect"
import { sampleEncryptedValues } from "../../domain/bundle-decryption.ts"
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

/** Values read at once while sampling a prefix: the live client's own page (a value may be up to etcd's request limit, ~1.5 MiB). */
const valuePageSize = 100

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
  const keyCounts = countKeysByPrefix(
    keys.map((kv) => kv.key),
    prefix,
  )
  const cvKey = clusterVersionKey(prefix)
  const cv = yield* etcd.get(cvKey, { revision })
  const sample = yield* sampleStoredValues(
    keys.map((kv) => kv.key),
    prefix,
    {
      value: (key) => etcd.get(key, { revision }).pipe(Effect.map((kv) => kv?.value)),
      prefixValues: (resourcePrefix) =>
        Effect.gen(function* () {
          // A page at a time, keeping each page's sample: a prefix's values (all the cluster's secrets) may exceed the pod's memory.
          let kept: ReadonlyArray<StoredValue> = []
          let after: string | undefined
          for (;;) {
            const page = yield* etcd.getPrefix(resourcePrefix, { revision, limit: valuePageSize, after })
            kept = sampleEncryptedValues([...kept, ...page], resourcePrefix)
            if (page.length < valuePageSize) return kept
            after = page.at(-1)!.key
          }
        }),
    },
  )
  return { keyCounts, cluster: clusterFactsOf(cv?.value, etcdVersion, cvKey), sample } satisfies BundleFacts
})
