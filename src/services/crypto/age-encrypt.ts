/**
 * age v1 encryption as a stream: plaintext chunks in, the age file's bytes out (header, payload
 * nonce, STREAM chunks), holding at most one 64 KiB chunk of plaintext. The output is readable
 * by `age -d` and any age v1 implementation.
 */
import { createSecretKey, randomBytes } from "node:crypto"
import { ageHeaderMacInput, encodeAgeHeader } from "../../domain/age-header.ts"
import { payloadNonceBytes, plaintextChunkBytes } from "../../domain/age-payload-layout.ts"
import { AgeRecipientInvalid } from "./age-errors.ts"
import { type AgeRecipient, wrapFileKey } from "./age-keys.ts"
import { headerMac, payloadKey } from "./age-primitives.ts"
import { sealRun } from "./age-stream-chunks.ts"
import { FixedSizeChunker } from "./fixed-size-chunker.ts"

export interface AgeFileStart {
  /** The header and the payload nonce: the file's first bytes. */
  readonly prefix: Buffer
  /** The payload key the chunks are sealed with. */
  readonly key: Buffer
}

/**
 * A fresh file key wrapped for every recipient (anyone holding one of their identities can
 * decrypt): the header and payload nonce to write first, and the payload key. Throws
 * `AgeRecipientInvalid` when `recipients` is empty.
 */
export const startAgeFile = (recipients: ReadonlyArray<AgeRecipient>, source: string): AgeFileStart => {
  if (recipients.length === 0)
    throw new AgeRecipientInvalid({ source, message: `no recipient was given to encrypt ${source} to; name at least one age1... recipient` })
  const fileKey = randomBytes(16)
  const stanzas = recipients.map((r) => wrapFileKey(fileKey, r))
  const header = encodeAgeHeader(stanzas, headerMac(fileKey, ageHeaderMacInput(stanzas)))
  const nonce = randomBytes(payloadNonceBytes)
  const key = payloadKey(fileKey, nonce)
  fileKey.fill(0)
  return { prefix: Buffer.concat([header, nonce]), key }
}

/**
 * Encrypts `plaintext` to every recipient. Throws `AgeRecipientInvalid` before reading anything
 * when `recipients` is empty; errors of `plaintext` pass through.
 */
export async function* encryptAge(
  plaintext: AsyncIterable<Uint8Array>,
  recipients: ReadonlyArray<AgeRecipient>,
  source = "the plaintext",
): AsyncGenerator<Uint8Array> {
  const { prefix, key: keyBytes } = startAgeFile(recipients, source)
  const key = createSecretKey(keyBytes)
  keyBytes.fill(0)
  yield prefix
  // Pieces are yielded as sealed (ciphertext, then tag) rather than joined: a copy costs more than the seal.
  const sealed: Array<Uint8Array> = []
  const release = (bytes: Uint8Array) => sealed.push(bytes)
  const chunker = new FixedSizeChunker(plaintextChunkBytes)
  let counter = 0
  for await (const piece of plaintext) {
    for (const chunk of chunker.push(piece)) {
      sealRun(key, counter++, chunk, false, release)
      yield* sealed.splice(0)
    }
  }
  sealRun(key, counter, chunker.end(), true, release)
  yield* sealed.splice(0)
}
