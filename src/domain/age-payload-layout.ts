/**
 * The layout of an age v1 payload: a 16-byte nonce, then the plaintext in STREAM chunks of
 * 64 KiB, each sealed with ChaCha20-Poly1305 (16-byte tag) under the nonce
 * `counter (11 bytes, big endian) || last-chunk flag (1 byte)`. The last chunk may be short or
 * full, and is empty only when the whole plaintext is.
 */

export const payloadNonceBytes = 16
export const plaintextChunkBytes = 64 * 1024
export const chunkTagBytes = 16
export const ciphertextChunkBytes = plaintextChunkBytes + chunkTagBytes

/** The STREAM nonce of chunk `counter` (below 2^53, far beyond any file). */
export const streamNonce = (counter: number, last: boolean): Uint8Array => {
  const nonce = new Uint8Array(12)
  let n = counter
  for (let i = 10; i >= 0 && n > 0; i--) {
    nonce[i] = n % 256
    n = Math.floor(n / 256)
  }
  nonce[11] = last ? 1 : 0
  return nonce
}

/** How many chunks `plaintextBytes` take: at least one (the empty last chunk of an empty file). */
export const chunkCount = (plaintextBytes: number): number => Math.max(1, Math.ceil(plaintextBytes / plaintextChunkBytes))

/** The payload's size (nonce included) for `plaintextBytes` of plaintext. */
export const payloadBytes = (plaintextBytes: number): number => payloadNonceBytes + plaintextBytes + chunkCount(plaintextBytes) * chunkTagBytes

/** The plaintext's size for a payload of `bytes` (nonce included); `undefined` when no plaintext gives that size. */
export const plaintextBytes = (bytes: number): number | undefined => {
  const sealed = bytes - payloadNonceBytes
  if (sealed < chunkTagBytes) return undefined
  const full = Math.floor(sealed / ciphertextChunkBytes)
  const rest = sealed % ciphertextChunkBytes
  if (rest === 0) return full === 0 ? undefined : full * plaintextChunkBytes
  // A last chunk of only a tag is the empty file's, never one after full chunks.
  if (rest < chunkTagBytes || (rest === chunkTagBytes && full > 0)) return undefined
  return full * plaintextChunkBytes + rest - chunkTagBytes
}
