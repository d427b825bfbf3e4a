/**
 * C2SP's age test vectors (the `cctv-age` package, the suite age's own implementations run):
 * every vector this implementation's features cover (X25519 identities, binary files; not
 * passphrases, armor or post-quantum identities) decrypts, or fails with the error class the
 * vector expects, having released exactly the plaintext the vector's hash names.
 */
import { createHash } from "node:crypto"
import { inflateSync } from "node:zlib"
import * as vectors from "cctv-age"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decryptAge } from "../../../src/services/crypto/age-decrypt.ts"
import { parseIdentity } from "../../../src/services/crypto/age-keys.ts"

interface Vector {
  readonly name: string
  readonly fields: ReadonlyMap<string, ReadonlyArray<string>>
  readonly file: Uint8Array
}

const parseVector = (name: string, raw: Uint8Array): Vector => {
  const text = Buffer.from(raw)
  const end = text.indexOf("\n\n")
  const fields = new Map<string, Array<string>>()
  for (const line of text.subarray(0, end).toString("utf8").split("\n")) {
    const at = line.indexOf(": ")
    const key = line.slice(0, at)
    fields.set(key, [...(fields.get(key) ?? []), line.slice(at + 2)])
  }
  const body = text.subarray(end + 2)
  return { name, fields, file: fields.get("compressed")?.[0] === "zlib" ? inflateSync(body) : body }
}

const all = Object.entries(vectors as Record<string, Uint8Array>).map(([name, raw]) => parseVector(name, raw))
const covered = all.filter(
  (v) =>
    v.fields.get("armored")?.[0] !== "yes" && !v.fields.has("passphrase") && (v.fields.get("identity") ?? []).every((i) => i.startsWith("AGE-SECRET-KEY-1")),
)

const expectedTag: Record<string, ReadonlyArray<string>> = {
  "no match": ["AgeNoIdentityMatched"],
  "HMAC failure": ["AgeHeaderMacMismatch"],
  "header failure": ["AgeHeaderInvalid"],
  "payload failure": ["AgePayloadCorrupt", "AgePayloadTruncated"],
}

async function* pieces(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

describe("C2SP age test vectors", () => {
  it("covers the X25519, header, HMAC and STREAM vectors", () => {
    expect(covered.length).toBeGreaterThanOrEqual(67)
    for (const prefix of ["x25519", "stream_", "hmac_", "stanza_", "header_crlf", "version_unsupported", "empty"]) {
      expect(
        covered.map((v) => v.name).filter((n) => n.startsWith(prefix)),
        prefix,
      ).not.toEqual([])
    }
  })

  for (const vector of covered) {
    const expect_ = vector.fields.get("expect")![0]!
    it.each([1 << 20, 1000])(`${vector.name}: ${expect_} (input in pieces of %i bytes)`, async (pieceSize) => {
      const identities = (vector.fields.get("identity") ?? []).map((text, i) => Result.getOrThrow(parseIdentity(text, `identity ${i}`)))
      const released = createHash("sha256")
      let failure: unknown
      try {
        for await (const chunk of decryptAge(pieces(vector.file, pieceSize), { source: vector.name, identities, identityFiles: ["vector"] }))
          released.update(chunk)
      } catch (e) {
        failure = e
      }
      if (expect_ === "success") {
        expect(failure).toBeUndefined()
      } else {
        expect(expectedTag[expect_]).toContain((failure as { _tag?: string } | undefined)?._tag)
      }
      if (vector.fields.has("payload")) expect(released.digest("hex")).toBe(vector.fields.get("payload")![0])
    })
  }
})
