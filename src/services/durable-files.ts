/**
 * The host's files as the restore changes them: each step is all or nothing and durable once it
 * returns (the directory it changed is fsynced), and every failure carries the errno code, the
 * path and what to do (`BackupFileError`). Inspection (`lstat`, `stat`) says "nothing there"
 * with `undefined` instead of failing.
 */
import type { Stats } from "node:fs"
import { constants } from "node:fs"
import { chmod, copyFile, type FileHandle, link, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Context, Effect, Layer } from "effect"
import type { DirectoryIdentity } from "../domain/restored-member-record.ts"
import { BackupFileError, fileError } from "./atomic-files.ts"
import { descriptorPath, descriptorsHavePaths } from "./descriptor-path.ts"
import { errnoCode } from "./file-system-error.ts"
import { fsyncDirectory, lstatOrUndefined } from "./file-steps.ts"
import { moveAcrossFileSystems } from "./cross-device-move.ts"
import { replaceThroughFreshFile } from "./fresh-file.ts"

/** The codes that mean "nothing is at this path" for an inspection. */
const absent = ["ENOENT", "ENOTDIR"]

const attempt = <A>(operation: string, path: string, run: () => Promise<A>): Effect.Effect<A, BackupFileError> =>
  Effect.tryPromise({ try: run, catch: (e) => (e instanceof BackupFileError ? e : fileError(operation, path)(e)) })

const refuseIfPresent = async (path: string, operation: string) => {
  if ((await lstatOrUndefined(path, absent)) !== undefined) {
    throw new BackupFileError({ code: "EEXIST", path, operation, message: `${path} already exists; refusing to replace it` })
  }
}

const move = async (from: string, to: string, acrossFileSystems: boolean) => {
  await refuseIfPresent(to, "move into")
  try {
    await rename(from, to)
  } catch (e) {
    if (errnoCode(e) !== "EXDEV" || !acrossFileSystems) throw e
    return moveAcrossFileSystems(from, to)
  }
  await fsyncDirectory(dirname(to))
  if (dirname(from) !== dirname(to)) await fsyncDirectory(dirname(from))
}

/** How a copy's data got there. */
export type CopyMethod = "copied" | "reflinked" | "hard-linked"

/** The copy's source, open for reading: the file every step of the copy reads, whatever its path names meanwhile. */
interface OpenSource {
  readonly handle: FileHandle
  readonly info: Stats
  /** A path that opens this very file (procfs's link to the descriptor), or the path itself where there is no procfs. */
  readonly readablePath: string
}

/**
 * Opens `from` without waiting (`O_NONBLOCK`: a FIFO swapped in is not waited on for a writer) and
 * refuses anything but a regular file before a byte is read or linked.
 */
const openSource = async (from: string): Promise<OpenSource> => {
  const handle = await open(from, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  try {
    const info = await handle.stat()
    if (!info.isFile()) {
      throw new BackupFileError({
        path: from,
        operation: "copy",
        message: `${from} is not a regular file (a FIFO, a device, a socket or a directory); nothing was copied: make sure nothing replaces it (a backup's and the restore's files are regular files), then run again`,
      })
    }
    return { handle, info, readablePath: descriptorsHavePaths() ? descriptorPath(handle.fd) : from }
  } catch (e) {
    await handle.close()
    throw e
  }
}

const sameFile = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino

/** A file of this process's user with exactly `mode`: what a copy may be a hard link of (with its path naming it, not a link). */
export const ownedWithMode = (info: { readonly uid: number; readonly mode: number }, mode: number): boolean =>
  info.uid === process.getuid?.() && (info.mode & 0o7777) === mode

/**
 * Whether the opened source may be hard-linked as a copy with `mode`: a regular file owned by this
 * process's user with exactly that mode, so the link changes neither its mode nor who may write it,
 * whose path still names it and is not a symbolic link (a link is made of the path, never followed).
 */
const linkableWithMode = async (from: string, source: OpenSource, mode: number) => {
  const { info } = source
  if (!ownedWithMode(info, mode)) return false
  const named = await lstatOrUndefined(from, absent)
  return named?.isFile() === true && sameFile(named, info)
}

/**
 * The data of the opened source at `part` (which does not exist): a reflink where the file system has
 * them (XFS as RHCOS formats it, btrfs), else a hard link when asked and safe, else the kernel's copy.
 */
const placeData = async (from: string, source: OpenSource, part: string, mode: number, hardLinkWhenSafe: boolean): Promise<CopyMethod> => {
  try {
    await copyFile(source.readablePath, part, constants.COPYFILE_FICLONE_FORCE)
    await chmod(part, mode)
    return "reflinked"
  } catch {
    // No reflinks here (or an unreadable source: the copy below reports it).
    await rm(part, { force: true })
  }
  if (hardLinkWhenSafe && (await linkableWithMode(from, source, mode))) {
    try {
      await link(from, part)
      return "hard-linked"
    } catch {
      // Another file system (EXDEV) or links refused there (a failed link creates nothing): copy.
    }
  }
  await copyFile(source.readablePath, part)
  await chmod(part, mode)
  return "copied"
}

/** Linux's O_TMPFILE (with O_DIRECTORY, as the kernel requires it), which Node's constants lack: an unnamed file in a directory. */
const openTemporaryFile = 0o20200000

/**
 * Whether a copy of `file` into `directory` is a reflink, tried for real without a trace: the clone goes into an unnamed
 * file there (O_TMPFILE), which the kernel frees when it is closed, or when this process is killed. False wherever that
 * cannot be told (no O_TMPFILE, no procfs, another file system, one without reflinks).
 */
const reflinks = async (file: string, directory: string): Promise<boolean> => {
  let unnamed: FileHandle | undefined
  try {
    unnamed = await open(directory, openTemporaryFile | constants.O_WRONLY, 0o600)
    await copyFile(file, descriptorPath(unnamed.fd), constants.COPYFILE_FICLONE_FORCE)
    return true
  } catch {
    return false
  } finally {
    await unnamed?.close().catch(() => undefined)
  }
}

/** What a copy must be: `size` bytes ending with `tail` (a snapshot's sha256 trailer, as verified). */
export interface CopyExpectation {
  readonly size: number
  readonly tail: Uint8Array
}

const notTheFile = (from: string, part: string, found: string) =>
  new BackupFileError({
    path: from,
    operation: "check the copy",
    message: `${part} is not the file that was verified (${found}): ${from} changed after it was checked; make sure nothing writes to it and run again`,
  })

/**
 * The placed data, checked on its own descriptor: a regular file of this user with exactly `mode` and,
 * when it was hard-linked, the very file opened as the source (a file swapped in after `linkableWithMode`
 * is caught here; no symbolic link is followed and a FIFO is not waited on), with `expected`'s size and
 * tail; then fsynced.
 */
const checkAndSync = async (from: string, part: string, mode: number, expected: CopyExpectation | undefined, linkedTo: Stats | undefined) => {
  const handle = await open(part, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const info = await handle.stat()
    const uid = process.getuid?.()
    if (!info.isFile() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o7777) !== mode) {
      throw notTheFile(from, part, `not a regular file of this user with mode ${mode.toString(8).padStart(4, "0")}`)
    }
    if (linkedTo !== undefined && !sameFile(info, linkedTo)) throw notTheFile(from, part, "a link to another file than the one opened")
    if (expected !== undefined) {
      if (info.size !== expected.size) throw notTheFile(from, part, `${info.size} bytes, not ${expected.size}`)
      const tail = Buffer.alloc(expected.tail.length)
      const { bytesRead } = await handle.read(tail, 0, tail.length, info.size - tail.length)
      if (bytesRead !== tail.length || !tail.equals(expected.tail)) throw notTheFile(from, part, `its last ${tail.length} bytes differ`)
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Copy to `<to>.part` (a stale one is removed first), check, fsync, rename into the free final name, fsync the directory. */
const copyThroughPart = async (
  from: string,
  to: string,
  mode: number,
  hardLinkWhenSafe: boolean,
  expected: CopyExpectation | undefined,
  hiddenPart: boolean,
): Promise<CopyMethod> => {
  await refuseIfPresent(to, "copy into")
  const part = hiddenPart ? join(dirname(to), `.${basename(to)}.part`) : `${to}.part`
  try {
    // Removed, never written through: a stale part may be a hard link to a backup's file.
    await rm(part, { force: true })
    const source = await openSource(from)
    let method: CopyMethod
    try {
      method = await placeData(from, source, part, mode, hardLinkWhenSafe)
      await checkAndSync(from, part, mode, expected, method === "hard-linked" ? source.info : undefined)
    } finally {
      await source.handle.close()
    }
    await refuseIfPresent(to, "copy into")
    await rename(part, to)
    await fsyncDirectory(dirname(to))
    return method
  } catch (e) {
    await rm(part, { force: true }).catch(() => undefined)
    throw e
  }
}

/** The hidden part `writeReplacing` writes `path` through. */
export const replacingPartOf = (path: string) => join(dirname(path), `.${basename(path)}.part`)

/** Writes `data` through a fresh hidden part over `path` (`replaceThroughFreshFile`), then fsyncs the directory. */
const writeReplacing = async (path: string, data: Uint8Array, mode: number): Promise<void> => {
  await replaceThroughFreshFile(replacingPartOf(path), path, data, mode)
  await fsyncDirectory(dirname(path))
}

/** Device and inode of what is at `path` (links not followed), as decimal strings (they are 64-bit); undefined when nothing is there. */
const identity = async (path: string): Promise<DirectoryIdentity | undefined> => {
  try {
    const info = await lstat(path, { bigint: true })
    return { device: String(info.dev), inode: String(info.ino) }
  } catch (e) {
    if (absent.includes(String(errnoCode(e)))) return undefined
    throw e
  }
}

/**
 * Removes `path`: a file, or a directory with everything in it; nothing there is fine. A file is
 * unlinked rather than given to Node's promise `rm`, which reports an unlink the system refused with
 * EPERM (an immutable file, another user's file in a sticky directory) as ENOTDIR, sending a person
 * after a path that is fine.
 */
const removePath = async (path: string, directories: boolean): Promise<void> => {
  try {
    await unlink(path)
  } catch (e) {
    const code = errnoCode(e)
    if (code === "ENOENT") return
    if (code === "EISDIR" && directories) return rm(path, { recursive: true, force: true })
    throw e
  }
}

export class DurableFiles extends Context.Service<
  DurableFiles,
  {
    /** `lstat` (links not followed); `undefined` when nothing is there (ENOENT, ENOTDIR). */
    readonly lstat: (path: string) => Effect.Effect<Stats | undefined, BackupFileError>
    /** `stat` (links followed); `undefined` when the path or its target does not exist (ENOENT, ENOTDIR, ELOOP). */
    readonly stat: (path: string) => Effect.Effect<Stats | undefined, BackupFileError>
    /** The names in a directory (the failure's `code` says whether it is missing). */
    readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, BackupFileError>
    /** Creates one directory (its parent must exist) with exactly `mode`. */
    readonly makeDirectory: (path: string, mode: number) => Effect.Effect<void, BackupFileError>
    /**
     * Renames `from` to the free name `to` (refused if `to` exists), then fsyncs both directories.
     * With `acrossFileSystems`, where they are on two file systems (EXDEV), `moveAcrossFileSystems`'s
     * crash-safe copy then removal instead.
     */
    readonly move: (from: string, to: string, options?: { readonly acrossFileSystems?: boolean }) => Effect.Effect<void, BackupFileError>
    /**
     * Copies `from` to the free name `to` through `<to>.part` (fsynced, mode `mode`); never leaves a
     * partial `to`. With `hardLinkWhenSafe`, a hard link where `linkableWithMode` allows it and the
     * file system has no reflinks. With `expected`, the copy must match it before it takes its name.
     * Says how the data got there.
     */
    readonly copyThroughPart: (
      from: string,
      to: string,
      mode: number,
      /** `hiddenPart`: the part is `.<name>.part`, a dot file (a kubelet reads every other file of its manifest directory as a pod). */
      options?: { readonly hardLinkWhenSafe?: boolean; readonly expected?: CopyExpectation; readonly hiddenPart?: boolean },
    ) => Effect.Effect<CopyMethod, BackupFileError>
    /**
     * Whether `copyThroughPart` of `file` into `directory` would be a reflink (its blocks shared, no data written):
     * tried, leaving nothing behind, also when killed. False where it cannot be told.
     */
    readonly reflinks: (file: string, directory: string) => Effect.Effect<boolean>
    readonly removeEmptyDirectory: (path: string) => Effect.Effect<void, BackupFileError>
    /** Removes a file (a directory is refused: EISDIR); nothing there is fine. */
    readonly removeFile: (path: string) => Effect.Effect<void, BackupFileError>
    /** Removes a file, or a directory and everything in it; nothing there is fine. */
    readonly removeTree: (path: string) => Effect.Effect<void, BackupFileError>
    readonly syncDirectory: (path: string) => Effect.Effect<void, BackupFileError>
    /** Device and inode (links not followed), decimal; `undefined` when nothing is there. */
    readonly identity: (path: string) => Effect.Effect<DirectoryIdentity | undefined, BackupFileError>
    /** Writes `data` with `mode` over `path` (replacing what is there) through `replacingPartOf(path)`; never leaves a partial `path`. */
    readonly writeReplacing: (path: string, data: Uint8Array, mode: number) => Effect.Effect<void, BackupFileError>
  }
>()("cluster-backup/DurableFiles") {
  static readonly live = Layer.succeed(
    DurableFiles,
    DurableFiles.of({
      lstat: (path) => attempt("inspect", path, () => lstatOrUndefined(path, absent)),
      stat: (path) =>
        attempt("inspect", path, () =>
          stat(path).catch((e: unknown) => ([...absent, "ELOOP"].includes(String((e as NodeJS.ErrnoException).code)) ? undefined : Promise.reject(e))),
        ),
      readDirectory: (path) => attempt("list", path, () => readdir(path)),
      makeDirectory: (path, mode) => attempt("create directory", path, () => mkdir(path, { mode }).then(() => chmod(path, mode))),
      // Not interruptible: an interruption waits for the move to finish (a copy off another file system may take minutes),
      // or the rollback and the sweep of parts and trash that follow would run while the copy goes on, then removes the original.
      move: (from, to, options) => attempt("move", from, () => move(from, to, options?.acrossFileSystems === true)).pipe(Effect.uninterruptible),
      copyThroughPart: (from, to, mode, options) =>
        attempt("copy", from, () => copyThroughPart(from, to, mode, options?.hardLinkWhenSafe === true, options?.expected, options?.hiddenPart === true)),
      reflinks: (file, directory) => Effect.promise(() => reflinks(file, directory)),
      removeEmptyDirectory: (path) => attempt("remove the directory", path, () => rmdir(path)),
      removeFile: (path) => attempt("remove", path, () => removePath(path, false)),
      removeTree: (path) => attempt("remove", path, () => removePath(path, true)),
      syncDirectory: (path) => attempt("sync directory", path, () => fsyncDirectory(path)),
      identity: (path) => attempt("inspect", path, () => identity(path)),
      writeReplacing: (path, data, mode) => attempt("write", path, () => writeReplacing(path, data, mode)),
    }),
  )
}
