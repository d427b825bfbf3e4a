/**
 * A value as kube-apiserver stores it in etcd, and whether the bundled encryption configuration
 * can read it back. Formats as in k8s.io/apiserver (storage/value/encrypt/aes/aes.go,
 * server/options/encryptionconfig/config.go, storage/etcd3/store.go):
 *
 * - `k8s:enc:aescbc:v1:<key name>:` + 16-byte IV + AES-CBC ciphertext with PKCS#7 padding;
 * - `k8s:enc:aesgcm:v1:<key name>:` + 12-byte random nonce + ciphertext + 16-byte tag, the
 *   additional authenticated data being the value's full etcd key (`/kubernetes.io/secrets/ns/name`),
 *   so a value copied under another key does not open. (The KDF "extended nonce" GCM variant only
 *   appears inside KMS v2 envelopes.)
 * - `k8s:enc:secretbox:v1:<key name>:` + XSalsa20-Poly1305 (node:crypto has no XSalsa20: the
 *   key's presence is checked, the decryption is reported as skipped);
 * - `k8s:enc:kms:v1:<plugin>:` / `k8s:enc:kms:v2:<plugin>:` hold a key sealed by a KMS plugin
 *   outside the cluster: skipped, with the reason, when the configuration names that plugin (else
 *   no provider reads it: a missing key);
 * - anything else is stored as written (identity).
 *
 * A decrypted value must be a stored object: protobuf (`k8s\0` first) or JSON with `apiVersion`
 * and `kind`. The API server tries every key whose prefix matches and keeps the first that works;
 * so does this module. Pure computation: node:crypto's synchronous ciphers, no I/O. No message
 * holds key material or plaintext.
 */
import { createDecipheriv } from "node:crypto"
import { Redacted } from "effect"
import { counted } from "./counted.ts"
import type { EncryptionProvider, KeyedProviderName } from "./encryption-config.ts"
import { GrpcWireError, Reader, WireType } from "./protobuf-wire.ts"

const encPrefix = "k8s:enc:"
const protobufMagic = [0x6b, 0x38, 0x73, 0x00] // "k8s\0"

/** What the first bytes of a stored value say about it. */
export type StoredEnvelope =
  | { readonly _tag: "Plain" }
  | {
      readonly _tag: "Keyed"
      readonly provider: KeyedProviderName
      /** Up to the first `:` (a key name may itself hold `:`; decryption matches the configured names). */
      readonly keyName: string
      /** Everything after `k8s:enc:<provider>:v1:`, starting with the key name. */
      readonly afterProvider: Uint8Array
    }
  | { readonly _tag: "Kms"; readonly version: "v1" | "v2"; readonly plugin: string }
  | { readonly _tag: "Unknown"; readonly prefix: string }
  /** A known provider prefix with no `:` ending the key name: the value was cut short. */
  | { readonly _tag: "Truncated"; readonly provider: KeyedProviderName }

const utf8 = new TextDecoder("utf-8")
const asciiPrefix = (bytes: Uint8Array, text: string) => bytes.length >= text.length && [...text].every((c, i) => bytes[i] === c.charCodeAt(0))

const indexOfColon = (bytes: Uint8Array, from: number) => bytes.indexOf(0x3a, from)

/** Reads a stored value's envelope. Never throws, whatever the bytes. */
export const parseEnvelope = (value: Uint8Array): StoredEnvelope => {
  if (!asciiPrefix(value, encPrefix)) return { _tag: "Plain" }
  for (const provider of ["aescbc", "aesgcm", "secretbox"] as const) {
    const prefix = `${encPrefix}${provider}:v1:`
    if (!asciiPrefix(value, prefix)) continue
    const afterProvider = value.subarray(prefix.length)
    const colon = indexOfColon(afterProvider, 0)
    if (colon === -1) return { _tag: "Truncated", provider }
    return { _tag: "Keyed", provider, keyName: utf8.decode(afterProvider.subarray(0, colon)), afterProvider }
  }
  for (const version of ["v1", "v2"] as const) {
    const prefix = `${encPrefix}kms:${version}:`
    if (!asciiPrefix(value, prefix)) continue
    const colon = indexOfColon(value, prefix.length)
    return { _tag: "Kms", version, plugin: utf8.decode(value.subarray(prefix.length, colon === -1 ? prefix.length : colon)) }
  }
  // `k8s:enc:<provider>:<version>:`, at most 40 bytes of it.
  const first = indexOfColon(value, encPrefix.length)
  const second = first === -1 ? -1 : indexOfColon(value, first + 1)
  return { _tag: "Unknown", prefix: utf8.decode(value.subarray(0, Math.min(second === -1 ? value.length : second + 1, 40))) }
}

/**
 * Whether `bytes` after the magic are one whole `runtime.Unknown` as kube-apiserver writes it: typeMeta (1), raw (2),
 * contentEncoding (3) and contentType (4), each length-delimited, in that order (its generated code writes all four,
 * the two strings even when empty), ending exactly at the end. An AES-CBC value cut at a block boundary decrypts, one
 * time in about 256, to valid padding and a prefix of the object, which the magic alone would take for whole.
 */
const isWholeUnknown = (bytes: Uint8Array): boolean => {
  const reader = new Reader(bytes.subarray(protobufMagic.length))
  try {
    for (const field of [1, 2, 3, 4]) {
      const tag = reader.tag()
      if (tag.field !== field || tag.wire !== WireType.len) return false
      reader.bytes()
    }
    return reader.done
  } catch (error) {
    if (error instanceof GrpcWireError) return false
    throw error
  }
}

/**
 * Whether plaintext is an object as the API server stores it: protobuf (the `k8s\0` magic, then a whole
 * `runtime.Unknown`), or a JSON object with apiVersion and kind.
 */
export const isStoredObject = (plaintext: Uint8Array): boolean => {
  if (protobufMagic.every((b, i) => plaintext[i] === b)) return isWholeUnknown(plaintext)
  try {
    const json: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext))
    if (json === null || typeof json !== "object" || Array.isArray(json)) return false
    const { apiVersion, kind } = json as Record<string, unknown>
    return typeof apiVersion === "string" && apiVersion !== "" && typeof kind === "string" && kind !== ""
  } catch {
    return false
  }
}

/** A value read from etcd: `resource` names it for people (`secrets`), `key` is its full etcd key. */
export interface StoredValue {
  readonly resource: string
  readonly key: string
  readonly value: Uint8Array
}

interface Where {
  readonly resource: string
  readonly key: string
  readonly message: string
}

export type ValueCheck =
  | (Where & { readonly _tag: "Decrypted"; readonly provider: KeyedProviderName; readonly keyName: string })
  | (Where & { readonly _tag: "NotEncrypted" })
  /** For a KMS value, `provider` is "kms" and `keyName` its plugin's name. */
  | (Where & {
      readonly _tag: "KeyMissing"
      readonly provider: KeyedProviderName | "kms"
      readonly keyName: string
      readonly available: ReadonlyArray<string>
    })
  | (Where & { readonly _tag: "DecryptionFailed"; readonly provider: KeyedProviderName; readonly keyName: string; readonly reason: string })
  | (Where & { readonly _tag: "NotAnObject"; readonly provider: KeyedProviderName; readonly keyName: string })
  | (Where & { readonly _tag: "Skipped"; readonly reason: string })

export type ValueFailure = Extract<ValueCheck, { readonly _tag: "KeyMissing" | "DecryptionFailed" | "NotAnObject" }>

export const isValueFailure = (check: ValueCheck): check is ValueFailure =>
  check._tag === "KeyMissing" || check._tag === "DecryptionFailed" || check._tag === "NotAnObject"

type Opened = { readonly ok: true; readonly plaintext: Uint8Array } | { readonly ok: false; readonly reason: string }

// Key sizes are 16, 24 or 32 bytes: the configuration decoder refuses others.
const aesBits = (key: Uint8Array) => (key.length === 16 ? "128" : key.length === 24 ? "192" : "256")

const openAesCbc = (key: Uint8Array, data: Uint8Array): Opened => {
  if (data.length < 16) return { ok: false, reason: `the value holds ${data.length} bytes after the key name, fewer than the 16-byte IV: it was cut short` }
  const body = data.subarray(16)
  if (body.length === 0 || body.length % 16 !== 0) {
    return { ok: false, reason: `the ciphertext is ${body.length} bytes, not a whole number of 16-byte blocks: the value was cut short or damaged` }
  }
  const decipher = createDecipheriv(`aes-${aesBits(key)}-cbc`, key, data.subarray(0, 16))
  decipher.setAutoPadding(false)
  const plain = Buffer.concat([decipher.update(body), decipher.final()])
  // PKCS#7 as aes.go checks it.
  const pad = plain[plain.length - 1]!
  if (pad === 0 || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad)) {
    return { ok: false, reason: "the PKCS#7 padding is wrong after decryption: not the key that encrypted it, or damaged data" }
  }
  return { ok: true, plaintext: plain.subarray(0, plain.length - pad) }
}

const openAesGcm = (key: Uint8Array, data: Uint8Array, etcdKey: string): Opened => {
  if (data.length < 12 + 16) {
    return { ok: false, reason: `the value holds ${data.length} bytes after the key name, fewer than the 12-byte nonce and 16-byte tag: it was cut short` }
  }
  const decipher = createDecipheriv(`aes-${aesBits(key)}-gcm`, key, data.subarray(0, 12), { authTagLength: 16 })
  decipher.setAAD(Buffer.from(etcdKey, "utf8"))
  decipher.setAuthTag(data.subarray(data.length - 16))
  const body = decipher.update(data.subarray(12, data.length - 16))
  try {
    return { ok: true, plaintext: Buffer.concat([body, decipher.final()]) }
  } catch {
    return {
      ok: false,
      reason: "the GCM authentication tag does not match: not the key that encrypted it, a value cut short or damaged, or a value copied from another etcd key",
    }
  }
}

const quoted = (names: ReadonlyArray<string>) => names.map((n) => JSON.stringify(n)).join(", ")

/**
 * Checks one stored value against the providers that read its resource (`providersForResource`,
 * or `allProviders` when the resource is unknown). Never throws.
 */
export const checkStoredValue = (stored: StoredValue, providers: ReadonlyArray<EncryptionProvider>): ValueCheck => {
  const { resource, key } = stored
  const at = `${resource} ${key}`
  const skipped = (reason: string): ValueCheck => ({ _tag: "Skipped", resource, key, reason, message: `${at}: not checked: ${reason}` })
  const envelope = parseEnvelope(stored.value)
  switch (envelope._tag) {
    case "Plain":
      return { _tag: "NotEncrypted", resource, key, message: `${at}: stored unencrypted (identity)` }
    case "Kms": {
      // The API server reads `k8s:enc:kms:<version>:<name>:` only through a KMS provider of that version and name.
      const { version, plugin } = envelope
      const named = providers.flatMap((p) => (p._tag === "kms" && p.apiVersion === version ? [p.name] : []))
      if (!named.includes(plugin)) {
        const available = [...new Set(named)]
        return {
          _tag: "KeyMissing",
          resource,
          key,
          provider: "kms",
          keyName: plugin,
          available,
          message: `${at}: encrypted through KMS ${version} plugin ${JSON.stringify(plugin)}, which the bundled encryption configuration does not name (${
            available.length === 0 ? `it has no KMS ${version} provider for ${resource}` : `its KMS ${version} providers for ${resource}: ${quoted(available)}`
          }): a cluster restored from this backup cannot read it; the configuration was probably changed after the bundled encryption-config revision was written`,
        }
      }
      return skipped(`encrypted through KMS ${version} plugin ${JSON.stringify(plugin)}, whose key stays in the KMS outside the cluster and the bundle`)
    }
    case "Unknown":
      return skipped(`unknown encryption envelope ${JSON.stringify(envelope.prefix)} (a newer API server's format?)`)
    case "Truncated":
      return {
        _tag: "DecryptionFailed",
        resource,
        key,
        provider: envelope.provider,
        keyName: "",
        reason: "no ':' ends the key name: the value was cut short",
        message: `${at}: ${envelope.provider} value ends before its key name does: the value was cut short`,
      }
    case "Keyed":
      break
  }
  const { provider, keyName, afterProvider } = envelope
  const configured = providers.flatMap((p) => (p._tag === provider ? p.keys : []))
  const candidates = configured.filter((k) => {
    const prefix = Buffer.from(`${k.name}:`, "utf8")
    return afterProvider.length >= prefix.length && Buffer.from(afterProvider.subarray(0, prefix.length)).equals(prefix)
  })
  if (candidates.length === 0) {
    const available = [...new Set(configured.map((k) => k.name))]
    return {
      _tag: "KeyMissing",
      resource,
      key,
      provider,
      keyName,
      available,
      message: `${at}: encrypted with ${provider} key ${JSON.stringify(keyName)}, which the bundled encryption configuration does not hold (${
        available.length === 0 ? `it has no ${provider} keys for ${resource}` : `its ${provider} keys for ${resource}: ${quoted(available)}`
      }): a cluster restored from this backup cannot read it; the keys were probably rotated after the bundled encryption-config revision was written`,
    }
  }
  if (provider === "secretbox") {
    return skipped(`secretbox (XSalsa20-Poly1305) decryption: node:crypto has no XSalsa20; key ${JSON.stringify(keyName)} is in the bundle`)
  }
  let failure: ValueCheck | undefined
  for (const candidate of candidates) {
    const keyBytes = Redacted.value(candidate.secret)
    const data = afterProvider.subarray(Buffer.byteLength(`${candidate.name}:`, "utf8"))
    const opened = provider === "aescbc" ? openAesCbc(keyBytes, data) : openAesGcm(keyBytes, data, key)
    const name = candidate.name
    if (opened.ok && isStoredObject(opened.plaintext)) {
      return { _tag: "Decrypted", resource, key, provider, keyName: name, message: `${at}: decrypted with ${provider} key ${JSON.stringify(name)}` }
    }
    // A wrong key fails the padding or tag check far more often than not; when it does not, the plaintext is noise.
    failure ??= opened.ok
      ? {
          _tag: "NotAnObject",
          resource,
          key,
          provider,
          keyName: name,
          message: `${at}: ${provider} key ${JSON.stringify(name)} from the bundle decrypts it, but not to a stored object (neither protobuf "k8s\\0" and a whole runtime.Unknown nor JSON with apiVersion and kind): the bundled key under that name is not the key that encrypted it, or the value was cut short`,
        }
      : {
          _tag: "DecryptionFailed",
          resource,
          key,
          provider,
          keyName: name,
          reason: opened.reason,
          message: `${at}: ${provider} key ${JSON.stringify(name)} from the bundle does not decrypt it: ${opened.reason}`,
        }
  }
  return failure!
}

export interface DecryptionSummary {
  readonly decrypted: number
  /** `<provider>:<key name>` of the keys that decrypted at least one value, sorted. */
  readonly keys: ReadonlyArray<string>
  readonly notEncrypted: number
  readonly skipped: ReadonlyArray<ValueCheck>
  readonly failures: ReadonlyArray<ValueFailure>
  /** "N values under K keys decrypted with the bundled configuration" (or that there was nothing to decrypt), for the manifest and reports. */
  readonly sentence: string
}

/** Counts a sample's checks into what a report states. */
export const summarizeValueChecks = (checks: ReadonlyArray<ValueCheck>): DecryptionSummary => {
  const decrypted = checks.filter((c) => c._tag === "Decrypted")
  const keys = [...new Set(decrypted.map((c) => `${c.provider}:${c.keyName}`))].sort()
  return {
    decrypted: decrypted.length,
    keys,
    notEncrypted: checks.filter((c) => c._tag === "NotEncrypted").length,
    skipped: checks.filter((c) => c._tag === "Skipped"),
    failures: checks.filter(isValueFailure),
    sentence:
      checks.length === checks.filter((c) => c._tag === "NotEncrypted").length
        ? "no encrypted value in the sample, nothing to decrypt (the values are stored plain)"
        : `${counted(decrypted.length, "value")} under ${counted(keys.length, "key")} decrypted with the bundled configuration`,
  }
}
