/**
 * The promise forms of two durable file steps, the one implementation of each: the streaming
 * code (tarball, age) calls them directly, `atomic-files.ts` and the `DurableFiles` service wrap
 * them as Effects. Failures are Node's own exceptions, for the caller to map with the path.
 */
import type { Stats } from "node:fs"
import { constants } from "node:fs"
import { lstat, open } from "node:fs/promises"

const codeOf = (e: unknown): unknown => (typeof e === "object" && e !== null && "code" in e ? e.code : undefined)

/**
 * fsync of a directory, so that a rename, creation or removal in it survives a crash. Some file
 * systems refuse to fsync a directory (EINVAL, ENOTSUP: procfs, some FUSE and network mounts);
 * the files themselves were synced already, so that refusal is not a failure.
 */
export const fsyncDirectory = async (path: string): Promise<void> => {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync().catch((e: unknown) => {
      if (codeOf(e) !== "EINVAL" && codeOf(e) !== "ENOTSUP") throw e
    })
  } finally {
    await handle.close()
  }
}

/** `lstat` (a symbolic link is not followed), or `undefined` when it fails with one of `absent` (default: ENOENT). */
export const lstatOrUndefined = async (path: string, absent: ReadonlyArray<string> = ["ENOENT"]): Promise<Stats | undefined> => {
  try {
    return await lstat(path)
  } catch (e) {
    if (absent.includes(String(codeOf(e)))) return undefined
    throw e
  }
}
