/**
 * The tar block format, as pure functions on buffers: POSIX ustar headers (with the GNU `ustar  `
 * variant for reading), PAX extended-header records, numeric fields (octal and GNU base-256).
 * Only what resource tarballs need: no links, devices or sparse files are ever encoded.
 */
import { Result } from "effect"

export const blockSize = 512

/** Bytes needed after `size` bytes of content to reach the next block boundary. */
export const paddingAfter = (size: number): number => (blockSize - (size % blockSize)) % blockSize

export const isZeroBlock = (block: Buffer): boolean => {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false
  return true
}

/** Type flags as byte values. */
export const typeFlag = {
  file: 0x30, // '0'
  oldFile: 0x00, // NUL (pre-POSIX regular file)
  hardlink: 0x31,
  symlink: 0x32,
  charDevice: 0x33,
  blockDevice: 0x34,
  directory: 0x35,
  fifo: 0x36,
  contiguous: 0x37,
  paxExtended: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
} as const

export type HeaderFormat = "posix" | "gnu"

export interface RawHeader {
  /** The name field up to its first NUL (bytes after it are reported by `nameTail`). */
  readonly name: Buffer
  /** Whether non-NUL bytes follow the first NUL of the name field. */
  readonly nameTail: boolean
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly mtime: number
  readonly type: number
  readonly format: HeaderFormat
  /** The ustar prefix field (POSIX only; GNU uses those bytes for other things). */
  readonly prefix: Buffer
  readonly prefixTail: boolean
}

export interface HeaderProblem {
  readonly reason: "checksum" | "header"
  readonly message: string
}

const field = (block: Buffer, offset: number, length: number) => block.subarray(offset, offset + length)

const untilNul = (bytes: Buffer): { readonly value: Buffer; readonly tail: boolean } => {
  const end = bytes.indexOf(0)
  if (end < 0) return { value: bytes, tail: false }
  let tail = false
  for (let i = end + 1; i < bytes.length; i++) if (bytes[i] !== 0) tail = true
  return { value: bytes.subarray(0, end), tail }
}

/**
 * A numeric field: octal digits (leading spaces, trailing NUL/space allowed), or GNU base-256
 * (first byte 0x80). `undefined` when malformed, negative, or beyond 2^53.
 */
export const parseNumeric = (bytes: Buffer): number | undefined => {
  if (bytes.length === 0) return undefined
  const first = bytes[0] as number
  if ((first & 0x80) !== 0) {
    if (first !== 0x80) return undefined // 0xff: negative; anything else is not base-256
    let value = 0
    for (let i = 1; i < bytes.length; i++) {
      value = value * 256 + (bytes[i] as number)
      if (value > Number.MAX_SAFE_INTEGER) return undefined
    }
    return value
  }
  let i = 0
  while (i < bytes.length && bytes[i] === 0x20) i++
  let value = 0
  let digits = 0
  while (i < bytes.length && (bytes[i] as number) >= 0x30 && (bytes[i] as number) <= 0x37) {
    value = value * 8 + ((bytes[i] as number) - 0x30)
    digits++
    i++
  }
  for (; i < bytes.length; i++) if (bytes[i] !== 0 && bytes[i] !== 0x20) return undefined
  return digits === 0 ? 0 : value
}

const checksums = (block: Buffer): { readonly unsigned: number; readonly signed: number } => {
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < blockSize; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number)
    unsigned += b
    signed += b > 127 ? b - 256 : b
  }
  return { unsigned, signed }
}

const posixMagic = Buffer.from("ustar\u0000", "latin1")
const gnuMagic = Buffer.from("ustar  \u0000", "latin1")

/** Decodes one non-zero header block. */
export const parseHeader = (block: Buffer): Result.Result<RawHeader, HeaderProblem> => {
  const recorded = parseNumeric(field(block, 148, 8))
  const { unsigned, signed } = checksums(block)
  if (recorded === undefined || (recorded !== unsigned && recorded !== signed)) {
    return Result.fail({
      reason: "checksum",
      message: `header checksum mismatch: the header records ${recorded === undefined ? "an unreadable value" : recorded}, its bytes sum to ${unsigned}`,
    })
  }
  let format: HeaderFormat
  if (field(block, 257, 6).equals(posixMagic)) format = "posix"
  else if (field(block, 257, 8).equals(gnuMagic)) format = "gnu"
  else return Result.fail({ reason: "header", message: "not a ustar header (no `ustar` magic); pre-POSIX tar archives are not accepted" })

  const numbers = {
    mode: field(block, 100, 8),
    uid: field(block, 108, 8),
    gid: field(block, 116, 8),
    size: field(block, 124, 12),
    mtime: field(block, 136, 12),
  }
  const parsed: Record<string, number> = {}
  for (const [key, bytes] of Object.entries(numbers)) {
    const value = parseNumeric(bytes)
    if (value === undefined) return Result.fail({ reason: "header", message: `the ${key} field is not a valid number` })
    parsed[key] = value
  }
  const name = untilNul(field(block, 0, 100))
  const prefix = format === "posix" ? untilNul(field(block, 345, 155)) : { value: Buffer.alloc(0), tail: false }
  return Result.succeed({
    name: name.value,
    nameTail: name.tail,
    mode: (parsed.mode as number) & 0o7777,
    uid: parsed.uid as number,
    gid: parsed.gid as number,
    size: parsed.size as number,
    mtime: parsed.mtime as number,
    type: block[156] as number,
    format,
    prefix: prefix.value,
    prefixTail: prefix.tail,
  })
}

const maxOctal11 = 0o77777777777

const writeOctal = (block: Buffer, offset: number, length: number, value: number) => {
  // `length - 1` digits, zero-padded, then NUL.
  block.write(value.toString(8).padStart(length - 1, "0"), offset, length - 1, "latin1")
  block[offset + length - 1] = 0
}

export interface HeaderSpec {
  /** At most 100 bytes (longer names go in a PAX `path` record). */
  readonly name: Buffer
  readonly mode: number
  /** At most 0o77777777777 (larger sizes go in a PAX `size` record, with 0 here). */
  readonly size: number
  readonly mtime: number
  readonly type: typeof typeFlag.file | typeof typeFlag.directory | typeof typeFlag.paxExtended
  readonly owner: string
}

/** A POSIX ustar header block; uid and gid 0, owner and group names `owner`. */
export const encodeHeader = (spec: HeaderSpec): Buffer => {
  const block = Buffer.alloc(blockSize)
  spec.name.copy(block, 0, 0, Math.min(spec.name.length, 100))
  writeOctal(block, 100, 8, spec.mode & 0o7777)
  writeOctal(block, 108, 8, 0)
  writeOctal(block, 116, 8, 0)
  writeOctal(block, 124, 12, spec.size > maxOctal11 ? 0 : spec.size)
  writeOctal(block, 136, 12, Math.min(Math.max(0, Math.floor(spec.mtime)), maxOctal11))
  block.fill(0x20, 148, 156)
  block[156] = spec.type
  posixMagic.copy(block, 257)
  block.write("00", 263, 2, "latin1")
  block.write(spec.owner, 265, 32, "latin1")
  block.write(spec.owner, 297, 32, "latin1")
  writeOctal(block, 329, 8, 0)
  writeOctal(block, 337, 8, 0)
  const { unsigned } = checksums(block)
  block.write(unsigned.toString(8).padStart(6, "0"), 148, 6, "latin1")
  block[154] = 0
  block[155] = 0x20
  return block
}

/** Whether a size must be carried in a PAX record (it does not fit the octal field). */
export const needsPaxSize = (size: number): boolean => size > maxOctal11

/** PAX records `"<len> <key>=<value>\n"`, where `<len>` counts the whole record in bytes. */
export const encodePaxRecords = (records: ReadonlyArray<readonly [string, string]>): Buffer =>
  Buffer.concat(
    records.map(([key, value]) => {
      const body = Buffer.byteLength(key, "utf8") + Buffer.byteLength(value, "utf8") + 3
      let length = body + String(body).length
      if (String(length).length !== String(body).length) length = body + String(length).length
      return Buffer.from(`${length} ${key}=${value}\n`, "utf8")
    }),
  )

/** Decodes PAX records; values stay bytes (a path value is checked for NULs by the caller). */
export const parsePaxRecords = (data: Buffer): Result.Result<ReadonlyArray<readonly [string, Buffer]>, string> => {
  const records: Array<readonly [string, Buffer]> = []
  let pos = 0
  while (pos < data.length) {
    if (data[pos] === 0) {
      for (let i = pos; i < data.length; i++) if (data[i] !== 0) return Result.fail(`unexpected bytes after a NUL at byte ${i}`)
      break
    }
    const space = data.indexOf(0x20, pos)
    if (space < 0 || space - pos > 20) return Result.fail(`record at byte ${pos} has no length`)
    const lengthText = data.toString("latin1", pos, space)
    if (!/^[1-9][0-9]*$/.test(lengthText)) return Result.fail(`record at byte ${pos} has a malformed length \`${lengthText}\``)
    const length = Number(lengthText)
    const end = pos + length
    if (end > data.length || end <= space + 1) return Result.fail(`record at byte ${pos} claims ${length} bytes, beyond the header`)
    if (data[end - 1] !== 0x0a) return Result.fail(`record at byte ${pos} does not end with a newline`)
    const equals = data.indexOf(0x3d, space + 1)
    if (equals < 0 || equals >= end - 1 || equals === space + 1) return Result.fail(`record at byte ${pos} has no \`key=value\``)
    const key = data.toString("utf8", space + 1, equals)
    records.push([key, data.subarray(equals + 1, end - 1)])
    pos = end
  }
  return Result.succeed(records)
}
