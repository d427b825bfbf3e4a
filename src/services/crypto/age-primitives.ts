/**
 * The age v1 derivations and the STREAM chunk seal, on node:crypto (OpenSSL): the header MAC
 * key and payload key from the file key (HKDF-SHA256), and ChaCha20-Poly1305 per 64 KiB chunk.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto"
import { chunkTagBytes, streamNonce } from "../../domain/age-payload-layout.ts"

const noSalt = Buffer.alloc(0)

/** HMAC-SHA256 of the header bytes under HKDF(file key, "header"). */
export const headerMac = (fileKey: Uint8Array, macInput: Uint8Array): Buffer =>
  createHmac("sha256", Buffer.from(hkdfSync("sha256", fileKey, noSalt, "header", 32)))
    .update(macInput)
    .digest()

export const headerMacMatches = (fileKey: Uint8Array, macInput: Uint8Array, mac: Uint8Array): boolean =>
  mac.length === 32 && timingSafeEqual(headerMac(fileKey, macInput), mac)

/** The payload key: HKDF(file key, salt = the payload nonce, "payload"). */
export const payloadKey = (fileKey: Uint8Array, nonce: Uint8Array): Buffer => Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32))

/** Seals one chunk; the ciphertext and its tag, to be written in that order. */
export const sealChunk = (key: Buffer, counter: number, last: boolean, plaintext: Uint8Array): [Buffer, Buffer] => {
  const cipher = createCipheriv("chacha20-poly1305", key, streamNonce(counter, last), { authTagLength: chunkTagBytes })
  const sealed = cipher.update(plaintext)
  cipher.final()
  return [sealed, cipher.getAuthTag()]
}

/** Opens one sealed chunk (ciphertext + tag); `undefined` when it does not authenticate under that counter and flag. */
export const openChunk = (key: Buffer, counter: number, last: boolean, sealed: Uint8Array): Buffer | undefined => {
  if (sealed.length < chunkTagBytes) return undefined
  const decipher = createDecipheriv("chacha20-poly1305", key, streamNonce(counter, last), { authTagLength: chunkTagBytes })
  decipher.setAuthTag(sealed.subarray(sealed.length - chunkTagBytes))
  const plaintext = decipher.update(sealed.subarray(0, sealed.length - chunkTagBytes))
  try {
    decipher.final()
  } catch {
    return undefined
  }
  return plaintext
}
