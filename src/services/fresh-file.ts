/**
 * A file this process creates to write into (a `.part`, a temp name): always a new inode of its
 * own. Opening an existing file with O_TRUNC would keep that file's owner, its mode and every
 * descriptor already open on it, so a leftover `.part` with mode 0644, or one another user
 * planted in a shared directory, would hand out the backup's secrets as they are written; and
 * without O_NOFOLLOW a link planted there would be written through.
 */
import { constants } from "node:fs"
import { type FileHandle, open, rename, rm, unlink } from "node:fs/promises"
import { errnoCode } from "./file-system-error.ts"

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } = constants

/**
 * Unlinks whatever file or link is at `path` (a killed run's leftover), then creates it with
 * O_EXCL and O_NOFOLLOW (one that appears meanwhile is refused with EEXIST, never opened) and sets
 * `mode` exactly, whatever the umask. A directory there is refused (EISDIR). `flags` adds open
 * flags (O_RDWR instead of O_WRONLY, O_DIRECT).
 */
export const createFreshFile = async (path: string, mode: number, flags = O_WRONLY): Promise<FileHandle> => {
  await unlink(path).catch((e: unknown) => {
    if (errnoCode(e) !== "ENOENT") throw e
  })
  const handle = await open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
  try {
    // Only where the umask took bits away: a file system that refuses chmod (some network and FUSE mounts) then
    // fails a write only where the mode would otherwise be wrong.
    if (((await handle.stat()).mode & 0o7777) !== mode) await handle.chmod(mode)
  } catch (e) {
    await handle.close().catch(() => undefined)
    throw e
  }
  return handle
}

/**
 * Writes `data` into a fresh file at `part` (`createFreshFile`), fsyncs it and renames it over `path`,
 * so `path` is the old file or the whole new one. On failure `part` is removed. The caller fsyncs the directory.
 */
export const replaceThroughFreshFile = async (part: string, path: string, data: Uint8Array, mode: number): Promise<void> => {
  try {
    const handle = await createFreshFile(part, mode)
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(part, path)
  } catch (e) {
    await rm(part, { force: true }).catch(() => undefined)
    throw e
  }
}
