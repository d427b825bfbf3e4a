import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { type AgeStanza, ageHeaderMacInput, decodeCanonicalBase64, encodeAgeHeader, encodeBase64, parseAgeHeader } from "../../src/domain/age-header.ts"

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))
const mac = new Uint8Array(32).fill(7)
const macLine = `--- ${encodeBase64(mac)}\n`

const argument = fc.stringMatching(/^[\x21-\x7e]{1,12}$/)
const stanza: fc.Arbitrary<AgeStanza> = fc.record({
  type: argument,
  args: fc.array(argument, { maxLength: 3 }),
  // Bodies around the 48-byte (64-column) line boundary matter most.
  body: fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.constantFrom(0, 47, 48, 49, 96).map((n) => new Uint8Array(n).fill(n)),
  ),
})

const parsedOf = (text: string) => parseAgeHeader(bytes(text))

describe("age header", () => {
  test.prop([fc.array(stanza, { maxLength: 5 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 100 })], { numRuns: 400 })(
    "round trip: a header encoded then parsed (with payload after it) gives the stanzas, MAC and MAC input back",
    (stanzas, m, payload) => {
      const header = encodeAgeHeader(stanzas, m)
      const parsed = parseAgeHeader(new Uint8Array(Buffer.concat([header, payload])))
      expect(parsed._tag).toBe("Parsed")
      if (parsed._tag !== "Parsed") return
      expect(parsed.stanzas.map((s) => ({ ...s, body: [...s.body] }))).toEqual(stanzas.map((s) => ({ ...s, args: [...s.args], body: [...s.body] })))
      expect([...parsed.mac]).toEqual([...m])
      expect(Buffer.from(parsed.macInput).equals(Buffer.from(ageHeaderMacInput(stanzas)))).toBe(true)
      expect(parsed.length).toBe(header.length)
    },
  )

  test.prop([fc.array(stanza, { maxLength: 3 }), fc.nat()], { numRuns: 300 })("every strict prefix of a header asks for more bytes", (stanzas, cut) => {
    const header = encodeAgeHeader(stanzas, mac)
    expect(parseAgeHeader(header.subarray(0, cut % header.length))._tag).toBe("Incomplete")
  })

  it("wraps bodies at 64 columns and always ends a stanza with a short line (empty after a full one)", () => {
    const text = Buffer.from(encodeAgeHeader([{ type: "t", args: [], body: new Uint8Array(48) }], mac)).toString("latin1")
    expect(text).toBe(`age-encryption.org/v1\n-> t\n${"A".repeat(64)}\n\n${macLine}`)
  })

  it.each([
    ["another version", `age-encryption.org/v2\n${macLine}`, "not an age v1 file"],
    ["not age at all", "hello world, this is text\n", "not an age v1 file"],
    ["CRLF line ends", `age-encryption.org/v1\r\n${macLine}`, "not an age v1 file"],
    ["padding in a body", `age-encryption.org/v1\n-> t\nAA==\n${macLine}`, "base64"],
    ["stray bits in a body (not canonical)", `age-encryption.org/v1\n-> t\nAB\n${macLine}`, "not canonical"],
    ["a body line longer than 64 columns", `age-encryption.org/v1\n-> t\n${"A".repeat(68)}\n${macLine}`, "64 columns"],
    ["a stanza without its final short line", `age-encryption.org/v1\n-> t\n${"A".repeat(64)}\n${macLine}`, "64 columns"],
    ["an empty argument", `age-encryption.org/v1\n-> t  x\n\n${macLine}`, "arguments"],
    ["no argument", `age-encryption.org/v1\n-> \n\n${macLine}`, "arguments"],
    ["a line that is neither stanza nor MAC", `age-encryption.org/v1\n=> t\n\n${macLine}`, "expected a stanza"],
    ["a MAC without its space", `age-encryption.org/v1\n---${encodeBase64(mac)}\n`, "MAC line"],
    ["a short MAC", `age-encryption.org/v1\n--- ${encodeBase64(mac).slice(0, 40)}\n`, "32 bytes"],
    ["a MAC with a trailing space", `age-encryption.org/v1\n--- ${encodeBase64(mac)} \n`, "32 bytes"],
    ["a CR in the MAC line", `age-encryption.org/v1\n--- ${encodeBase64(mac)}\r\n`, "32 bytes"],
  ])("refuses %s", (_, text, problem) => {
    const parsed = parsedOf(text)
    expect(parsed._tag).toBe("Invalid")
    expect(parsed._tag === "Invalid" && parsed.problem).toContain(problem)
  })

  it("accepts an empty header (no stanzas) and an empty body, as the spec's grammar allows", () => {
    expect(parsedOf(`age-encryption.org/v1\n-> t\n\n${macLine}`)._tag).toBe("Parsed")
    expect(parsedOf(`age-encryption.org/v1\n${macLine}`)._tag).toBe("Parsed")
  })

  test.prop([fc.uint8Array({ maxLength: 100 })], { numRuns: 300 })("canonical base64: only the unpadded encoding of the bytes decodes", (b) => {
    const text = encodeBase64(b)
    expect([...decodeCanonicalBase64(text)!]).toEqual([...b])
    if (b.length % 3 !== 0) {
      expect(decodeCanonicalBase64(`${text}=`)).toBeUndefined()
      // The last character's unused low bits set: same bytes to a lenient decoder, refused here.
      const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".indexOf(text.at(-1)!)
      const stray = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last | 1]!
      expect(decodeCanonicalBase64(text.slice(0, -1) + stray)).toBeUndefined()
    }
  })
})
