/**
 * The header of an age v1 file (https://age-encryption.org/v1), parsed strictly and encoded
 * canonically:
 *
 *     age-encryption.org/v1
 *     -> X25519 <share, base64>
 *     <body, base64 in lines of 64 columns, ending with a shorter (possibly empty) line>
 *     --- <header MAC, base64>
 *
 * Base64 is the standard alphabet without padding and must be canonical (no stray bits, no
 * `=`); arguments are non-empty runs of printable ASCII separated by one space; no CR anywhere.
 * The header MAC covers every byte up to and including `---` (not the space after it).
 */
import { Result } from "effect"

export const ageVersionLine = "age-encryption.org/v1"

/** One recipient stanza: its type (first argument), other arguments and binary body. */
export interface AgeStanza {
  readonly type: string
  readonly args: ReadonlyArray<string>
  readonly body: Uint8Array
}

export type HeaderParse =
  /** More bytes are needed before the header ends. */
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Invalid"; readonly problem: string }
  | {
      readonly _tag: "Parsed"
      readonly stanzas: ReadonlyArray<AgeStanza>
      /** The bytes the MAC covers (up to and including `---`). */
      readonly macInput: Uint8Array
      readonly mac: Uint8Array
      /** Bytes the header takes, its final newline included: the payload starts there. */
      readonly length: number
    }

const base64Alphabet = /^[A-Za-z0-9+/]*$/
const bodyLineColumns = 64

/** The bytes of unpadded, canonical standard base64; `undefined` for anything else. */
export const decodeCanonicalBase64 = (text: string): Uint8Array | undefined => {
  if (!base64Alphabet.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, "base64")
  return encodeBase64(bytes) === text ? new Uint8Array(bytes) : undefined
}

export const encodeBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "")

const isArgument = (arg: string): boolean => {
  if (arg.length === 0) return false
  for (let i = 0; i < arg.length; i++) {
    const c = arg.charCodeAt(i)
    if (c < 33 || c > 126) return false
  }
  return true
}

const invalid = (problem: string): HeaderParse => ({ _tag: "Invalid", problem })

/**
 * Parses the header at the start of `bytes` (the file's first bytes; more may follow). Stops at
 * the MAC line, so the payload after it is never read as text.
 */
export const parseAgeHeader = (bytes: Uint8Array): HeaderParse => {
  let offset = 0
  let lineNumber = 0
  const nextLine = (): string | undefined => {
    const end = bytes.indexOf(0x0a, offset)
    if (end === -1) return undefined
    const line = Buffer.from(bytes.buffer, bytes.byteOffset + offset, end - offset).toString("latin1")
    offset = end + 1
    lineNumber++
    return line
  }
  const version = nextLine()
  if (version === undefined) {
    // An empty file, or one that is not age at all, need not be read to its end to say so.
    const prefix = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, ageVersionLine.length)).toString("latin1")
    return ageVersionLine.startsWith(prefix) ? { _tag: "Incomplete" } : invalid(`does not start with "${ageVersionLine}": it is not an age v1 file`)
  }
  if (version !== ageVersionLine)
    return invalid(`does not start with the line "${ageVersionLine}": it is not an age v1 file (or a version this program does not read)`)
  const stanzas: Array<AgeStanza> = []
  for (;;) {
    const macInputEnd = offset + 3
    const line = nextLine()
    if (line === undefined) return { _tag: "Incomplete" }
    if (line.startsWith("---")) {
      if (!line.startsWith("--- ")) return invalid(`line ${lineNumber}: the MAC line must be "--- " followed by the MAC`)
      const mac = decodeCanonicalBase64(line.slice(4))
      if (mac === undefined || mac.length !== 32) return invalid(`line ${lineNumber}: the header MAC is not 32 bytes of canonical unpadded base64`)
      return { _tag: "Parsed", stanzas, macInput: bytes.slice(0, macInputEnd), mac, length: offset }
    }
    if (!line.startsWith("-> ")) return invalid(`line ${lineNumber}: expected a stanza ("-> ...") or the MAC line ("--- ...")`)
    const args = line.slice(3).split(" ")
    if (!args.every(isArgument)) return invalid(`line ${lineNumber}: a stanza's arguments must be non-empty printable ASCII separated by single spaces`)
    const bodyLines: Array<string> = []
    for (;;) {
      const bodyLine = nextLine()
      if (bodyLine === undefined) return { _tag: "Incomplete" }
      if (bodyLine.length > bodyLineColumns || !base64Alphabet.test(bodyLine)) {
        return invalid(
          `line ${lineNumber}: a stanza body line must be at most ${bodyLineColumns} columns of base64, and every stanza must end with a shorter (possibly empty) line`,
        )
      }
      bodyLines.push(bodyLine)
      if (bodyLine.length < bodyLineColumns) break
    }
    const body = decodeCanonicalBase64(bodyLines.join(""))
    if (body === undefined) return invalid(`line ${lineNumber}: a stanza body is not canonical unpadded base64`)
    stanzas.push({ type: args[0]!, args: args.slice(1), body })
  }
}

const encodeStanza = (stanza: AgeStanza): string => {
  const text = encodeBase64(stanza.body)
  const lines: Array<string> = []
  for (let i = 0; i < text.length; i += bodyLineColumns) lines.push(text.slice(i, i + bodyLineColumns))
  if (text.length % bodyLineColumns === 0) lines.push("")
  return `-> ${[stanza.type, ...stanza.args].join(" ")}\n${lines.join("\n")}\n`
}

/** The bytes the header MAC covers for these stanzas. */
export const ageHeaderMacInput = (stanzas: ReadonlyArray<AgeStanza>): Uint8Array =>
  new Uint8Array(Buffer.from(`${ageVersionLine}\n${stanzas.map(encodeStanza).join("")}---`, "latin1"))

/** The whole header: the MAC input, a space, the MAC, a newline. */
export const encodeAgeHeader = (stanzas: ReadonlyArray<AgeStanza>, mac: Uint8Array): Uint8Array =>
  new Uint8Array(Buffer.concat([ageHeaderMacInput(stanzas), Buffer.from(` ${encodeBase64(mac)}\n`, "latin1")]))

/** `parseAgeHeader` as a Result, for a header known to be complete. */
export const parseCompleteAgeHeader = (bytes: Uint8Array): Result.Result<Extract<HeaderParse, { _tag: "Parsed" }>, string> => {
  const parsed = parseAgeHeader(bytes)
  if (parsed._tag === "Parsed") return Result.succeed(parsed)
  return Result.fail(parsed._tag === "Invalid" ? parsed.problem : "ends before the header's MAC line")
}
