/**
 * Streaming validation of a decompressed tar stream. Every header is checked (checksum, magic,
 * numbers), every path goes through the generic safety rules and the layout check, only regular
 * files and directories are accepted, and the limits bound everything that could grow: header
 * sizes, path lengths, entry count, total content and trailing padding. The visitor sees each
 * accepted entry and its content as it streams; nothing is buffered beyond one chunk.
 */
import { createHash } from "node:crypto"
import { Result } from "effect"
import { ByteSource } from "./byte-source.ts"
import { checkEntryPath, layoutFailureMessage, type EntryKind, type LayoutCheck } from "./entry-path.ts"
import { TarballEntryRefused, TarballLimitExceeded, TarballUnreadable, type RefusalReason, type UnreadableReason } from "./errors.ts"
import { blockSize, isZeroBlock, paddingAfter, parseHeader, parsePaxRecords, typeFlag } from "./ustar.ts"

export interface TarLimits {
  readonly maxPathBytes: number
  readonly maxSegmentBytes: number
  /** Largest PAX extended header accepted (its records, before parsing). */
  readonly maxPaxHeaderBytes: number
  readonly maxEntries: number
  /** Sum of the sizes of all files: what extraction could write to disk. */
  readonly maxTotalFileBytes: number
  /** Zero padding accepted after the end-of-archive marker (GNU tar pads to 10 KiB records). */
  readonly maxTrailingBytes: number
  /** Size of the compressed file itself (the size its manifest states); unbounded when absent, beyond the file's size when opened. */
  readonly maxArchiveBytes?: number | undefined
}

export const defaultTarLimits: TarLimits = {
  maxPathBytes: 4096,
  maxSegmentBytes: 255,
  maxPaxHeaderBytes: 1024 * 1024,
  maxEntries: 100_000,
  maxTotalFileBytes: 1024 * 1024 * 1024,
  maxTrailingBytes: 1024 * 1024,
}

/** An entry as accepted by the scanner. `path` has no trailing slash. */
export interface ScannedEntry {
  readonly path: string
  readonly kind: EntryKind
  readonly size: number
  /** Permission bits (0o7777 at most). */
  readonly mode: number
  /** Offset of the entry's first header block (its PAX or GNU long-name header if any). */
  readonly offset: number
}

export interface ScanVisitor {
  readonly directory?: (entry: ScannedEntry) => Promise<void>
  readonly fileStart?: (entry: ScannedEntry) => Promise<void>
  readonly fileData?: (chunk: Buffer) => Promise<void>
  readonly fileEnd?: (entry: ScannedEntry, sha256: string) => Promise<void>
}

export interface ScanOptions {
  /** The archive's name, for error messages. */
  readonly archive: string
  readonly limits: TarLimits
  readonly layout?: LayoutCheck | undefined
  readonly signal?: AbortSignal | undefined
}

export interface ScannedFile extends ScannedEntry {
  readonly sha256: string
}

export interface ScanSummary {
  /** Accepted entries in archive order; files carry the sha256 of their content. */
  readonly entries: ReadonlyArray<ScannedEntry | ScannedFile>
  /** Bytes of the decompressed tar stream, padding included. */
  readonly tarBytes: number
}

const printable = (bytes: Buffer): string => JSON.stringify(bytes.toString("latin1")).slice(1, -1)

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

interface Pending {
  paxPath?: Buffer
  paxSize?: number
  longName?: Buffer
  firstOffset: number
}

/** Validates the whole stream, calling the visitor for every accepted entry. */
export const scanTar = async (source: AsyncIterable<Buffer>, options: ScanOptions, visitor: ScanVisitor = {}): Promise<ScanSummary> => {
  const { archive, limits } = options
  const input = new ByteSource(source)
  const entries: Array<ScannedEntry | ScannedFile> = []
  let totalFileBytes = 0
  const seen = new Map<string, EntryKind>()
  let pending: Pending | undefined

  const unreadable = (reason: UnreadableReason, offset: number, message: string, entry?: string) =>
    new TarballUnreadable({
      archive,
      reason,
      offset,
      message: `${archive}: ${message} (at byte ${offset} of the tar stream)`,
      ...(entry === undefined ? {} : { entry }),
    })
  const refused = (reason: RefusalReason, offset: number, entry: string, message: string) =>
    new TarballEntryRefused({ archive, reason, offset, entry, message: `${archive}: entry \`${entry}\` refused: ${message}` })
  const limited = (limit: TarballLimitExceeded["limit"], max: number, offset: number, message: string, entry?: string) =>
    new TarballLimitExceeded({ archive, limit, max, offset, message: `${archive}: ${message}`, ...(entry === undefined ? {} : { entry }) })

  const readExactly = async (n: number, offset: number, what: string, entry?: string): Promise<Buffer> => {
    const bytes = await input.exactly(n)
    if (bytes.length < n) throw unreadable("truncated", offset, `the archive ends in the middle of ${what}`, entry)
    return bytes
  }

  const checkAborted = () => {
    if (options.signal?.aborted === true) throw options.signal.reason
  }

  for (;;) {
    checkAborted()
    const offset = input.offset
    const block = await input.exactly(blockSize)
    if (block.length === 0) {
      throw unreadable("truncated", offset, "the archive ends without the end-of-archive marker (two zero blocks): it was cut short")
    }
    if (block.length < blockSize) throw unreadable("truncated", offset, "the archive ends in the middle of a header")

    if (isZeroBlock(block)) {
      if (pending !== undefined) {
        throw unreadable("header", pending.firstOffset, "an extended header (PAX or GNU long name) is not followed by the entry it describes")
      }
      const second = await input.exactly(blockSize)
      if (second.length < blockSize) throw unreadable("truncated", offset, "the archive ends after a single zero block: it was cut short")
      if (!isZeroBlock(second)) throw unreadable("trailing-data", offset + blockSize, "a lone zero block is followed by more data")
      let trailing = 0
      for (;;) {
        checkAborted()
        const chunk = await input.chunk(64 * 1024)
        if (chunk.length === 0) break
        const nonZero = chunk.findIndex((b) => b !== 0)
        if (nonZero >= 0) {
          throw unreadable("trailing-data", input.offset - chunk.length + nonZero, "data follows the end-of-archive marker")
        }
        trailing += chunk.length
        if (trailing > limits.maxTrailingBytes) {
          throw limited(
            "trailing-bytes",
            limits.maxTrailingBytes,
            offset,
            `more than ${limits.maxTrailingBytes} bytes of padding follow the end-of-archive marker`,
          )
        }
      }
      return { entries, tarBytes: input.offset }
    }

    const parsed = parseHeader(block)
    const nameEnd = block.subarray(0, 100).indexOf(0)
    const rawName = block.subarray(0, nameEnd < 0 ? 100 : nameEnd)
    if (Result.isFailure(parsed)) throw unreadable(parsed.failure.reason, offset, parsed.failure.message, printable(rawName))
    const header = parsed.success
    const firstOffset = pending?.firstOffset ?? offset

    // Extended headers: read (bounded), remember, continue with the entry they describe.
    if (header.type === typeFlag.paxExtended) {
      if (pending?.paxPath !== undefined || pending?.paxSize !== undefined) {
        throw unreadable("pax", offset, "two PAX extended headers in a row")
      }
      if (header.size > limits.maxPaxHeaderBytes) {
        throw limited(
          "pax-header-bytes",
          limits.maxPaxHeaderBytes,
          offset,
          `a PAX extended header of ${header.size} bytes exceeds the limit of ${limits.maxPaxHeaderBytes} bytes`,
        )
      }
      const data = await readExactly(header.size, offset, "a PAX extended header")
      await readExactly(paddingAfter(header.size), offset, "a PAX extended header")
      const records = parsePaxRecords(data)
      if (Result.isFailure(records)) throw unreadable("pax", offset, `malformed PAX extended header: ${records.failure}`)
      const next: Pending = { ...pending, firstOffset }
      for (const [key, value] of records.success) {
        if (key === "path") next.paxPath = value
        else if (key === "size") {
          const text = value.toString("latin1")
          if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text)))
            throw unreadable("pax", offset, `PAX size \`${printable(value)}\` is not a number`)
          next.paxSize = Number(text)
        } else if (key.startsWith("GNU.sparse.")) {
          throw refused("unsupported-type", offset, printable(next.paxPath ?? header.name), "sparse files are not accepted")
        }
        // Other keys (mtime, atime, uid, uname, comments, xattrs, linkpath...) do not change what is extracted.
      }
      pending = next
      continue
    }
    if (header.type === typeFlag.gnuLongName) {
      if (pending?.longName !== undefined) throw unreadable("gnu-longname", offset, "two GNU long-name headers in a row")
      if (header.size > limits.maxPathBytes + 1) {
        throw limited("path-bytes", limits.maxPathBytes, offset, `a GNU long name of ${header.size} bytes exceeds the limit of ${limits.maxPathBytes} bytes`)
      }
      const data = await readExactly(header.size, offset, "a GNU long-name header")
      await readExactly(paddingAfter(header.size), offset, "a GNU long-name header")
      const end = data.indexOf(0)
      const name = end < 0 ? data : data.subarray(0, end)
      if (end >= 0 && data.subarray(end).some((b) => b !== 0)) {
        throw refused("nul-byte", offset, printable(data), "the GNU long name contains a NUL byte")
      }
      pending = { ...pending, firstOffset, longName: name }
      continue
    }

    // The entry proper.
    const fromHeader = pending?.paxPath === undefined && pending?.longName === undefined
    const nameBytes =
      pending?.paxPath ?? pending?.longName ?? (header.prefix.length > 0 ? Buffer.concat([header.prefix, Buffer.from("/"), header.name]) : header.name)
    const shownName = printable(nameBytes)
    const size = pending?.paxSize ?? header.size
    pending = undefined

    if (entries.length + 1 > limits.maxEntries) {
      throw limited("entries", limits.maxEntries, firstOffset, `the archive has more than ${limits.maxEntries} entries`, shownName)
    }

    const kind = entryKind(header.type)
    if (typeof kind !== "string") throw refused(kind.reason, firstOffset, shownName, kind.message)

    if (fromHeader && (header.nameTail || header.prefixTail)) {
      throw refused("nul-byte", firstOffset, shownName, "the name field has bytes after a NUL byte")
    }
    if (nameBytes.includes(0)) throw refused("nul-byte", firstOffset, shownName, "the name contains a NUL byte")
    let name: string
    try {
      name = strictUtf8.decode(nameBytes)
    } catch {
      throw refused("not-utf8", firstOffset, shownName, "the name is not valid UTF-8")
    }
    if (name.endsWith("/")) {
      if (kind === "file") throw refused("trailing-slash", firstOffset, shownName, "a regular file's name ends with `/`")
      name = name.slice(0, -1)
    }
    const checked = checkEntryPath(name, limits)
    if (Result.isFailure(checked)) {
      const { reason, message } = checked.failure
      if (reason === "path-bytes" || reason === "segment-bytes") {
        throw limited(
          reason,
          reason === "path-bytes" ? limits.maxPathBytes : limits.maxSegmentBytes,
          firstOffset,
          `entry \`${shownName.slice(0, 200)}\`: ${message}`,
          shownName,
        )
      }
      throw refused(reason, firstOffset, shownName, message)
    }
    if (options.layout !== undefined) {
      const verdict = options.layout(name, kind)
      if (Result.isFailure(verdict)) throw refused("layout", firstOffset, name, layoutFailureMessage(verdict.failure))
    }

    // GNU tar would silently replace or merge such entries; a reviewer could not tell which wins.
    const seenAs = seen.get(name)
    if (seenAs !== undefined && (seenAs === "file" || kind === "file")) {
      throw refused(
        seenAs === kind ? "duplicate" : "path-conflict",
        firstOffset,
        name,
        seenAs === kind ? "the archive holds this path twice" : "the archive holds this path both as a file and as a directory",
      )
    }
    const segments = name.split("/")
    for (let i = 1; i < segments.length; i++) {
      const ancestor = segments.slice(0, i).join("/")
      if (seen.get(ancestor) === "file") throw refused("path-conflict", firstOffset, name, `its parent \`${ancestor}\` is a file of the archive`)
      seen.set(ancestor, "directory")
    }
    seen.set(name, kind)

    const entry: ScannedEntry = { path: name, kind, size: kind === "file" ? size : 0, mode: header.mode, offset: firstOffset }
    if (kind === "directory") {
      if (size !== 0) throw unreadable("header", firstOffset, `directory entry has a size of ${size} bytes`, name)
      entries.push(entry)
      await visitor.directory?.(entry)
      continue
    }

    if (totalFileBytes + size > limits.maxTotalFileBytes) {
      throw limited(
        "total-file-bytes",
        limits.maxTotalFileBytes,
        firstOffset,
        `entry \`${name}\` (${size} bytes) would bring the archive's content beyond the limit of ${limits.maxTotalFileBytes} bytes`,
        name,
      )
    }
    totalFileBytes += size
    await visitor.fileStart?.(entry)
    const hash = createHash("sha256")
    let remaining = size
    while (remaining > 0) {
      checkAborted()
      const chunk = await input.chunk(Math.min(remaining, 256 * 1024))
      if (chunk.length === 0) throw unreadable("truncated", firstOffset, `the archive ends in the middle of the content of \`${name}\``, name)
      hash.update(chunk)
      remaining -= chunk.length
      await visitor.fileData?.(chunk)
    }
    await readExactly(paddingAfter(size), firstOffset, `the padding after \`${name}\``, name)
    const sha256 = hash.digest("hex")
    await visitor.fileEnd?.(entry, sha256)
    entries.push({ ...entry, sha256 })
  }
}

interface TypeRefusal {
  readonly reason: RefusalReason
  readonly message: string
}

/** Entry types refused with their own reason; any other type but a file or a directory is "unsupported-type". */
const refusedTypes = new Map<number, TypeRefusal>([
  [typeFlag.hardlink, { reason: "link", message: "hard links are not accepted (they could point outside the target)" }],
  [typeFlag.symlink, { reason: "link", message: "symbolic links are not accepted (they could point outside the target)" }],
  [typeFlag.gnuLongLink, { reason: "link", message: "GNU long link names are not accepted (links are not accepted)" }],
  [typeFlag.charDevice, { reason: "device", message: "character devices are not accepted" }],
  [typeFlag.blockDevice, { reason: "device", message: "block devices are not accepted" }],
  [typeFlag.fifo, { reason: "fifo", message: "FIFOs are not accepted" }],
  [typeFlag.paxGlobal, { reason: "unsupported-type", message: "global PAX headers are not accepted" }],
])

const entryKind = (type: number): EntryKind | TypeRefusal => {
  if (type === typeFlag.file || type === typeFlag.oldFile) return "file"
  if (type === typeFlag.directory) return "directory"
  return (
    refusedTypes.get(type) ?? {
      reason: "unsupported-type",
      message: `entry type \`${String.fromCharCode(type)}\` (0x${type.toString(16)}) is not a regular file or directory`,
    }
  )
}
