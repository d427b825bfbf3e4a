/**
 * Reads a `.tar.gz` file once, end to end: the compressed bytes are hashed (the archive's
 * sha256), decompressed, and scanned. A gzip failure (bad magic, corrupt data, cut short,
 * garbage after the gzip stream) becomes `TarballUnreadable` with reason `gzip`. Only a regular
 * file is opened, and read no further than `limits.maxArchiveBytes` (`services/backup-file.ts`).
 */
import { createHash } from "node:crypto"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { createGunzip } from "node:zlib"
import { readBackupFile } from "../backup-file.ts"
import { isTarballError, ioFailure, TarballUnreadable } from "./errors.ts"
import { scanTar, type ScanOptions, type ScanSummary, type ScanVisitor } from "./scanner.ts"

export interface ArchiveReadResult extends ScanSummary {
  /** Size of the compressed file, in bytes. */
  readonly archiveBytes: number
  /** sha256 of the compressed file, hex. */
  readonly archiveSha256: string
}

const isZlibError = (e: unknown): e is Error & { code: string } => e instanceof Error && "code" in e && typeof e.code === "string" && e.code.startsWith("Z_")

/** Scans the archive at `file`, calling the visitor for each accepted entry. */
export const readArchive = async (file: string, options: Omit<ScanOptions, "archive">, visitor: ScanVisitor = {}): Promise<ArchiveReadResult> => {
  const hash = createHash("sha256")
  let archiveBytes = 0
  let tarOffset = 0
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      archiveBytes += chunk.length
      done(null, chunk)
    },
  })
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      tarOffset += chunk.length
      done(null, chunk)
    },
  })
  let summary: ScanSummary | undefined
  try {
    await pipeline(
      readBackupFile(file, { maxBytes: options.limits.maxArchiveBytes, signal: options.signal }),
      tap,
      createGunzip(),
      count,
      async (source: AsyncIterable<Buffer>) => {
        summary = await scanTar(source, { ...options, archive: file }, visitor)
      },
      options.signal === undefined ? {} : { signal: options.signal },
    )
  } catch (e) {
    if (isTarballError(e)) throw e
    if (isZlibError(e)) {
      throw new TarballUnreadable({
        archive: file,
        reason: "gzip",
        offset: tarOffset,
        message: `${file}: not a valid gzip stream (${e.message}) after ${tarOffset} decompressed bytes`,
      })
    }
    if (options.signal?.aborted === true) throw options.signal.reason
    throw ioFailure("read", file, e)
  }
  if (summary === undefined) throw ioFailure("read", file, new Error("the archive stream ended before it was scanned"))
  return { ...summary, archiveBytes, archiveSha256: hash.digest("hex") }
}
