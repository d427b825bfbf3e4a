/**
 * A move between two file systems (a dedicated etcd disk at /var/lib/etcd, the kept-data
 * directory on the root disk) that a crash at any moment neither loses nor half-does:
 *
 * 1. copy `from` to `<dir of to>/.cluster-backup-part-<name>`, every file and directory fsynced;
 * 2. rename the part to `to` (the complete copy appears at once), fsync;
 * 3. rename `from` to `<dir of from>/.cluster-backup-trash-<name>` (gone from its place at once), fsync;
 * 4. remove the trash.
 *
 * A failure at step 3 takes the copy back (renamed to the part, removed), so the original alone is
 * left, as if nothing had been done; one at step 4 leaves the move done and the trash to remove.
 *
 * So a part is never the only copy (the original is still in place) and a trash is never the only
 * copy (the complete copy took its final name first): both are removed, by the next move of that
 * name or by the restore's sweep of what a killed run left, without losing anything.
 */
import type { Stats } from "node:fs"
import { constants } from "node:fs"
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, open, readdir, readlink, rename, rm, symlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { BackupFileError } from "./atomic-files.ts"
import { fsyncDirectory, lstatOrUndefined } from "./file-steps.ts"
import { describeFileSystemFailure, type FileSystemFailure } from "./file-system-error.ts"

export const movePartPrefix = ".cluster-backup-part-"
export const moveTrashPrefix = ".cluster-backup-trash-"

/** Where the copy of a move to `to` is built. */
export const movePart = (to: string) => join(dirname(to), `${movePartPrefix}${basename(to)}`)
/** Where the original of a move from `from` goes once its copy is complete, before it is removed. */
export const moveTrash = (from: string) => join(dirname(from), `${moveTrashPrefix}${basename(from)}`)

const fsyncFile = async (path: string) => {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Owner (when this process may set it), mode and modification time of `info`, on the copy at `to`. */
const keepAttributes = async (to: string, info: Stats) => {
  if (process.getuid?.() === 0) await lchown(to, info.uid, info.gid)
  if (!info.isSymbolicLink()) await chmod(to, info.mode & 0o7777)
  await lutimes(to, info.atime, info.mtime)
}

const copyEntry = async (from: string, to: string, info: Stats): Promise<void> => {
  if (info.isDirectory()) {
    await mkdir(to, { mode: 0o700 })
    for (const name of (await readdir(from)).sort()) await copyEntry(join(from, name), join(to, name), await lstat(join(from, name)))
    await keepAttributes(to, info)
    await fsyncDirectory(to)
  } else if (info.isFile()) {
    // A reflink where the file system has them, else the kernel's copy.
    await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
    await keepAttributes(to, info)
    await fsyncFile(to)
  } else if (info.isSymbolicLink()) {
    await symlink(await readlink(from), to)
    await keepAttributes(to, info)
  } else {
    throw new BackupFileError({
      path: from,
      operation: "copy",
      message: `${from} is a FIFO, a device or a socket, which etcd's data never holds; nothing was moved: find out what put it there, move it away, and run again`,
    })
  }
}

const refuseIfPresent = async (to: string) => {
  if ((await lstatOrUndefined(to, ["ENOENT", "ENOTDIR"])) !== undefined) {
    throw new BackupFileError({ code: "EEXIST", path: to, operation: "move into", message: `${to} already exists; refusing to replace it` })
  }
}

/** Moves `from` (a file, a link or a directory tree) to the free name `to` on another file system, as described above. */
export const moveAcrossFileSystems = async (from: string, to: string): Promise<void> => {
  const info = await lstat(from)
  await refuseIfPresent(to)
  const part = movePart(to)
  await rm(part, { recursive: true, force: true })
  try {
    await copyEntry(from, part, info)
    await fsyncDirectory(dirname(to))
    await refuseIfPresent(to)
    await rename(part, to)
  } catch (e) {
    await rm(part, { recursive: true, force: true }).catch(() => undefined)
    throw e
  }
  await fsyncDirectory(dirname(to))
  const trash = moveTrash(from)
  try {
    await rm(trash, { recursive: true, force: true })
    await rename(from, trash)
  } catch (e) {
    // The original never left its place (a failure after the rename would find it in the trash, the copy its only other copy).
    return takeBackCopy(from, to, part, describeFileSystemFailure("move", from, e))
  }
  try {
    await fsyncDirectory(dirname(from))
    await rm(trash, { recursive: true, force: true })
    await fsyncDirectory(dirname(from))
  } catch (e) {
    const failure = describeFileSystemFailure("remove", trash, e)
    throw new BackupFileError({
      ...failure,
      message: `${failure.message}; ${from} was moved (its whole copy is ${to}) but its original, renamed to ${trash}, is still there: the next restore removes it`,
    })
  }
}

/**
 * The original could not be put in the trash after its copy took the name `to`: the copy is taken
 * back (renamed to the part, which is then removed), so the failed move leaves things as they were.
 * Always throws, saying which of the two states it left.
 */
const takeBackCopy = async (from: string, to: string, part: string, failure: FileSystemFailure): Promise<never> => {
  try {
    await rename(to, part)
  } catch {
    throw new BackupFileError({
      ...failure,
      message: `${failure.message}; ${to} holds a whole copy of ${from}, which is still in place, and the copy could not be taken back: remove ${to}, then run again`,
    })
  }
  // A part left behind (or a rename a crash undoes, which puts the copy back) is what a killed move leaves: the next
  // move of that name or the restore's sweep removes it.
  await fsyncDirectory(dirname(to)).catch(() => undefined)
  await rm(part, { recursive: true, force: true }).catch(() => undefined)
  throw new BackupFileError({ ...failure, message: `${failure.message}; its copy at ${to} was taken back: nothing was moved, ${from} is in place` })
}
