/**
 * The parts a directory store writes through: each put its own `<file>.<nonce>.part`, refreshed while it is written
 * (so a dead writer's shows), fsynced, renamed into place and the directory fsynced.
 */
import { createHash, randomBytes } from "node:crypto"
import { open, readdir, rename, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Readable, type Writable } from "node:stream"
import { BackupFileRefused, readBackupFile } from "../backup-file.ts"
import { createFreshFile } from "../fresh-file.ts"
import { keepFresh } from "../kept-fresh.ts"
import { paced, type TransferPacer } from "./transfer-pacer.ts"

export const partSuffix = ".part"
/** A live writer refreshes its part this often; one unchanged for `abandonedAfterMs` (30 periods) is a dead writer's. */
export const defaultRefreshEveryMs = 30_000
export const abandonedAfterMs = 15 * 60_000

/**
 * Each put writes its own part, `<file>.<nonce>.part`: two uploads of one file at once (the same backup uploaded from
 * two places) each rename only what they wrote. With one shared `<file>.part`, the second's start replaced the first's
 * part, and the first then renamed the second's unfinished, unsynced file into place as its own.
 */
export const ownPartOf = (to: string) => `${to}.${randomBytes(8).toString("hex")}${partSuffix}`
const partPattern = /(?:\.[0-9a-f]{16})?\.part$/
/** The key a part is written for: `<file>.<nonce>.part`, or `<file>.part` as earlier versions named it. */
export const keyOfPart = (partKey: string) => partKey.replace(partPattern, "")

const fsyncPath = async (path: string) => {
  const fh = await open(path, "r")
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

const closed = (stream: Readable | Writable): Promise<void> =>
  stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once("close", () => resolve()))

interface CopyOptions {
  readonly expectedSha256?: string | undefined
  readonly maxBytes?: number | undefined
  readonly refreshEveryMs: number
  /** Called as the copy goes, with the bytes copied so far. */
  readonly onProgress?: ((doneBytes: number) => void) | undefined
  /** Paces a file's bytes (`--bandwidth-limit`: a volume over the network, NFS say). */
  readonly pacer?: TransferPacer | undefined
}

/** Copies `from` into `to` through `part` (fsync, rename, fsync of the directory), hashing on the way. */
export const copyAtomically = async (
  from: string | Uint8Array,
  to: string,
  part: string,
  { expectedSha256, maxBytes, refreshEveryMs, onProgress, pacer }: CopyOptions,
) => {
  const handle = await createFreshFile(part, 0o600).catch((e: unknown) => {
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { where: part })
  })
  let stopRefreshing = () => {}
  return new Promise<{ size: number; sha256: string }>((resolve, reject) => {
    const hash = createHash("sha256")
    let size = 0
    let failed = false
    let input: Readable | undefined
    const out = handle.createWriteStream()
    const fail = (where: string, e: unknown) => {
      if (failed) return
      failed = true
      stopRefreshing()
      // Rejected once both files are closed: a caller that goes on (or a test that looks) finds no handle left open.
      const streams = [out.destroy(), ...(input === undefined ? [] : [input.destroy()])]
      // The failure is `e`; a part that cannot be removed is the next run's to sweep, never a rejection nobody handles.
      Promise.all(streams.map(closed))
        .then(() => rm(part, { force: true }))
        .catch(() => undefined)
        .then(() => reject(e instanceof BackupFileRefused ? e : Object.assign(e instanceof Error ? e : new Error(String(e)), { where })))
    }
    // Gone while written: stop now rather than write the rest into an unlinked file, taking the room nobody can see or free.
    stopRefreshing = keepFresh(part, refreshEveryMs, () =>
      fail(part, Object.assign(new Error(`${part} was removed while it was written`), { code: "ENOENT", written: out.bytesWritten })),
    )
    out.on("error", (e) => fail(part, e))
    out.on("finish", () => {
      const sha256 = hash.digest("hex")
      if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
        fail(part, Object.assign(new Error("sha256 differs"), { code: "ESHA256", found: sha256 }))
        return
      }
      fsyncPath(part)
        .then(() => {
          // Renamed, the part is gone: no refresh may take that for another writer's doing.
          stopRefreshing()
          return rename(part, to)
        })
        .then(() => fsyncPath(dirname(to)))
        .then(
          () => resolve({ size, sha256 }),
          (e) => fail(part, e),
        )
    })
    if (typeof from !== "string") {
      hash.update(from)
      size = from.byteLength
      out.end(from)
      return
    }
    // Only a regular file, read no further than its size at open: a FIFO is refused, not waited on.
    const source = Readable.from(paced(readBackupFile(from, { maxBytes, ...(pacer === undefined ? {} : { chunkSize: pacer.chunkBytes }) }), pacer))
    input = source
    source.on("error", (e) => fail(from, e))
    source.on("data", (d) => {
      const chunk = d as Buffer
      hash.update(chunk)
      size += chunk.length
      onProgress?.(size)
    })
    source.pipe(out)
  }).finally(() => stopRefreshing())
}

/** Removes the parts of `to` beside it: files named `<name>.part` or `<name>.<nonce>.part`. */
export const removeParts = async (to: string) => {
  const name = basename(to)
  for (const d of await readdir(dirname(to), { withFileTypes: true })) {
    if (!d.isDirectory() && d.name.startsWith(name) && partPattern.test(d.name) && keyOfPart(d.name) === name)
      await rm(join(dirname(to), d.name), { force: true })
  }
}
