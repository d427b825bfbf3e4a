/**
 * The pieces of XML that S3's and STS's answers are read for: a leaf element's text, and a repeated
 * element's inner XML. Not an XML parser: the answers are flat, machine-written documents, read by tag.
 * Their text comes from a server, so a malformed character reference stays as it was written rather
 * than throwing.
 */

const named: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }

/** XML text with its entities and character references decoded. */
export const xmlText = (s: string): string =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (!ref.startsWith("#")) return named[ref]!
    const code = ref.startsWith("#x") ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10)
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole
  })

/** Every `<tag>...</tag>` element's inner XML, in order. */
export const xmlBlocks = (xml: string, tag: string): Array<string> => [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]!)

/** The decoded text of the first `<tag>` in `xml` that holds text only. */
export const xmlField = (xml: string, tag: string): string | undefined => {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)
  return m === null ? undefined : xmlText(m[1]!)
}
