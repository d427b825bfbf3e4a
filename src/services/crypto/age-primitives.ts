/**
 * The age v1 derivations on node:crypto (OpenSSL): the header MAC key and the payload key from the
 * file key (HKDF-SHA256). The chunks' seal is in age-stream-chunks.ts.
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto"

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
