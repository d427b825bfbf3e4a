/** Small file-system steps shared by the writer and the extractor. */
import { type FileHandle, rmdir } from "node:fs/promises"
import { fsyncDirectory as syncDirectory } from "../file-steps.ts"
import { io } from "./errors.ts"

export { lstatOrUndefined } from "../file-steps.ts"

/** Flushes a directory's entries (a rename is durable only once its directory is synced). */
export const fsyncDirectory = (path: string): Promise<void> => io("sync directory", path, () => syncDirectory(path))

/** Writes the whole buffer (a single write may be partial). */
export const writeAll = async (handle: FileHandle, chunk: Buffer, path: string): Promise<void> => {
  let written = 0
  while (written < chunk.length) {
    const { bytesWritten } = await io("write", path, () => handle.write(chunk, written, chunk.length - written))
    written += bytesWritten
  }
}

/** Removes a directory only if it is empty (rollback of a directory this code created). */
export const rmdirIfEmpty = async (path: string): Promise<void> => {
  await rmdir(path).catch(() => undefined)
}
