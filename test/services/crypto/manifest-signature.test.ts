/**
 * Signed manifests: ed25519 over the manifest's exact bytes, keys made by openssl (PKCS#8 and
 * SPKI PEM), the signature checked by openssl too; the forgeries of issue 17 refused.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeBackupManifest, encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { decodeManifestSignature, signatureFileName } from "../../../src/domain/manifest-signature-file.ts"
import { exampleManifest, sha } from "../../support/example-manifest.ts"
import {
  describeSignatureVerdict,
  parseSigningKey,
  parseTrustedKey,
  signManifest,
  type SigningKey,
  type TrustedKey,
  verifyManifestSignature,
} from "../../../src/services/crypto/manifest-signature.ts"
import { tempDir } from "../../support/temp-dir.ts"

const manifest = exampleManifest

const dir = tempDir("manifest-sig")
const openssl = (args: ReadonlyArray<string>) => execFileSync("openssl", args, { encoding: "utf8" })
const makeKey = (name: string) => {
  openssl(["genpkey", "-algorithm", "ed25519", "-out", join(dir, `${name}.pem`)])
  openssl(["pkey", "-in", join(dir, `${name}.pem`), "-pubout", "-out", join(dir, `${name}.pub.pem`)])
  const signing = Result.getOrThrow(parseSigningKey(readFileSync(join(dir, `${name}.pem`))))
  const trusted = Result.getOrThrow(parseTrustedKey(readFileSync(join(dir, `${name}.pub.pem`)), join(dir, `${name}.pub.pem`)))
  return { signing, trusted, privatePem: readFileSync(join(dir, `${name}.pem`), "utf8") }
}
let ours: { signing: SigningKey; trusted: TrustedKey; privatePem: string }
let stranger: { signing: SigningKey; trusted: TrustedKey; privatePem: string }
let bytes: Buffer
let signature: string

beforeAll(() => {
  ours = makeKey("ours")
  stranger = makeKey("stranger")
  bytes = Buffer.from(encodeBackupManifest(manifest))
  signature = signManifest(bytes, ours.signing)
})

describe("manifest signatures", () => {
  it("sits beside the manifest as backup-manifest.json.sig", () => {
    expect(signatureFileName).toBe("backup-manifest.json.sig")
  })

  it("verifies with the trusted key and reports its id: sha256 of the SPKI DER, as openssl computes it", () => {
    const der = execFileSync("openssl", ["pkey", "-pubin", "-in", join(dir, "ours.pub.pem"), "-outform", "DER"])
    const keyId = `sha256:${createHash("sha256").update(der).digest("hex")}`
    expect(ours.signing.keyId).toBe(keyId)
    expect(verifyManifestSignature(bytes, signature, [stranger.trusted, ours.trusted])).toEqual({ _tag: "Verified", keyId })
    expect(describeSignatureVerdict({ _tag: "Verified", keyId }, [ours.trusted])).toContain(keyId)
  })

  it("is a plain ed25519 signature over the exact bytes: openssl verifies it", () => {
    const sig = Result.getOrThrow(decodeManifestSignature(signature))
    writeFileSync(join(dir, "manifest.json"), bytes)
    writeFileSync(join(dir, "sig.bin"), Buffer.from(sig.signature, "base64"))
    const out = openssl([
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      join(dir, "ours.pub.pem"),
      "-rawin",
      "-in",
      join(dir, "manifest.json"),
      "-sigfile",
      join(dir, "sig.bin"),
    ])
    expect(out).toContain("Signature Verified Successfully")
  })

  it("the signature file is canonical JSON: algorithm, key id, signature; decoded strictly", () => {
    const decoded = Result.getOrThrow(decodeManifestSignature(signature))
    expect(Object.keys(JSON.parse(signature))).toEqual(["format", "algorithm", "keyId", "signature"])
    expect(decoded).toMatchObject({ format: 1, algorithm: "ed25519", keyId: ours.signing.keyId })
    expect(Result.isFailure(decodeManifestSignature(signature.replace('"format": 1,', '"format": 1, "extra": 2,')))).toBe(true)
  })

  it("forgery: a snapshot from another backup with the manifest's hashes rewritten (format 2 re-hashed itself) -> BadSignature", () => {
    const forged = { ...manifest, files: { ...manifest.files, snapshot: { ...manifest.files.snapshot, size: 200000032, sha256: sha("e") } } }
    const forgedBytes = Buffer.from(encodeBackupManifest(forged))
    // The forged manifest is itself well-formed: only the signature can tell.
    expect(Result.isSuccess(decodeBackupManifest(forgedBytes.toString("utf8")))).toBe(true)
    const verdict = verifyManifestSignature(forgedBytes, signature, [ours.trusted])
    expect(verdict).toEqual({ _tag: "BadSignature", keyId: ours.signing.keyId })
    expect(describeSignatureVerdict(verdict, [ours.trusted])).toContain("altered")
  })

  it("forgery: the forged manifest re-signed with an unknown key -> UnknownKey, naming that key's id and the trusted ones", () => {
    const forgedBytes = Buffer.from(encodeBackupManifest({ ...manifest, etcd: { ...manifest.etcd, revision: 1 } }))
    const verdict = verifyManifestSignature(forgedBytes, signManifest(forgedBytes, stranger.signing), [ours.trusted])
    expect(verdict).toEqual({ _tag: "UnknownKey", keyId: stranger.signing.keyId })
    const sentence = describeSignatureVerdict(verdict, [ours.trusted])
    expect(sentence).toContain(stranger.signing.keyId)
    expect(sentence).toContain(ours.trusted.keyId)
  })

  it("forgery: the signature removed -> Unsigned; refused with trusted keys, 'unauthenticated' without", () => {
    const verdict = verifyManifestSignature(bytes, undefined, [ours.trusted])
    expect(verdict).toEqual({ _tag: "Unsigned" })
    expect(describeSignatureVerdict(verdict, [ours.trusted])).toContain("refusing")
    expect(describeSignatureVerdict(verdict, [])).toContain("unauthenticated")
  })

  it("a signature taken from another manifest, with its key id kept -> BadSignature", () => {
    const other = Buffer.from(encodeBackupManifest({ ...manifest, createdAt: "2024-05-01T12:00:08Z" }))
    expect(verifyManifestSignature(other, signature, [ours.trusted])._tag).toBe("BadSignature")
  })

  it("a malformed signature file -> MalformedSignature naming the field", () => {
    const verdict = verifyManifestSignature(bytes, signature.replace('"ed25519"', '"rsa"'), [ours.trusted])
    expect(verdict._tag).toBe("MalformedSignature")
    expect(verdict._tag === "MalformedSignature" && verdict.problem).toContain("algorithm")
    expect(verifyManifestSignature(bytes, "not json", [ours.trusted])._tag).toBe("MalformedSignature")
  })

  it("keys: a private key is refused as a trusted key, other key types are refused, problems never quote the PEM", () => {
    const asTrusted = parseTrustedKey(ours.privatePem, "ours.pem")
    expect(Result.isFailure(asTrusted) && asTrusted.failure).toContain("private key")
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", join(dir, "ec.pem")])
    const ec = parseSigningKey(readFileSync(join(dir, "ec.pem")))
    expect(Result.isFailure(ec) && ec.failure).toBe("is an EC key, not ed25519: make one with openssl genpkey -algorithm ed25519")
    openssl(["pkey", "-in", join(dir, "ec.pem"), "-pubout", "-out", join(dir, "ec.pub")])
    const ecTrusted = parseTrustedKey(readFileSync(join(dir, "ec.pub")), "ec.pub")
    expect(Result.isFailure(ecTrusted) && ecTrusted.failure).toBe(
      "is an EC key, not ed25519: give the public key of the ed25519 signing key (openssl pkey -pubout)",
    )
    // A TLS certificate given for a trusted key: named as one, not as the key type inside it.
    openssl(["req", "-x509", "-key", join(dir, "ec.pem"), "-subj", "/CN=ca", "-days", "1", "-out", join(dir, "ca.crt")])
    const certificate = parseTrustedKey(readFileSync(join(dir, "ca.crt")), "ca.crt")
    expect(Result.isFailure(certificate) && certificate.failure).toContain("holds a certificate, not a public key")
    const garbage = parseSigningKey(ours.privatePem.slice(0, 60))
    expect(Result.isFailure(garbage) && garbage.failure).not.toContain(ours.privatePem.split("\n")[1]!.slice(0, 20))
  })

  it("a passphrase-protected signing key is named as such, not as something other than a PEM private key", () => {
    openssl(["genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:secret", "-out", join(dir, "encrypted.pem")])
    const parsed = parseSigningKey(readFileSync(join(dir, "encrypted.pem")))
    expect(Result.isFailure(parsed) && parsed.failure).toContain("passphrase")
    expect(Result.isFailure(parsed) && parsed.failure).not.toContain("is not a PEM private key")
  })

  it("the signing key never shows: String, JSON and inspect print <redacted>", async () => {
    const { inspect } = await import("node:util")
    const body = ours.privatePem.split("\n")[1]!
    for (const text of [String(ours.signing.privateKey), JSON.stringify(ours.signing), inspect(ours.signing, { depth: 5 })]) {
      expect(text).not.toContain(body)
      expect(text).not.toContain("PRIVATE KEY")
    }
  })
})
