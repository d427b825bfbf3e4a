/** Small file-system steps shared by the writer and the extractor. */
import { constants } from "node:fs"
import { lstat, open, rmdir, type FileHandle } from "node:fs/promises"
import { io } from "./errors.ts"

/** Flushes a directory's entries (a rename is durable only once its directory is synced). */
export const fsyncDirectory = async (path: string): Promise<void> => {
  const handle = await io("open directory", path, () => open(path, constants.O_RDONLY | constants.O_DIRECTORY))
  try {
    await handle.sync().catch((e: unknown) => {
      // Some file systems cannot fsync a directory; the data itself was synced already.
      if (!(e instanceof Error && "code" in e && (e.code === "EINVAL" || e.code === "ENOTSUP"))) throw e
    })
  } finally {
    await handle.close()
  }
}

/** Writes the whole buffer (a single write may be partial). */
export const writeAll = async (handle: FileHandle, chunk: Buffer, path: string): Promise<void> => {
  let written = 0
  while (written < chunk.length) {
    const { bytesWritten } = await io("write", path, () => handle.write(chunk, written, chunk.length - written))
    written += bytesWritten
  }
}

/** `lstat`, or `undefined` when nothing is there. */
export const lstatOrUndefined = async (path: string) => {
  try {
    return await lstat(path)
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return undefined
    throw e
  }
}

/** Removes a directory only if it is empty (rollback of a directory this code created). */
export const rmdirIfEmpty = async (path: string): Promise<void> => {
  await rmdir(path).catch(() => undefined)
}
