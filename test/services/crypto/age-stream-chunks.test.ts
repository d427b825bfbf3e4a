/**
 * STREAM runs (age-stream-chunks.ts), with 4-byte chunks so that many-chunk streams stay small:
 * sealing in runs of any number of whole chunks gives the bytes chunk-by-chunk sealing gives,
 * any split into whole sealed chunks opens back to the plaintext, and one flipped bit is refused
 * at the chunk that holds it, with everything before it released.
 */
import * as nodeCrypto from "node:crypto"
import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { streamNonce } from "../../../src/domain/age-payload-layout.ts"
import { ageStreamChunks } from "../../../src/services/crypto/age-stream-chunks.ts"

const chunk = 4
const sealedChunk = chunk + 16
const { sealRun, openRun } = ageStreamChunks(nodeCrypto, { plaintextChunkBytes: chunk, chunkTagBytes: 16, streamNonce })
const key = nodeCrypto.createSecretKey(nodeCrypto.randomBytes(32))

/** `bytes` cut into runs of `runChunks[i]` whole `unit`s (cycled; a run always has bytes after it), the rest as the final run. */
const runsOf = (bytes: Uint8Array, unit: number, runChunks: ReadonlyArray<number>): Array<Uint8Array> => {
  const runs: Array<Uint8Array> = []
  let at = 0
  for (let i = 0; runChunks.length > 0 && at + runChunks[i % runChunks.length]! * unit < bytes.length; i++) {
    const n = runChunks[i % runChunks.length]! * unit
    runs.push(bytes.subarray(at, at + n))
    at += n
  }
  return [...runs, bytes.subarray(at)]
}

const seal = (plaintext: Uint8Array, runChunks: ReadonlyArray<number>) => {
  const out: Array<Uint8Array> = []
  const runs = runsOf(plaintext, chunk, runChunks)
  let counter = 0
  for (const [i, run] of runs.entries()) {
    sealRun(key, counter, run, i === runs.length - 1, (b) => out.push(b))
    counter += run.length / chunk
  }
  return Buffer.concat(out)
}

const open = (sealed: Uint8Array, runChunks: ReadonlyArray<number>) => {
  const released: Array<Uint8Array> = []
  const runs = runsOf(sealed, sealedChunk, runChunks)
  let counter = 0
  for (const [i, run] of runs.entries()) {
    const outcome = openRun(key, counter, run, i === runs.length - 1, (b) => released.push(b))
    if (outcome._tag !== "Opened" || i === runs.length - 1) return { outcome, plaintext: Buffer.concat(released) }
    counter = outcome.next
  }
  throw new Error("unreachable: the last run returns")
}

const plaintexts = fc.uint8Array({ maxLength: 60 })
const runs = fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 4 })

describe("STREAM runs", () => {
  test.prop([plaintexts, runs, runs])("sealing in runs is sealing chunk by chunk; any split opens back", (plaintext, sealRuns, openRuns) => {
    const sealed = seal(plaintext, sealRuns)
    expect(sealed.equals(seal(plaintext, [1]))).toBe(true)
    const chunks = Math.max(1, Math.ceil(plaintext.length / chunk))
    expect(sealed.length).toBe(plaintext.length + chunks * 16)
    const opened = open(sealed, openRuns)
    expect(opened.outcome).toEqual({ _tag: "Opened", next: chunks })
    expect(opened.plaintext.equals(plaintext)).toBe(true)
  })

  test.prop([plaintexts, runs, fc.nat(), fc.integer({ min: 0, max: 7 })])(
    "a flipped bit is refused at its chunk, after the chunks before it were released",
    (plaintext, openRuns, where, bit) => {
      const sealed = seal(plaintext, [])
      const at = where % sealed.length
      sealed[at]! ^= 1 << bit
      const damaged = Math.floor(at / sealedChunk)
      const { outcome, plaintext: released } = open(sealed, openRuns)
      expect(outcome).toMatchObject({ _tag: "Corrupt", chunk: damaged })
      expect(released.equals(plaintext.subarray(0, damaged * chunk))).toBe(true)
    },
  )

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 60 }), runs])("a stream cut at a chunk boundary is truncated, not shorter", (plaintext, openRuns) => {
    const sealed = seal(plaintext, [])
    const chunks = Math.ceil(plaintext.length / chunk)
    if (chunks < 2) return
    const cut = open(sealed.subarray(0, (chunks - 1) * sealedChunk), openRuns)
    expect(cut.outcome).toEqual({ _tag: "Truncated", chunks: chunks - 1 })
    expect(open(new Uint8Array(0), openRuns).outcome).toEqual({ _tag: "Truncated", chunks: 0 })
  })

  test.prop([plaintexts, runs, fc.uint8Array({ minLength: 1, maxLength: 30 })])("bytes after the last chunk are refused", (plaintext, openRuns, extra) => {
    const sealed = Buffer.concat([seal(plaintext, []), extra])
    expect(open(sealed, openRuns).outcome._tag).toBe("Corrupt")
  })
})
