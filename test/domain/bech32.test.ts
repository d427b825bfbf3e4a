import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBech32, encodeBech32 } from "../../src/domain/bech32.ts"

// BIP 173's test vectors (bech32, not bech32m).
const valid = [
  "A12UEL5L",
  "a12uel5l",
  "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
  "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
  "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
  "?1ezyfcl",
]
const invalid: ReadonlyArray<[string, string]> = [
  ["\x201nwldj5", "printable ASCII"],
  ["\x7f1axkwrx", "printable ASCII"],
  ["pzry9x0s0muk", "separator"],
  ["1pzry9x0s0muk", "separator"],
  ["x1b4n0q5v", "alphabet"],
  ["li1dgmt3", "too short"],
  ["de1lg7wt\xff", "printable ASCII"],
  ["A1G7SGD8", "checksum"],
  ["10a06t8", "separator"],
  ["1qzzfhee", "separator"],
  ["A12uEL5L", "mixes upper and lower case"],
]

describe("bech32", () => {
  it.each(valid)("accepts BIP 173's valid string %s and encodes its data back to it", (text) => {
    const decoded = Result.getOrThrow(decodeBech32(text))
    expect(encodeBech32(decoded.hrp, decoded.data)).toBe(text.toLowerCase())
  })

  it.each(invalid)("refuses BIP 173's invalid string %j (%s)", (text, problem) => {
    const decoded = decodeBech32(text)
    expect(Result.isFailure(decoded) && decoded.failure).toContain(problem)
  })

  it("has no 90-character limit: BIP 173's over-long string decodes (age identities are longer)", () => {
    const decoded = Result.getOrThrow(decodeBech32("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx"))
    expect(decoded.data.length).toBe(0)
  })

  it("decodes the abcdef vector to its 20 bytes", () => {
    const decoded = Result.getOrThrow(decodeBech32("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"))
    expect(decoded.hrp).toBe("abcdef")
    expect(Buffer.from(decoded.data).toString("hex")).toBe("00443214c74254b635cf84653a56d7c675be77df")
  })

  it("reads an age identity (upper case, longer than BIP 173's 90 characters) to its 32-byte key", () => {
    // From C2SP's age test vectors (testdata/x25519).
    const text = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
    const decoded = Result.getOrThrow(decodeBech32(text))
    expect(decoded.hrp).toBe("age-secret-key-")
    expect(decoded.data.length).toBe(32)
    expect(encodeBech32(decoded.hrp, decoded.data).toUpperCase()).toBe(text)
  })

  const hrp = fc.stringMatching(/^[a-z0-9-]{1,20}$/)
  const data = fc.uint8Array({ maxLength: 80 })

  test.prop([hrp, data], { numRuns: 500 })("round trip: decode(encode(hrp, data)) gives them back, in either case", (h, d) => {
    const text = encodeBech32(h, d)
    expect(Result.getOrThrow(decodeBech32(text))).toEqual({ hrp: h, data: d })
    expect(Result.getOrThrow(decodeBech32(text.toUpperCase()))).toEqual({ hrp: h, data: d })
  })

  test.prop([hrp, data, fc.nat(), fc.integer({ min: 1, max: 31 })], { numRuns: 500 })(
    "one mistyped character of the data or checksum is detected",
    (h, d, at, shift) => {
      const alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
      const text = encodeBech32(h, d)
      const i = h.length + 1 + (at % (text.length - h.length - 1))
      const changed = alphabet[(alphabet.indexOf(text[i]!) + shift) % 32]!
      expect(Result.isFailure(decodeBech32(text.slice(0, i) + changed + text.slice(i + 1)))).toBe(true)
    },
  )
})
