/**
 * kube-apiserver's `EncryptionConfiguration` (the `encryption-config` key of its revisioned Secret
 * `encryption-config-N`), decoded the way the API server reads it: `apiVersion:
 * apiserver.config.k8s.io/v1` `kind: EncryptionConfiguration`, or the `v1` `EncryptionConfig`
 * the API server still registers for an old documentation mistake; YAML or JSON; unknown fields
 * ignored (the server's decoder is not strict), then validated like
 * `k8s.io/apiserver/pkg/apis/apiserver/validation` validates the providers and keys (every
 * problem reported, not only the first).
 *
 * Key bytes are `Redacted` from the moment they are decoded: no message, log line, JSON or
 * `inspect` output of this module shows a secret, not even a fragment of a malformed one.
 */
import { Redacted, Result, Schema } from "effect"
import { formatKeyPath, keyedProblems, type KeyedProblem } from "./schema-errors.ts"
import { parseYamlText, type YamlProblem } from "./yaml-text.ts"

/** Providers that hold named keys; each writes `k8s:enc:<provider>:v1:<key name>:` before its ciphertext. */
export const keyedProviderNames = ["aescbc", "aesgcm", "secretbox"] as const
export type KeyedProviderName = (typeof keyedProviderNames)[number]

/** Key sizes the API server accepts (validation_encryption.go: AES 16/24/32 for aescbc and aesgcm; secretbox 32). */
export const keySizes: Readonly<Record<KeyedProviderName, ReadonlyArray<number>>> = {
  aescbc: [16, 24, 32],
  aesgcm: [16, 24, 32],
  secretbox: [32],
}

export interface EncryptionKey {
  readonly name: string
  /** The decoded key bytes. */
  readonly secret: Redacted.Redacted<Uint8Array>
}

export interface KeyedProvider {
  readonly _tag: KeyedProviderName
  readonly keys: ReadonlyArray<EncryptionKey>
}

export interface IdentityProvider {
  readonly _tag: "identity"
}

/** A KMS plugin: its keys live outside the cluster, so nothing here can decrypt with it. */
export interface KmsProvider {
  readonly _tag: "kms"
  readonly name: string
  readonly apiVersion: "v1" | "v2"
}

export type EncryptionProvider = KeyedProvider | IdentityProvider | KmsProvider

export interface ResourceEncryption {
  /** As written: `secrets`, `configmaps`, `routes.route.openshift.io`, `*.`, `*.apps`, `*.*`. */
  readonly resources: ReadonlyArray<string>
  /** In order: the first encrypts new writes, every one decrypts. */
  readonly providers: ReadonlyArray<EncryptionProvider>
}

export interface EncryptionConfiguration {
  readonly resources: ReadonlyArray<ResourceEncryption>
}

/** An encryption configuration that the API server would refuse or that cannot be read; `problems` lists every one. */
export class EncryptionConfigInvalid extends Schema.TaggedError<EncryptionConfigInvalid>()("EncryptionConfigInvalid", {
  source: Schema.String,
  problems: Schema.Array(Schema.Struct({ key: Schema.String, message: Schema.String })),
  message: Schema.String,
}) {}

const KeyDocument = Schema.Struct({ name: Schema.String, secret: Schema.String })
const KeyedDocument = Schema.Struct({ keys: Schema.Array(KeyDocument) })
const ProviderDocument = Schema.Struct({
  aescbc: Schema.optionalKey(KeyedDocument),
  aesgcm: Schema.optionalKey(KeyedDocument),
  secretbox: Schema.optionalKey(KeyedDocument),
  identity: Schema.optionalKey(Schema.Struct({})),
  kms: Schema.optionalKey(Schema.Struct({ name: Schema.String, apiVersion: Schema.optionalKey(Schema.String) })),
})
const ConfigDocument = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  resources: Schema.Array(Schema.Struct({ resources: Schema.Array(Schema.String), providers: Schema.Array(ProviderDocument) })),
})
type ProviderDocument = typeof ProviderDocument.Type

// The server's decoder ignores unknown fields; so do we. Default messages never quote the input.
const decodeDocument = Schema.decodeUnknownResult(ConfigDocument, { errors: "all", onExcessProperty: "ignore" })

/** The API versions and kinds the API server decodes as an EncryptionConfiguration (apis/apiserver/v1/register.go). */
export const acceptedTypes: ReadonlyArray<{ readonly apiVersion: string; readonly kind: string }> = [
  { apiVersion: "apiserver.config.k8s.io/v1", kind: "EncryptionConfiguration" },
  { apiVersion: "v1", kind: "EncryptionConfig" },
]

// Go's base64.StdEncoding: padded standard alphabet; it skips CR and LF.
const base64Text = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const decodeSecret = (text: string): Uint8Array | undefined => {
  const compact = text.replace(/[\r\n]/g, "")
  return base64Text.test(compact) ? new Uint8Array(Buffer.from(compact, "base64")) : undefined
}

const sizeList = (sizes: ReadonlyArray<number>) => (sizes.length === 1 ? `${sizes[0]}` : `${sizes.slice(0, -1).join(", ")} or ${sizes.at(-1)}`)

/** Why a YAML text did not parse, by position and code only: a parser's message may quote the text, and the text holds keys. */
const yamlProblem = (problem: YamlProblem): string =>
  problem.code !== undefined && problem.line !== undefined
    ? `is not valid YAML or JSON (${problem.code} at line ${problem.line}, column ${problem.col})`
    : "is not valid YAML or JSON (aliases and custom tags are not accepted; the parser's message is withheld because it may quote the file's secrets)"

const providerKinds = ["aescbc", "aesgcm", "secretbox", "identity", "kms"] as const

interface Collected {
  readonly problems: Array<KeyedProblem>
}

const decodeProvider = (doc: ProviderDocument, path: ReadonlyArray<PropertyKey>, out: Collected): EncryptionProvider | undefined => {
  const present = providerKinds.filter((kind) => doc[kind] !== undefined)
  if (present.length !== 1) {
    out.problems.push({
      key: formatKeyPath(path),
      message:
        present.length === 0
          ? `names no provider: write exactly one of ${providerKinds.join(", ")}`
          : `names ${present.length} providers (${present.join(", ")}): write each as its own list item`,
    })
    return undefined
  }
  const kind = present[0]!
  if (kind === "identity") return { _tag: "identity" }
  if (kind === "kms") {
    const kms = doc.kms!
    const apiVersion = kms.apiVersion ?? "v1"
    if (kms.name === "") out.problems.push({ key: formatKeyPath([...path, "kms", "name"]), message: "is empty: a KMS provider needs a name" })
    if (apiVersion !== "v1" && apiVersion !== "v2") {
      out.problems.push({ key: formatKeyPath([...path, "kms", "apiVersion"]), message: `is ${JSON.stringify(apiVersion)}: only v1 and v2 exist` })
      return undefined
    }
    return { _tag: "kms", name: kms.name, apiVersion }
  }
  const keysPath = [...path, kind, "keys"]
  const keyDocs = doc[kind]!.keys
  if (keyDocs.length === 0) out.problems.push({ key: formatKeyPath(keysPath), message: `is empty: ${kind} needs at least one key` })
  const keys: Array<EncryptionKey> = []
  for (const [i, key] of keyDocs.entries()) {
    if (key.name === "") out.problems.push({ key: formatKeyPath([...keysPath, i, "name"]), message: "is empty: every key needs a name" })
    const secretKey = formatKeyPath([...keysPath, i, "secret"])
    if (key.secret === "") {
      out.problems.push({ key: secretKey, message: `is empty: key ${JSON.stringify(key.name)} needs its secret (base64)` })
      continue
    }
    const bytes = decodeSecret(key.secret)
    if (bytes === undefined) {
      out.problems.push({ key: secretKey, message: `of key ${JSON.stringify(key.name)} is not base64 (standard alphabet, padded)` })
      continue
    }
    if (!keySizes[kind].includes(bytes.length)) {
      out.problems.push({
        key: secretKey,
        message: `of key ${JSON.stringify(key.name)} decodes to ${bytes.length} bytes; ${kind} takes ${sizeList(keySizes[kind])}`,
      })
      continue
    }
    keys.push({ name: key.name, secret: Redacted.make(bytes, { label: `${kind} key ${key.name}` }) })
  }
  return { _tag: kind, keys }
}

/**
 * Reads an encryption configuration (YAML or JSON). `source` names the file in messages
 * (`static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/encryption-config`).
 */
export const decodeEncryptionConfiguration = (text: string, source = "encryption-config"): Result.Result<EncryptionConfiguration, EncryptionConfigInvalid> => {
  const fail = (problems: ReadonlyArray<KeyedProblem>) =>
    Result.fail(
      new EncryptionConfigInvalid({
        source,
        problems: [...problems],
        message: `${source}: ${problems.map((p) => (p.key === "" ? `the document ${p.message}` : `${p.key} ${p.message}`)).join("; ")}. kube-apiserver would not start with this encryption configuration; take the encryption-config Secret of the revision the snapshot was written under.`,
      }),
    )
  if (text.trim() === "") return fail([{ key: "", message: "is empty" }])
  const parsed = parseYamlText(text)
  if (Result.isFailure(parsed)) return fail([{ key: "", message: yamlProblem(parsed.failure) }])
  const shaped = decodeDocument(parsed.success)
  if (Result.isFailure(shaped)) {
    return fail(keyedProblems(shaped.failure).map((p) => ({ key: p.key, message: p.message === "Missing key" ? "is missing" : `is invalid: ${p.message}` })))
  }
  const doc = shaped.success
  const out: Collected = { problems: [] }
  if (!acceptedTypes.some((t) => t.apiVersion === doc.apiVersion && t.kind === doc.kind)) {
    out.problems.push({
      key: "kind",
      message: `is ${JSON.stringify(doc.kind)} with apiVersion ${JSON.stringify(doc.apiVersion)}; expected kind EncryptionConfiguration, apiVersion apiserver.config.k8s.io/v1`,
    })
  }
  if (doc.resources.length === 0) out.problems.push({ key: "resources", message: "is empty: list at least one resource entry" })
  const resources = doc.resources.map((entry, i): ResourceEncryption => {
    if (entry.resources.length === 0) out.problems.push({ key: formatKeyPath(["resources", i, "resources"]), message: "is empty: name at least one resource" })
    if (entry.providers.length === 0) out.problems.push({ key: formatKeyPath(["resources", i, "providers"]), message: "is empty: list at least one provider" })
    const providers = entry.providers.flatMap((p, j) => decodeProvider(p, ["resources", i, "providers", j], out) ?? [])
    return { resources: entry.resources, providers }
  })
  return out.problems.length > 0 ? fail(out.problems) : Result.succeed({ resources })
}

interface GroupResource {
  readonly group: string
  readonly resource: string
}

/** schema.ParseGroupResource: `pandas.awesome.bears.example` -> resource `pandas`, group `awesome.bears.example`. */
const parseGroupResource = (text: string): GroupResource => {
  const dot = text.indexOf(".")
  return dot === -1 ? { group: "", resource: text } : { group: text.slice(dot + 1), resource: text.slice(0, dot) }
}

const sameGroupResource = (a: GroupResource, b: GroupResource) => a.group === b.group && a.resource === b.resource

/**
 * The providers that read a resource (`secrets`, `routes.route.openshift.io`), as the API server
 * picks them: the entries naming it exactly, else those naming `*.<group>`, else `*.*`; each in
 * file order, entries concatenated. Empty: the resource is stored unencrypted (identity).
 */
export const providersForResource = (config: EncryptionConfiguration, resource: string): ReadonlyArray<EncryptionProvider> => {
  const wanted = parseGroupResource(resource)
  const candidates: ReadonlyArray<GroupResource> = [wanted, { group: wanted.group, resource: "*" }, { group: "*", resource: "*" }]
  for (const candidate of candidates) {
    const providers = config.resources.flatMap((entry) =>
      entry.resources.some((r) => sameGroupResource(parseGroupResource(r), candidate)) ? entry.providers : [],
    )
    if (providers.length > 0) return providers
  }
  return []
}

/** Every provider of every entry, in file order: for values whose resource is not known. */
export const allProviders = (config: EncryptionConfiguration): ReadonlyArray<EncryptionProvider> => config.resources.flatMap((entry) => entry.providers)

/** The resources whose first provider encrypts (not identity), as written in the file. */
export const encryptedResources = (config: EncryptionConfiguration): ReadonlyArray<string> =>
  config.resources.flatMap((entry) => (entry.providers[0]?._tag === "identity" ? [] : entry.resources))
