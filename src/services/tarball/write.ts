/**
 * The deterministic tarball writer. From a staging directory it streams a gzip-compressed POSIX
 * tar whose bytes depend only on the tree's names, contents and executable bits and on the given
 * mtime: entries in byte order of their paths, relative names without `./`, directories 0700,
 * files 0600/0700/0755, uid/gid 0 and owner `root`, PAX records only for names over 100 bytes,
 * gzip with a zero header mtime at a fixed level. The archive is written to `<name>.part`,
 * fsynced and then published under its name (never replacing an existing file); the `.part`
 * file is removed on any failure or interruption.
 */
import { createHash } from "node:crypto"
import { constants } from "node:fs"
import { link, lstat, open, readdir, rename, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { createGzip } from "node:zlib"
import { Result } from "effect"
import { createFreshFile } from "../fresh-file.ts"
import { comparePaths, type ArchiveEntry } from "./archive-entry.ts"
import { checkEntryPath, layoutFailureMessage, type LayoutCheck } from "./entry-path.ts"
import { io, ioFailure, isTarballError, TarballIoFailed, TarballSourceRefused } from "./errors.ts"
import { fsyncDirectory, lstatOrUndefined, writeAll } from "./fs-helpers.ts"
import { directoryMode, normalizeFileMode } from "./modes.ts"
import { blockSize, encodeHeader, encodePaxRecords, needsPaxSize, paddingAfter, typeFlag } from "./ustar.ts"

export interface WriteOptions {
  /** The staging directory whose content is archived (its own name is not). */
  readonly source: string
  /** The archive to create; it must not exist yet. */
  readonly destination: string
  /** The mtime of every entry (e.g. the backup's timestamp). */
  readonly mtime: Date
  readonly layout?: LayoutCheck | undefined
  /**
   * Directories shallower than this are not archived, only their content: extracting the archive
   * with GNU tar must not impose 0700 on a host's existing `static-pod-resources`. Default 2.
   */
  readonly directoryDepth?: number | undefined
  readonly signal?: AbortSignal | undefined
}

export interface WriteResult {
  readonly path: string
  /** Size of the compressed archive. */
  readonly bytes: number
  /** sha256 of the compressed archive, hex. */
  readonly sha256: string
  /** The entries in archive order; files with the sha256 of their content. */
  readonly entries: ReadonlyArray<ArchiveEntry>
}

/** gzip level: fixed, since the compressed bytes are part of what is deterministic. */
const gzipLevel = 6
const owner = "root"

interface SourceEntry {
  readonly path: string
  readonly kind: "file" | "directory"
  readonly size: number
  readonly mode: number
}

const collect = async (root: string, options: WriteOptions): Promise<ReadonlyArray<SourceEntry>> => {
  const found: Array<SourceEntry> = []
  const depthOf = (path: string) => path.split("/").length
  const visit = async (relative: string): Promise<void> => {
    const directory = relative === "" ? root : join(root, relative)
    const names = await io("list directory", directory, () => readdir(directory))
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`
      const absolute = join(root, path)
      const checked = checkEntryPath(path)
      if (Result.isFailure(checked)) {
        throw new TarballSourceRefused({ path: absolute, reason: "unsafe-name", message: `cannot archive ${absolute}: ${checked.failure.message}` })
      }
      const stat = await io("inspect", absolute, () => lstat(absolute))
      const kind = stat.isDirectory() ? "directory" : stat.isFile() ? "file" : undefined
      if (kind === undefined) {
        throw new TarballSourceRefused({
          path: absolute,
          reason: "not-regular-or-directory",
          message: `cannot archive ${absolute}: only regular files and directories go into a resource tarball (symbolic links, devices, sockets and FIFOs do not)`,
        })
      }
      if (options.layout !== undefined) {
        const verdict = options.layout(path, kind)
        if (Result.isFailure(verdict)) {
          throw new TarballSourceRefused({ path: absolute, reason: "layout", message: `cannot archive ${absolute}: ${layoutFailureMessage(verdict.failure)}` })
        }
      }
      if (kind === "directory") {
        if (depthOf(path) >= (options.directoryDepth ?? 2)) found.push({ path, kind, size: 0, mode: directoryMode })
        await visit(path)
      } else {
        found.push({ path, kind, size: stat.size, mode: normalizeFileMode(stat.mode) })
      }
    }
  }
  await visit("")
  return found.sort((a, b) => comparePaths(a.path, b.path))
}

const paxName = (path: string): Buffer => {
  const name = Buffer.from(`PaxHeader/${basename(path)}`, "utf8")
  return name.length <= 100 ? name : Buffer.from("PaxHeader/long-name", "utf8")
}

const changed = (path: string, message: string) =>
  new TarballSourceRefused({
    path,
    reason: "changed-while-reading",
    message: `cannot archive ${path}: ${message}; was the staging directory modified during the write?`,
  })

/** The tar stream of the collected entries; fills `written` as content goes by. */
async function* tarStream(root: string, entries: ReadonlyArray<SourceEntry>, mtime: number, written: Array<ArchiveEntry>): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const fullName = Buffer.from(entry.kind === "directory" ? `${entry.path}/` : entry.path, "utf8")
    const records: Array<readonly [string, string]> = []
    if (fullName.length > 100) records.push(["path", entry.path])
    if (needsPaxSize(entry.size)) records.push(["size", String(entry.size)])
    if (records.length > 0) {
      const pax = encodePaxRecords(records)
      yield encodeHeader({ name: paxName(entry.path), mode: 0o600, size: pax.length, mtime, type: typeFlag.paxExtended, owner })
      yield Buffer.concat([pax, Buffer.alloc(paddingAfter(pax.length))])
    }
    const type = entry.kind === "directory" ? typeFlag.directory : typeFlag.file
    yield encodeHeader({ name: fullName.subarray(0, 100), mode: entry.mode, size: entry.size, mtime, type, owner })
    if (entry.kind === "directory") {
      written.push({ kind: "directory", path: entry.path, mode: entry.mode })
      continue
    }
    const absolute = join(root, entry.path)
    const handle = await io("open", absolute, () => open(absolute, constants.O_RDONLY | constants.O_NOFOLLOW))
    try {
      const stat = await io("inspect", absolute, () => handle.stat())
      if (!stat.isFile() || stat.size !== entry.size) throw changed(absolute, `its size went from ${entry.size} to ${stat.size} bytes`)
      const hash = createHash("sha256")
      let remaining = entry.size
      while (remaining > 0) {
        const buffer = Buffer.allocUnsafe(Math.min(remaining, 256 * 1024))
        const { bytesRead } = await io("read", absolute, () => handle.read(buffer, 0, buffer.length, null))
        if (bytesRead === 0) throw changed(absolute, `it ended ${remaining} bytes early`)
        const chunk = buffer.subarray(0, bytesRead)
        hash.update(chunk)
        remaining -= bytesRead
        yield chunk
      }
      const { bytesRead } = await io("read", absolute, () => handle.read(Buffer.alloc(1), 0, 1, null))
      if (bytesRead !== 0) throw changed(absolute, "it grew while being read")
      written.push({ kind: "file", path: entry.path, size: entry.size, mode: entry.mode, sha256: hash.digest("hex") })
    } finally {
      await handle.close()
    }
    const padding = paddingAfter(entry.size)
    if (padding > 0) yield Buffer.alloc(padding)
  }
  yield Buffer.alloc(2 * blockSize)
}

/** Writes the archive; see the module comment for what makes it deterministic and safe. */
export const writeArchive = async (options: WriteOptions): Promise<WriteResult> => {
  const { destination } = options
  const existing = await io("inspect", destination, () => lstatOrUndefined(destination))
  if (existing !== undefined) {
    throw new TarballIoFailed({
      path: destination,
      operation: "create",
      code: "EEXIST",
      message: `${destination} already exists; an archive is never overwritten`,
    })
  }
  const entries = await collect(options.source, options)
  const part = `${destination}.part`
  const handle = await io("create", part, () => createFreshFile(part, 0o600))
  let closed = false
  try {
    const hash = createHash("sha256")
    let bytes = 0
    const written: Array<ArchiveEntry> = []
    const mtime = Math.floor(options.mtime.getTime() / 1000)
    await pipeline(
      Readable.from(tarStream(options.source, entries, mtime, written)),
      createGzip({ level: gzipLevel }),
      async (compressed: AsyncIterable<Buffer>) => {
        for await (const chunk of compressed) {
          hash.update(chunk)
          bytes += chunk.length
          await writeAll(handle, chunk, part)
        }
      },
      options.signal === undefined ? {} : { signal: options.signal },
    ).catch((e: unknown) => {
      if (isTarballError(e) || options.signal?.aborted === true) throw e
      throw ioFailure("write", part, e)
    })
    await io("fsync", part, () => handle.sync())
    closed = true
    await handle.close()
    // An interruption that arrived after the last byte still wins: no archive appears.
    if (options.signal?.aborted === true) throw options.signal.reason
    await publish(part, destination)
    await fsyncDirectory(dirname(destination))
    return { path: destination, bytes, sha256: hash.digest("hex"), entries: written }
  } catch (e) {
    if (!closed) await handle.close().catch(() => undefined)
    await unlink(part).catch(() => undefined)
    throw e
  }
}

/** `part` becomes `destination` unless something took that name meanwhile (link fails on EEXIST). */
const publish = async (part: string, destination: string): Promise<void> => {
  try {
    await link(part, destination)
  } catch (e) {
    const code = e instanceof Error && "code" in e ? e.code : undefined
    if (code === "EEXIST") {
      throw new TarballIoFailed({
        path: destination,
        operation: "publish",
        code,
        message: `${destination} appeared while the archive was written; it was left alone`,
      })
    }
    // File systems without hard links: check, then rename (a narrow race, never a partial file).
    if ((await lstatOrUndefined(destination)) !== undefined) {
      throw new TarballIoFailed({
        path: destination,
        operation: "publish",
        code: "EEXIST",
        message: `${destination} appeared while the archive was written; it was left alone`,
      })
    }
    await io("rename", part, () => rename(part, destination))
    return
  }
  await io("remove", part, () => unlink(part))
}
