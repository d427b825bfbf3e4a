/**
 * Ed25519 signatures over a backup manifest's exact bytes (the canonical JSON that holds every
 * file's sha256, format 2 with its own sha256), on node:crypto. Keys are PEM: the signing key
 * PKCS#8 (`openssl genpkey -algorithm ed25519`), trusted keys SPKI (`openssl pkey -pubout`).
 * OpenSSH public keys are not read: PEM is what openssl and Kubernetes Secrets hold, and one
 * format keeps the key id (sha256 of the SPKI DER) unambiguous.
 *
 * The signing key is held only as `Redacted`; no message quotes a key, only its id.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto"
import { Redacted, Result } from "effect"
import { decodeManifestSignature, encodeManifestSignature, type ManifestSignature } from "../../domain/manifest-signature-file.ts"

export interface SigningKey {
  readonly keyId: string
  readonly privateKey: Redacted.Redacted<KeyObject>
}

export interface TrustedKey {
  readonly keyId: string
  /** Where it came from (a path), for messages. */
  readonly source: string
  readonly publicKey: KeyObject
}

/** What checking a manifest's signature against the trusted keys found. */
export type SignatureVerdict =
  | { readonly _tag: "Verified"; readonly keyId: string }
  /** No signature file. */
  | { readonly _tag: "Unsigned" }
  /** Signed by a key that is not trusted (perhaps validly: by someone else). */
  | { readonly _tag: "UnknownKey"; readonly keyId: string }
  /** Signed, by a trusted key's id, but the signature does not match these bytes. */
  | { readonly _tag: "BadSignature"; readonly keyId: string }
  /** The signature file is not one this program writes. */
  | { readonly _tag: "MalformedSignature"; readonly problem: string }

/** sha256 of the public key's SPKI DER: `sha256:<hex>`. */
export const keyIdOf = (publicKey: KeyObject): string =>
  `sha256:${createHash("sha256")
    .update(publicKey.export({ format: "der", type: "spki" }))
    .digest("hex")}`

/**
 * Parses a PKCS#8 PEM ed25519 private key; the problem otherwise (never quoting the text). Bytes are read in place (no
 * copy is made that would outlive the call; a string's is zeroed): the caller zeroes its own buffer once this returns.
 * The KeyObject's copy inside OpenSSL cannot be zeroed from JavaScript; it lives as long as the process's key.
 */
export const parseSigningKey = (pem: string | Uint8Array): Result.Result<SigningKey, string> => {
  const bytes = typeof pem === "string" ? Buffer.from(pem) : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: bytes, format: "pem" })
  } catch {
    // PKCS#8's encrypted form, or a legacy PEM's header: the key is there, locked, and no passphrase can be given here.
    if (bytes.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || bytes.includes("Proc-Type: 4,ENCRYPTED"))
      return Result.fail(
        "is protected by a passphrase, which cluster-backup cannot be given: write it unprotected for the Secret (openssl pkey -in FILE -out plain.pem) and keep that file private",
      )
    return Result.fail("is not a PEM private key (expected PKCS#8, as `openssl genpkey -algorithm ed25519` writes)")
  } finally {
    if (typeof pem === "string") bytes.fill(0)
  }
  if (key.asymmetricKeyType !== "ed25519") return Result.fail(`${notEd25519(key.asymmetricKeyType)}: make one with openssl genpkey -algorithm ed25519`)
  return Result.succeed({ keyId: keyIdOf(createPublicKey(key)), privateKey: Redacted.make(key) })
}

const keyTypeNames: Readonly<Record<string, string>> = {
  ec: "an EC",
  rsa: "an RSA",
  "rsa-pss": "an RSA-PSS",
  dsa: "a DSA",
  ed448: "an Ed448",
  x25519: "an X25519",
  x448: "an X448",
  dh: "a DH",
}

/** What a key of another type than ed25519 is, in words. */
const notEd25519 = (type: string | undefined): string => `is ${keyTypeNames[type ?? ""] ?? `a ${type ?? "unknown"}`} key, not ed25519`

/** Parses an SPKI PEM ed25519 public key; the problem otherwise. */
export const parseTrustedKey = (pem: string | Uint8Array, source: string): Result.Result<TrustedKey, string> => {
  const text = Buffer.from(pem).toString("utf8")
  // A private key would also yield a public key: refuse it, it has no place in the trusted keys.
  if (text.includes("PRIVATE KEY")) return Result.fail("holds a private key; give the public key (openssl pkey -pubout)")
  // A certificate would yield its key too (a TLS CA's, given by mistake): not a trusted manifest key.
  if (text.includes("-----BEGIN CERTIFICATE-----"))
    return Result.fail("holds a certificate, not a public key: give the public key of the ed25519 signing key (openssl pkey -pubout)")
  let key: KeyObject
  try {
    key = createPublicKey({ key: text, format: "pem" })
  } catch {
    return Result.fail("is not a PEM public key (expected SPKI, as `openssl pkey -pubout` writes)")
  }
  if (key.asymmetricKeyType !== "ed25519")
    return Result.fail(`${notEd25519(key.asymmetricKeyType)}: give the public key of the ed25519 signing key (openssl pkey -pubout)`)
  return Result.succeed({ keyId: keyIdOf(key), source, publicKey: key })
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g

/**
 * The keys of a trusted-key file: one SPKI PEM ed25519 public key, or several one after another (the old and the new
 * key while signing keys rotate), each trusted; the problem with the first block that is no such key otherwise.
 */
export const parseTrustedKeys = (pem: string | Uint8Array, source: string): Result.Result<ReadonlyArray<TrustedKey>, string> => {
  const text = Buffer.from(pem).toString("utf8")
  const blocks = [...text.matchAll(pemBlock)].map((m) => m[0])
  if (blocks.length <= 1) return Result.map(parseTrustedKey(text, source), (key) => [key])
  const keys: Array<TrustedKey> = []
  for (const [i, block] of blocks.entries()) {
    const key = parseTrustedKey(block, source)
    if (Result.isFailure(key)) return Result.fail(`(PEM block ${i + 1} of ${blocks.length}) ${key.failure}`)
    keys.push(key.success)
  }
  return Result.succeed(keys)
}

/** The signature file's text for `manifestBytes` (exactly the bytes written as the manifest). */
export const signManifest = (manifestBytes: Uint8Array, key: SigningKey): string => {
  const signature = sign(null, manifestBytes, Redacted.value(key.privateKey)).toString("base64")
  const file: ManifestSignature = { format: 1, algorithm: "ed25519", keyId: key.keyId, signature }
  return encodeManifestSignature(file)
}

/**
 * Checks `manifestBytes` against its signature file's text (`undefined` when there is none)
 * and the trusted keys. Callers with trusted keys accept only `Verified`; without any, every
 * backup is unauthenticated whatever this says.
 */
export const verifyManifestSignature = (
  manifestBytes: Uint8Array,
  signatureText: string | undefined,
  trustedKeys: ReadonlyArray<TrustedKey>,
): SignatureVerdict => {
  if (signatureText === undefined) return { _tag: "Unsigned" }
  const decoded = decodeManifestSignature(signatureText)
  if (Result.isFailure(decoded)) return { _tag: "MalformedSignature", problem: decoded.failure }
  const { keyId, signature } = decoded.success
  const trusted = trustedKeys.find((k) => k.keyId === keyId)
  if (trusted === undefined) return { _tag: "UnknownKey", keyId }
  const bytes = Buffer.from(signature, "base64")
  return bytes.length === 64 && verify(null, manifestBytes, trusted.publicKey, bytes) ? { _tag: "Verified", keyId } : { _tag: "BadSignature", keyId }
}

/** A sentence for a verdict, naming key ids (never keys), for verify's and restore's reports. */
export const describeSignatureVerdict = (verdict: SignatureVerdict, trustedKeys: ReadonlyArray<TrustedKey>): string => {
  switch (verdict._tag) {
    case "Verified":
      return `the manifest is signed by trusted key ${verdict.keyId}`
    case "Unsigned":
      return trustedKeys.length === 0
        ? "the manifest is not signed and no trusted key was given: the backup is unauthenticated"
        : "the manifest is not signed, but trusted keys were given: anyone able to write to the backup location could have made it; refusing it"
    case "UnknownKey":
      return `the manifest is signed by key ${verdict.keyId}, which is not among the trusted keys (${trustedKeys.map((k) => k.keyId).join(", ") || "none given"}); refusing it unless that key is added with --trusted-key`
    case "BadSignature":
      return `the manifest's signature by trusted key ${verdict.keyId} does not match its bytes: the manifest (or its signature) was altered; use an intact copy`
    case "MalformedSignature":
      return `the manifest's signature file is malformed: ${verdict.problem}`
  }
}

/** Why a manifest with this verdict is not trusted, as a clause about "it" (the backup). */
const untrustedWhy = (verdict: Exclude<SignatureVerdict, { readonly _tag: "Verified" }>): string => {
  switch (verdict._tag) {
    case "Unsigned":
      return "its manifest is not signed"
    case "UnknownKey":
      return `its manifest is signed by key ${verdict.keyId}, which is not a trusted key`
    case "BadSignature":
      return `its manifest's signature by key ${verdict.keyId} does not match the manifest`
    case "MalformedSignature":
      return "its signature file cannot be read"
  }
}

/** Whether a trusted key signed a backup's manifest: by which, or why not. */
export type ManifestTrust = { readonly trusted: true; readonly keyId: string } | { readonly trusted: false; readonly why: string }

export const manifestTrustOf = (verdict: SignatureVerdict): ManifestTrust =>
  verdict._tag === "Verified" ? { trusted: true, keyId: verdict.keyId } : { trusted: false, why: untrustedWhy(verdict) }
