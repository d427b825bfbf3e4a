/**
 * Bech32 (BIP 173, the original checksum, not bech32m) as age uses it for `age1...` recipients
 * and `AGE-SECRET-KEY-1...` identities: no 90-character limit, one case throughout (age writes
 * identities upper case), the checksum over the lower-case form.
 *
 * Written here rather than taken from a package: it is 60 lines, and in the path of every key
 * it must be exact; it is held to BIP 173's vectors and age's keys by the tests.
 */
import { Result } from "effect"

const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
const generators = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const

const polymod = (values: ReadonlyArray<number>): number => {
  let chk = 1
  for (const v of values) {
    const top = chk >>> 25
    chk = ((chk & 0x1ffffff) << 5) ^ v
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= generators[i]!
  }
  return chk
}

const hrpExpand = (hrp: string): Array<number> => {
  const codes = [...hrp].map((c) => c.charCodeAt(0))
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)]
}

/** Regroups bits (8 -> 5 with padding to encode; 5 -> 8 without, refusing non-zero padding, to decode). */
const convertBits = (data: ArrayLike<number>, from: number, to: number, pad: boolean): Array<number> | undefined => {
  let acc = 0
  let bits = 0
  const out: Array<number> = []
  const max = (1 << to) - 1
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]!
    bits += from
    while (bits >= to) {
      bits -= to
      out.push((acc >>> bits) & max)
    }
    acc &= (1 << bits) - 1
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max)
  } else if (bits >= from || acc !== 0) {
    return undefined
  }
  return out
}

/** `hrp` + "1" + data + checksum, lower case (callers upper-case identities themselves). */
export const encodeBech32 = (hrp: string, data: Uint8Array): string => {
  const lower = hrp.toLowerCase()
  const words = convertBits(data, 8, 5, true)!
  const mod = polymod([...hrpExpand(lower), ...words, 0, 0, 0, 0, 0, 0]) ^ 1
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31)
  return `${lower}1${[...words, ...checksum].map((w) => charset[w]).join("")}`
}

export interface Bech32Decoded {
  /** Lower case. */
  readonly hrp: string
  readonly data: Uint8Array
}

/** Decodes a bech32 string; the problem (never quoting the string: it may be a secret key) when it is not one. */
export const decodeBech32 = (text: string): Result.Result<Bech32Decoded, string> => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 33 || c > 126) return Result.fail(`has a character outside printable ASCII at position ${i + 1}`)
  }
  const lower = text.toLowerCase()
  if (lower !== text && text.toUpperCase() !== text) return Result.fail("mixes upper and lower case")
  const separator = lower.lastIndexOf("1")
  if (separator < 1) return Result.fail("has no human-readable part before the separator '1'")
  if (lower.length - separator - 1 < 6) return Result.fail("is too short for its checksum")
  const hrp = lower.slice(0, separator)
  const words: Array<number> = []
  for (const [i, c] of [...lower.slice(separator + 1)].entries()) {
    const w = charset.indexOf(c)
    if (w === -1) return Result.fail(`has a character outside the bech32 alphabet at position ${separator + 2 + i}`)
    words.push(w)
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) return Result.fail("has a wrong checksum (a character was mistyped or lost)")
  const bytes = convertBits(words.slice(0, -6), 5, 8, false)
  if (bytes === undefined) return Result.fail("has invalid padding bits")
  return Result.succeed({ hrp, data: Uint8Array.from(bytes) })
}
