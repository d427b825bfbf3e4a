/**
 * The decryption check of a backup: which stored values make the sample taken at the snapshot's
 * revision, and what the bundled encryption configuration says about them, as the manifest
 * records it. Pure: values and the decoded configuration are handed in.
 *
 * The sample keeps, per resource prefix, the first few values under each key name (and each
 * KMS plugin or unknown envelope): every key the snapshot's data needs is tried, with a bounded
 * number of values.
 */
import { Schema } from "effect"
import { providersForResource, type EncryptionConfiguration } from "./encryption-config.ts"
import { checkStoredValue, parseEnvelope, summarizeValueChecks, type StoredValue } from "./encrypted-value.ts"

/** Values kept per key name and resource prefix. */
export const defaultValuesPerKey = 3

const encryptedMarker = "k8s:enc:"

/** Whether a stored value carries an encryption envelope (`k8s:enc:`). */
export const isEncryptedValue = (value: Uint8Array): boolean =>
  value.length >= encryptedMarker.length && [...encryptedMarker].every((c, i) => value[i] === c.charCodeAt(0))

/**
 * The resource an etcd prefix stores, as an encryption configuration names it:
 * `/kubernetes.io/secrets/` -> `secrets`, `/kubernetes.io/route.openshift.io/routes/` -> `routes.route.openshift.io`.
 */
export const resourceOfPrefix = (prefix: string, etcdPrefix: string): string => {
  const rest = prefix.startsWith(`${etcdPrefix}/`) ? prefix.slice(etcdPrefix.length + 1) : prefix
  const segments = rest.split("/").filter((s) => s !== "")
  return segments.length === 2 && segments[0]!.includes(".") ? `${segments[1]}.${segments[0]}` : segments.join("/")
}

/** What groups values in the sample: the key name, KMS plugin, or envelope they were written with. */
const envelopeGroup = (value: Uint8Array): string => {
  const e = parseEnvelope(value)
  switch (e._tag) {
    case "Keyed":
      return `${e.provider}:${e.keyName}`
    case "Kms":
      return `kms:${e.version}:${e.plugin}`
    case "Truncated":
      return `${e.provider}:`
    case "Unknown":
      return e.prefix
    case "Plain":
      return ""
  }
}

/** The encrypted values of one resource prefix that the sample keeps: at most `perKey` under each key name, in key order. */
export const sampleEncryptedValues = (
  values: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array }>,
  resource: string,
  perKey: number = defaultValuesPerKey,
): ReadonlyArray<StoredValue> => {
  const taken = new Map<string, number>()
  return values.flatMap((kv) => {
    if (!isEncryptedValue(kv.value)) return []
    const group = envelopeGroup(kv.value)
    const n = taken.get(group) ?? 0
    if (n >= perKey) return []
    taken.set(group, n + 1)
    return [{ resource, key: kv.key, value: kv.value }]
  })
}

const Where = { resource: Schema.String, key: Schema.String, message: Schema.String }

/** The decryption check as the manifest records it; no key material, no plaintext. */
export const DecryptionRecord = Schema.Struct({
  verdict: Schema.Literals(["PASS", "FAIL"]),
  /** "N values under K keys decrypted with the bundled configuration", or what failed. */
  message: Schema.String,
  decrypted: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** `<provider>:<key name>` of every key that decrypted a value. */
  keys: Schema.Array(Schema.String),
  failures: Schema.Array(Schema.Struct({ ...Where, keyName: Schema.String })),
  /** KMS and other values that cannot be checked here, with the reason. */
  skipped: Schema.Array(Schema.Struct(Where)),
})
export type DecryptionRecord = typeof DecryptionRecord.Type

/**
 * Judges the sample against the bundle's configuration (`undefined`: the bundle holds none). FAIL
 * when any value uses a key the bundle lacks or does not decrypt to a stored object.
 */
export const judgeDecryption = (sample: ReadonlyArray<StoredValue>, config: EncryptionConfiguration | undefined): DecryptionRecord => {
  const checks = sample.map((value) => checkStoredValue(value, config === undefined ? [] : providersForResource(config, value.resource)))
  const summary = summarizeValueChecks(checks)
  const failures = summary.failures.map((f) => ({ resource: f.resource, key: f.key, keyName: f.keyName, message: f.message }))
  const skipped = summary.skipped.map((s) => ({ resource: s.resource, key: s.key, message: s.message }))
  const skippedNote = skipped.length === 0 ? "" : `; ${skipped.length} not checked (${skipped[0]!.message}${skipped.length > 1 ? ", ..." : ""})`
  const noConfig = config === undefined ? " (the bundle holds no encryption-config)" : ""
  const message =
    failures.length === 0
      ? `${summary.sentence}${skippedNote}`
      : `${failures.length} of ${sample.length} sampled values cannot be read with the bundled configuration${noConfig}: ${failures
          .slice(0, 5)
          .map((f) => f.message)
          .join("; ")}${failures.length > 5 ? `; and ${failures.length - 5} more` : ""}`
  return { verdict: failures.length === 0 ? "PASS" : "FAIL", message, decrypted: summary.decrypted, keys: summary.keys, failures, skipped }
}

/** Keys probed per resource prefix: the first ones, and as many spread evenly over the rest. */
export const defaultProbeKeys = 20

/**
 * The keys of one resource prefix (sorted) whose values decide whether it holds encrypted ones:
 * the first `n`, and `n` more spread evenly up to the last key. A prefix of at most `2n` keys is
 * probed whole; a larger one in a bounded number of reads, also where an encryption migration
 * left the first keys plain.
 */
export const probeKeys = (keys: ReadonlyArray<string>, n: number = defaultProbeKeys): ReadonlyArray<string> => {
  if (keys.length <= 2 * n) return keys
  const spread = Array.from({ length: n }, (_, i) => n + Math.round(((i + 1) * (keys.length - 1 - n)) / n))
  return [...new Set([...keys.slice(0, n), ...spread.map((i) => keys[i]!)])]
}
