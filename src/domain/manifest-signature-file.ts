/**
 * The detached signature of a backup manifest, `backup-manifest.json.sig` beside it: canonical
 * JSON naming the algorithm, the signing key (its id: sha256 of the public key's SPKI DER, so a
 * verifier can say which key signed without holding it) and the signature over the manifest's
 * exact bytes.
 *
 *     {
 *       "format": 1,
 *       "algorithm": "ed25519",
 *       "keyId": "sha256:<64 hex>",
 *       "signature": "<base64 of 64 bytes>"
 *     }
 */
import { Result, Schema } from "effect"
import { canonicalJson } from "./canonical-json.ts"
import { manifestFileName } from "./archive-names.ts"
import { firstKeyedProblem } from "./schema-errors.ts"

export const signatureFileName = `${manifestFileName}.sig`

export const KeyId = Schema.String.check(Schema.isPattern(/^sha256:[0-9a-f]{64}$/))

export const ManifestSignature = Schema.Struct({
  format: Schema.Literal(1),
  algorithm: Schema.Literal("ed25519"),
  keyId: KeyId,
  signature: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9+/]{86}==$/)),
})
export type ManifestSignature = typeof ManifestSignature.Type

const keyOrder = ["format", "algorithm", "keyId", "signature"]

export const encodeManifestSignature = (signature: ManifestSignature): string => canonicalJson(signature, keyOrder)

const decodeShape = Schema.decodeUnknownResult(Schema.fromJsonString(ManifestSignature), { onExcessProperty: "error" })

/** Decodes a signature file's text; the problem (naming the field) when it is not one. */
export const decodeManifestSignature = (text: string): Result.Result<ManifestSignature, string> => {
  const decoded = decodeShape(text)
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return Result.fail(key === "" ? message : `${key} ${message}`)
  }
  return Result.succeed(decoded.success)
}
