/**
 * age's STREAM: sealing and opening runs of 64 KiB chunks with ChaCha20-Poly1305 (OpenSSL's, through
 * node:crypto), and the rules that tell a good last chunk from a cut, altered or extended payload.
 * The streams (age-encrypt.ts, age-decrypt.ts) run it on the main thread one chunk at a time; the
 * file worker (age-file-worker.ts) runs the same code on runs of 16 chunks in shared memory.
 */
import * as nodeCrypto from "node:crypto"
import { chunkTagBytes, plaintextChunkBytes, streamNonce } from "../../domain/age-payload-layout.ts"

/**
 * The payload key. A `KeyObject` is what the chunks' ciphers are made with: node:crypto makes a
 * cipher from one in an eighth of the time it takes from bytes (~1.3 us against ~10 us a chunk, measured).
 */
export type PayloadKey = nodeCrypto.KeyObject

export interface StreamLayout {
  readonly plaintextChunkBytes: number
  readonly chunkTagBytes: number
  readonly streamNonce: (counter: number, last: boolean) => Uint8Array
}

/** Why a chunk was refused; age-decrypt.ts words each for a person. */
export type CorruptChunkProblem = "altered" | "appended" | "last-altered" | "empty-last"

/** How a run of sealed chunks opened. Counters are absolute: chunk `n` holds plaintext bytes from `n * 64 KiB`. */
export type OpenRunOutcome =
  /** Every chunk authenticated; `next` is the counter of the chunk after the run. */
  | { readonly _tag: "Opened"; readonly next: number }
  | { readonly _tag: "Corrupt"; readonly chunk: number; readonly problem: CorruptChunkProblem }
  /** The stream ended without its last chunk, after `chunks` chunks. */
  | { readonly _tag: "Truncated"; readonly chunks: number }

/**
 * The STREAM functions over `crypto` and `layout`. Self-contained: it uses nothing but its arguments,
 * because the file worker is started from its source text (`String(ageStreamChunks)`).
 */
export const ageStreamChunks = (crypto: typeof nodeCrypto, layout: StreamLayout) => {
  const { plaintextChunkBytes, chunkTagBytes, streamNonce } = layout
  const sealedChunkBytes = plaintextChunkBytes + chunkTagBytes

  /** Seals one chunk; the ciphertext and its tag, to be written in that order. */
  const sealChunk = (key: PayloadKey, counter: number, last: boolean, plaintext: Uint8Array): [Buffer, Buffer] => {
    const cipher = crypto.createCipheriv("chacha20-poly1305", key, streamNonce(counter, last), { authTagLength: chunkTagBytes })
    const sealed = cipher.update(plaintext)
    cipher.final()
    return [sealed, cipher.getAuthTag()]
  }

  /** Opens one sealed chunk (ciphertext + tag); `undefined` when it does not authenticate under that counter and flag. */
  const openChunk = (key: PayloadKey, counter: number, last: boolean, sealed: Uint8Array): Buffer | undefined => {
    if (sealed.length < chunkTagBytes) return undefined
    const decipher = crypto.createDecipheriv("chacha20-poly1305", key, streamNonce(counter, last), { authTagLength: chunkTagBytes })
    decipher.setAuthTag(sealed.subarray(sealed.length - chunkTagBytes))
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - chunkTagBytes))
    try {
      decipher.final()
    } catch {
      return undefined
    }
    return plaintext
  }

  /** Where the chunks known not to be last end: all of a run that does not end the stream, else all but its last chunk. */
  const bodyEnd = (length: number, chunkBytes: number, final: boolean) =>
    !final ? length : length === 0 ? 0 : Math.floor((length - 1) / chunkBytes) * chunkBytes

  /**
   * Seals `run` as chunks `counter`, `counter + 1`, ...: whole chunks, unless `final` (the run ends
   * the stream), when its last chunk (1 byte to a whole chunk, or none for an empty stream) is sealed
   * as the last. Hands each ciphertext and tag to `release` in order.
   */
  const sealRun = (key: PayloadKey, counter: number, run: Uint8Array, final: boolean, release: (bytes: Uint8Array) => void): void => {
    const body = bodyEnd(run.length, plaintextChunkBytes, final)
    let next = counter
    for (let at = 0; at < body; at += plaintextChunkBytes) {
      for (const part of sealChunk(key, next++, false, run.subarray(at, at + plaintextChunkBytes))) release(part)
    }
    if (final) for (const part of sealChunk(key, next, true, run.subarray(body))) release(part)
  }

  /**
   * Opens the sealed chunks of `run` from `counter` (whole chunks, unless `final`), handing each
   * authentic plaintext to `release` in order, up to the first that fails. A chunk is taken as the
   * last only at the end of the stream, so a stream cut at a chunk boundary fails instead of ending
   * early; a full chunk that opens only as the last is released (it is authentic) and what follows
   * it refused, as age itself does.
   */
  const openRun = (key: PayloadKey, counter: number, run: Uint8Array, final: boolean, release: (plaintext: Buffer) => void): OpenRunOutcome => {
    const body = bodyEnd(run.length, sealedChunkBytes, final)
    let next = counter
    for (let at = 0; at < body; at += sealedChunkBytes) {
      const chunk = run.subarray(at, at + sealedChunkBytes)
      const plaintext = openChunk(key, next, false, chunk)
      if (plaintext !== undefined) {
        release(plaintext)
        next++
        continue
      }
      const last = openChunk(key, next, true, chunk)
      if (last === undefined) return { _tag: "Corrupt", chunk: next, problem: "altered" }
      release(last)
      return { _tag: "Corrupt", chunk: next + 1, problem: "appended" }
    }
    if (!final) return { _tag: "Opened", next }
    const tail = run.subarray(body)
    if (tail.length === 0) return { _tag: "Truncated", chunks: next }
    const last = openChunk(key, next, true, tail)
    if (last === undefined) {
      const notLast = tail.length === sealedChunkBytes ? openChunk(key, next, false, tail) : undefined
      if (notLast === undefined) return { _tag: "Corrupt", chunk: next, problem: "last-altered" }
      release(notLast)
      return { _tag: "Truncated", chunks: next + 1 }
    }
    if (last.length === 0 && next > 0) return { _tag: "Corrupt", chunk: next, problem: "empty-last" }
    if (last.length > 0) release(last)
    return { _tag: "Opened", next: next + 1 }
  }

  return { sealChunk, openChunk, sealRun, openRun }
}

/** The layout of age v1 (age-payload-layout.ts), as the worker is handed it. */
export const ageStreamLayout: StreamLayout = { plaintextChunkBytes, chunkTagBytes, streamNonce }

/** The STREAM functions on this thread. */
export const { sealRun, openRun } = ageStreamChunks(nodeCrypto, ageStreamLayout)
