/** A fresh ed25519 key pair as the commands parse them: the private half to sign with, the public half to trust. */
import { generateKeyPairSync } from "node:crypto"
import { Result } from "effect"
import { parseSigningKey, parseTrustedKey, type SigningKey, type TrustedKey } from "../../src/services/crypto/manifest-signature.ts"

export const signingKeyPair = (): { readonly signing: SigningKey; readonly trusted: TrustedKey } => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  return {
    signing: Result.getOrThrow(parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }).toString())),
    trusted: Result.getOrThrow(parseTrustedKey(publicKey.export({ format: "pem", type: "spki" }).toString(), "test.pub")),
  }
}
