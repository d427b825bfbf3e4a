/**
 * The STREAM layer in memory: any plaintext size (chunk boundaries above all) and any split of
 * the input into pieces round-trips, the ciphertext has exactly the layout's size, and pieces
 * come out no larger than a chunk (memory stays bounded whatever the input's pieces).
 */
import { fc, test } from "@fast-check/vitest"
import { randomBytes } from "node:crypto"
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { payloadBytes, plaintextChunkBytes } from "../../../src/domain/age-payload-layout.ts"
import { decryptAge, maxHeaderBytes } from "../../../src/services/crypto/age-decrypt.ts"
import { encryptAge } from "../../../src/services/crypto/age-encrypt.ts"
import { generateIdentity, parseIdentity, parseRecipient } from "../../../src/services/crypto/age-keys.ts"

const key = generateIdentity()
const identity = Result.getOrThrow(parseIdentity(Redacted.value(key.identity), "test"))
const recipient = Result.getOrThrow(parseRecipient(key.recipient))

async function* split(bytes: Uint8Array, sizes: ReadonlyArray<number>) {
  let offset = 0
  for (let i = 0; offset < bytes.length; i++) {
    const n = sizes.length === 0 ? bytes.length : sizes[i % sizes.length]!
    yield bytes.subarray(offset, offset + n)
    offset += n
  }
}
const collect = async (it: AsyncIterable<Uint8Array>) => {
  const parts: Array<Uint8Array> = []
  for await (const p of it) parts.push(p)
  return parts
}
const headerLength = (file: Buffer) => file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1

const boundary = fc.constantFrom(0, 1, 65535, 65536, 65537, 131071, 131072, 131073, 196608)
const size = fc.oneof(boundary, fc.nat({ max: 300_000 }))
const pieceSizes = fc.array(fc.integer({ min: 1, max: 200_000 }), { maxLength: 5 })

describe("age STREAM", () => {
  test.prop([size, pieceSizes, pieceSizes], { numRuns: 60 })(
    "round trip for any size and any split of the input, ciphertext of the layout's size, pieces at most a chunk",
    async (n, inSizes, outSizes) => {
      const plaintext = randomBytes(n)
      const sealedParts = await collect(encryptAge(split(plaintext, inSizes), [recipient]))
      const file = Buffer.concat(sealedParts)
      expect(file.length).toBe(headerLength(file) + payloadBytes(n))
      // After the header and nonce, nothing larger than a chunk is held or yielded.
      for (const part of sealedParts.slice(1)) expect(part.length).toBeLessThanOrEqual(plaintextChunkBytes)
      const openedParts = await collect(decryptAge(split(file, outSizes), { source: "mem", identities: [identity], identityFiles: ["test"] }))
      for (const part of openedParts) expect(part.length).toBeLessThanOrEqual(plaintextChunkBytes)
      expect(Buffer.concat(openedParts).equals(plaintext)).toBe(true)
    },
  )

  it("two encryptions of the same plaintext differ (fresh file key, nonce and ephemeral share)", async () => {
    const plaintext = randomBytes(1000)
    const a = Buffer.concat(await collect(encryptAge(split(plaintext, []), [recipient])))
    const b = Buffer.concat(await collect(encryptAge(split(plaintext, []), [recipient])))
    expect(a.equals(b)).toBe(false)
  })

  it("no recipients: refused before reading anything", async () => {
    let pulled = false
    async function* source() {
      pulled = true
      yield new Uint8Array(1)
    }
    await expect(collect(encryptAge(source(), [], "snapshot.db"))).rejects.toMatchObject({ _tag: "AgeRecipientInvalid" })
    expect(pulled).toBe(false)
  })

  it("nothing is released before the header MAC is checked: a bad MAC yields no plaintext", async () => {
    const file = Buffer.concat(await collect(encryptAge(split(randomBytes(200_000), []), [recipient])))
    const at = file.indexOf("\n--- ") + 8
    file[at] = file[at] === 0x41 ? 0x42 : 0x41
    const released: Array<Uint8Array> = []
    await expect(
      (async () => {
        for await (const p of decryptAge(split(file, [1000]), { source: "mem", identities: [identity], identityFiles: ["test"] })) released.push(p)
      })(),
    ).rejects.toMatchObject({ _tag: "AgeHeaderMacMismatch" })
    expect(released).toEqual([])
  })

  it("a header that never ends is refused after maxHeaderBytes, not buffered without bound", async () => {
    let pulled = 0
    async function* endless() {
      yield Buffer.from("age-encryption.org/v1\n-> x\n")
      for (;;) {
        pulled += 64 * 1024
        yield Buffer.alloc(64 * 1024, 0x41)
      }
    }
    await expect(collect(decryptAge(endless(), { source: "endless.age", identities: [identity], identityFiles: ["test"] }))).rejects.toMatchObject({
      _tag: "AgeHeaderInvalid",
    })
    expect(pulled).toBeLessThanOrEqual(maxHeaderBytes + 2 * 64 * 1024)
  })
})
