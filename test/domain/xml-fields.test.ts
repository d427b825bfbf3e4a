import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { xmlBlocks, xmlField, xmlText } from "../../src/domain/xml-fields.ts"

/** A character as an XML writer may put it: itself (unless markup), a named entity, or a decimal or hex reference. */
const escapedChar = (c: string): fc.Arbitrary<string> => {
  const code = c.codePointAt(0)!
  const refs = [`&#${code};`, `&#x${code.toString(16)};`, `&#x${code.toString(16).toUpperCase()};`]
  const entity = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" }[c]
  return fc.constantFrom(...refs, ...(entity === undefined ? [c] : [entity]))
}
const textArb = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => [...s])
const escapedArb = textArb.chain((chars) => fc.tuple(...chars.map(escapedChar)).map((parts) => ({ text: chars.join(""), xml: parts.join("") })))

describe("xmlText", () => {
  test.prop([escapedArb])("decodes what any mix of characters, entities and references wrote", ({ text, xml }) => {
    expect(xmlText(xml)).toBe(text)
  })

  test.prop([fc.string({ unit: "binary", maxLength: 200 })])("never throws, and leaves text without references as it is", (s) => {
    expect(() => xmlText(s)).not.toThrow()
    if (!s.includes("&")) expect(xmlText(s)).toBe(s)
  })

  it("keeps a reference that names no character (past U+10FFFF) as written", () => {
    expect(xmlText("a&#x110000;b&#1114112;c&#99999999999999999999;")).toBe("a&#x110000;b&#1114112;c&#99999999999999999999;")
    expect(xmlText("&#x10FFFF;")).toBe(String.fromCodePoint(0x10ffff))
    expect(xmlText("&unknown; &amp")).toBe("&unknown; &amp")
  })
})

describe("xmlField and xmlBlocks", () => {
  test.prop([fc.array(escapedArb, { minLength: 1, maxLength: 5 })])("the first leaf's text, decoded; every block's inner XML in order", (values) => {
    const xml = `<R>${values.map((v) => `<B><K>${v.xml}</K></B>`).join("")}</R>`
    expect(xmlField(xml, "K")).toBe(values[0]!.text)
    expect(xmlBlocks(xml, "B").map((b) => xmlField(b, "K"))).toEqual(values.map((v) => v.text))
  })

  it("nothing for a tag that is not there, or that holds elements rather than text", () => {
    expect(xmlField("<R><A>1</A></R>", "B")).toBeUndefined()
    expect(xmlField("<R><A><B>1</B></A></R>", "A")).toBeUndefined()
    expect(xmlBlocks("<R></R>", "A")).toEqual([])
  })
})
