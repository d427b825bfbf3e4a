/**
 * The encrypted-value sample of a member at one revision, the same way wherever it is read
 * (`backup-init` from the live member, `verify --test-restore` from the restored one): for each
 * resource prefix, the values of its probe keys (`probeKeys`: the first ones and some spread over
 * the rest, from the keys-only listing) decide whether it holds encrypted values; only then are
 * all its values read, keeping at most a few per key name (`sampleEncryptedValues`).
 */
import { Effect } from "effect"
import { isEncryptedValue, probeKeys, resourceOfPrefix, sampleEncryptedValues } from "../../domain/bundle-decryption.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import { keyPrefix } from "../../domain/key-counts.ts"

export interface StoredValueReader<E, R> {
  /** The value of one key at the sample's revision; `undefined` when it does not exist. */
  readonly value: (key: string) => Effect.Effect<Uint8Array | undefined, E, R>
  /**
   * The values under `prefix` at the sample's revision, in key order; a reader that pages may
   * return only each page's `sampleEncryptedValues` (sampling a sample keeps the same values).
   */
  readonly prefixValues: (prefix: string) => Effect.Effect<ReadonlyArray<{ readonly key: string; readonly value: Uint8Array }>, E, R>
}

/** The sample of the resource prefixes of `keys` (every key under `etcdPrefix` at the revision, sorted). */
export const sampleStoredValues = <E, R>(keys: ReadonlyArray<string>, etcdPrefix: string, reader: StoredValueReader<E, R>) =>
  Effect.gen(function* () {
    const byPrefix = new Map<string, Array<string>>()
    for (const key of keys) {
      const prefix = keyPrefix(key, etcdPrefix)
      if (!prefix.endsWith("/")) continue
      const list = byPrefix.get(prefix)
      if (list === undefined) byPrefix.set(prefix, [key])
      else list.push(key)
    }
    const sample: Array<StoredValue> = []
    for (const prefix of [...byPrefix.keys()].sort()) {
      let encrypted = false
      for (const key of probeKeys(byPrefix.get(prefix)!.sort())) {
        const value = yield* reader.value(key)
        if (value !== undefined && isEncryptedValue(value)) {
          encrypted = true
          break
        }
      }
      if (!encrypted) continue
      sample.push(...sampleEncryptedValues(yield* reader.prefixValues(prefix), resourceOfPrefix(prefix, etcdPrefix)))
    }
    return sample as ReadonlyArray<StoredValue>
  })
