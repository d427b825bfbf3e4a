import { Result } from "effect"
import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { decodeManifestSignature, encodeManifestSignature, type ManifestSignature } from "../../src/domain/manifest-signature-file.ts"

const signatureArb: fc.Arbitrary<ManifestSignature> = fc.record({
  format: fc.constant(1 as const),
  algorithm: fc.constant("ed25519" as const),
  keyId: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${Buffer.from(b).toString("hex")}`),
  signature: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => Buffer.from(b).toString("base64")),
})

describe("the manifest signature file", () => {
  test.prop([signatureArb])("decodes what it encodes, and encodes it the same way again (canonical JSON)", (signature) => {
    const text = encodeManifestSignature(signature)
    expect(decodeManifestSignature(text)).toEqual(Result.succeed(signature))
    expect(encodeManifestSignature(Result.getOrThrow(decodeManifestSignature(text)))).toBe(text)
  })

  test.prop([
    signatureArb,
    fc.constantFrom<ReadonlyArray<readonly [string, unknown]>>(
      [["format", 2]],
      [["algorithm", "rsa"]],
      [["keyId", "sha256:ABC"]],
      [["signature", "c2lnbmF0dXJl"]],
      [["extra", true]],
    ),
  ])("refuses a field changed or added, naming it", (signature, changes) => {
    const changed = { ...signature, ...Object.fromEntries(changes) }
    const decoded = decodeManifestSignature(JSON.stringify(changed))
    expect(Result.isFailure(decoded)).toBe(true)
    if (Result.isFailure(decoded)) expect(decoded.failure).toContain(changes[0]![0])
  })
})
