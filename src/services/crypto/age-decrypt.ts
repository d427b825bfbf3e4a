/**
 * age v1 decryption as a stream: the age file's bytes in, plaintext chunks out, holding at most
 * the header and one sealed 64 KiB chunk. Nothing is released before the header's MAC is
 * checked; each chunk is released only once it authenticated, and a chunk is taken as the last
 * only at the end of the input, so a file cut at a chunk boundary fails instead of ending early.
 *
 * What it released before a failure is authentic but incomplete: callers write to a `.part`
 * file and rename it only once the iteration ended without error (see `age-files.ts`).
 */
import { createSecretKey } from "node:crypto"
import { Result } from "effect"
import { parseAgeHeader } from "../../domain/age-header.ts"
import { ciphertextChunkBytes, payloadNonceBytes, plaintextChunkBytes } from "../../domain/age-payload-layout.ts"
import { AgeHeaderInvalid, AgeHeaderMacMismatch, AgeNoIdentityMatched, AgePayloadCorrupt, AgePayloadTruncated } from "./age-errors.ts"
import { type AgeIdentity, unwrapFileKey, x25519Share } from "./age-keys.ts"
import { headerMacMatches, payloadKey } from "./age-primitives.ts"
import { type CorruptChunkProblem, type OpenRunOutcome, openRun } from "./age-stream-chunks.ts"
import { FixedSizeChunker } from "./fixed-size-chunker.ts"

/** Far beyond any real header (an X25519 stanza takes about 100 bytes), so memory stays bounded. */
export const maxHeaderBytes = 1024 * 1024

export interface DecryptOptions {
  /** What the bytes are (a path), for messages. */
  readonly source: string
  readonly identities: ReadonlyArray<AgeIdentity>
  /** The files the identities came from, named when none matches. */
  readonly identityFiles: ReadonlyArray<string>
}

const describeFiles = (files: ReadonlyArray<string>) =>
  files.length === 0 ? "no identity file was given" : `tried ${files.length === 1 ? "identity file" : "identity files"} ${files.join(", ")}`

/** Reads bytes from `input` through the header, checks its MAC; the payload key and what followed the payload nonce. */
export const openHeader = async (input: AsyncIterator<Uint8Array>, options: DecryptOptions): Promise<{ key: Buffer; rest: Buffer }> => {
  const { source } = options
  let buffered = Buffer.alloc(0)
  for (;;) {
    const parsed = parseAgeHeader(buffered)
    if (parsed._tag === "Invalid") throw new AgeHeaderInvalid({ source, message: `${source} ${parsed.problem}` })
    if (parsed._tag === "Parsed") {
      const shares = parsed.stanzas.filter((s) => s.type === "X25519").map((s) => [s, x25519Share(s)] as const)
      for (const [, share] of shares) {
        if (Result.isFailure(share)) throw new AgeHeaderInvalid({ source, message: `${source} has a malformed header: ${share.failure}` })
      }
      let fileKey: Uint8Array | undefined
      for (const identity of options.identities) {
        for (const [stanza, share] of shares) {
          const found = unwrapFileKey(stanza, Result.getOrThrow(share), identity)
          if (Result.isFailure(found)) throw new AgeHeaderInvalid({ source, message: `${source} has a malformed header: ${found.failure}` })
          fileKey = found.success
          if (fileKey !== undefined) break
        }
        if (fileKey !== undefined) break
      }
      if (fileKey === undefined) {
        throw new AgeNoIdentityMatched({
          source,
          identityFiles: [...options.identityFiles],
          x25519Stanzas: shares.length,
          message: `${source} cannot be opened with the identities given (${describeFiles(options.identityFiles)}): none of them is a recipient of the file (its header has ${shares.length} X25519 recipient${shares.length === 1 ? "" : "s"}); pass the identity file (--identity) whose recipient the backup was encrypted to`,
        })
      }
      if (!headerMacMatches(fileKey, parsed.macInput, parsed.mac)) {
        throw new AgeHeaderMacMismatch({
          source,
          message: `${source}: the header's MAC does not match: the header was altered after it was written; use an intact copy`,
        })
      }
      let rest = buffered.subarray(parsed.length)
      while (rest.length < payloadNonceBytes) {
        const next = await input.next()
        if (next.done)
          throw new AgeHeaderInvalid({
            source,
            message: `${source} ends ${rest.length === 0 ? "right after its header" : "inside the payload nonce"}: it was cut short; use an intact copy`,
          })
        rest = Buffer.concat([rest, next.value])
      }
      const key = payloadKey(fileKey, rest.subarray(0, payloadNonceBytes))
      fileKey.fill(0)
      return { key, rest: rest.subarray(payloadNonceBytes) }
    }
    if (buffered.length > maxHeaderBytes)
      throw new AgeHeaderInvalid({
        source,
        message: `${source} has no end of header in its first ${maxHeaderBytes} bytes: it is not an age file, or was damaged`,
      })
    const next = await input.next()
    if (next.done) {
      throw new AgeHeaderInvalid({
        source,
        message:
          buffered.length === 0
            ? `${source} is empty: an age file (even of an empty plaintext) has a header; use an intact copy`
            : `${source} ends inside its header (${buffered.length} bytes): it was cut short, or is not an age file`,
      })
    }
    buffered = Buffer.concat([buffered, next.value])
  }
}

/**
 * Checks that the identities open the header at the start of an age file (its first bytes, as a ranged GET brings
 * them): throws `AgeNoIdentityMatched` when the header is there whole and none of them is its recipient. `short`:
 * `start` ends inside the header, more of the file's first bytes would decide. `undecided`: a damaged header, which
 * the decryption of the whole file tells.
 */
export const checkIdentitiesOpen = async (start: Uint8Array, options: DecryptOptions): Promise<"opened" | "short" | "undecided"> => {
  let drained = false
  const input = (async function* () {
    yield Buffer.from(start.buffer, start.byteOffset, start.byteLength)
    drained = true
  })()
  try {
    const { key } = await openHeader(input, options)
    key.fill(0)
    return "opened"
  } catch (e) {
    if (e instanceof AgeNoIdentityMatched) throw e
    return drained ? "short" : "undecided"
  }
}

/** The error for a payload that did not open: which chunk, and what to do. */
export const payloadFailure = (source: string, outcome: Exclude<OpenRunOutcome, { _tag: "Opened" }>): AgePayloadCorrupt | AgePayloadTruncated => {
  if (outcome._tag === "Truncated") {
    const { chunks } = outcome
    return new AgePayloadTruncated({
      source,
      chunks,
      message: `${source} ends after ${chunks} chunk${chunks === 1 ? "" : "s"} of its payload without the last one: it was cut short; use an intact copy`,
    })
  }
  const { chunk } = outcome
  return new AgePayloadCorrupt({
    source,
    chunk,
    message: `${source}: chunk ${chunk} of the payload (bytes from ${chunk * plaintextChunkBytes} of the plaintext) ${corruptChunkWords[outcome.problem]}; use an intact copy`,
  })
}

const corruptChunkWords: Record<CorruptChunkProblem, string> = {
  altered: "does not authenticate: it was altered, or chunks were reordered",
  appended: "follows the last chunk: data was appended to the file",
  "last-altered": "does not authenticate as the last chunk: it was altered, or the file was cut short",
  "empty-last": "is an empty last chunk after full ones, which no age encryptor writes",
}

/**
 * Decrypts an age file with the first identity that opens it. Throws `AgeDecryptError`s (each
 * naming `options.source`); errors of `ciphertext` pass through.
 */
export async function* decryptAge(ciphertext: AsyncIterable<Uint8Array>, options: DecryptOptions): AsyncGenerator<Uint8Array> {
  const { source } = options
  const input = ciphertext[Symbol.asyncIterator]()
  try {
    const opening = await openHeader(input, options)
    const key = createSecretKey(opening.key)
    opening.key.fill(0)
    const { rest } = opening
    const chunker = new FixedSizeChunker(ciphertextChunkBytes)
    const opened: Array<Uint8Array> = []
    const release = (plaintext: Uint8Array) => opened.push(plaintext)
    let counter = 0
    // What authenticated is released even when a later chunk fails (see the module's comment).
    const open = function* (chunk: Uint8Array, final: boolean): Generator<Uint8Array> {
      const outcome = openRun(key, counter, chunk, final, release)
      yield* opened.splice(0)
      if (outcome._tag !== "Opened") throw payloadFailure(source, outcome)
      counter = outcome.next
    }
    for (const chunk of chunker.push(rest)) yield* open(chunk, false)
    for (;;) {
      const next = await input.next()
      if (next.done) break
      for (const chunk of chunker.push(next.value)) yield* open(chunk, false)
    }
    yield* open(chunker.end(), true)
  } finally {
    await input.return?.()
  }
}
