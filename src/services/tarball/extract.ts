/**
 * Extraction of a resource tarball into a target directory, all or nothing. The archive is
 * validated and written into a fresh staging directory (mode 0700) inside the target, so the
 * final moves are renames on one file system. Only when every entry was accepted and written are
 * the top-level units (e.g. `static-pod-resources/<pod>-<N>`) renamed into place, existing ones
 * first moved aside when the caller asked for that. On any failure the staging directory is
 * removed and the renames already done are undone: nothing outside the staging directory changes.
 */
import { constants } from "node:fs"
import { mkdir, mkdtemp, rename, rm, type FileHandle, open } from "node:fs/promises"
import { dirname, isAbsolute, join, resolve, sep } from "node:path"
import type { LayoutCheck } from "./entry-path.ts"
import { io, TarballDestinationExists, TarballEntryRefused, TarballNotAsVerified } from "./errors.ts"
import { fsyncDirectory, lstatOrUndefined, rmdirIfEmpty, writeAll } from "./fs-helpers.ts"
import { directoryMode, normalizeFileMode } from "./modes.ts"
import { readArchive, type ArchiveReadResult } from "./read-archive.ts"
import { defaultTarLimits, type ScannedEntry, type TarLimits } from "./scanner.ts"

export interface ExtractOptions {
  readonly archive: string
  /** An existing directory (e.g. `/etc/kubernetes`). */
  readonly target: string
  readonly limits?: TarLimits | undefined
  readonly layout?: LayoutCheck | undefined
  /** Path depth of the units moved into place: 2 for `static-pod-resources/<pod>-<N>`. */
  readonly unitDepth?: number | undefined
  /**
   * Where an existing destination is moved (under its own relative path) before the new one
   * takes its place. Must be on the target's file system. Absent: existing destinations are an
   * error and nothing is changed.
   */
  readonly moveExistingTo?: string | undefined
  /** The archive must be exactly this (as a verification found it), checked before anything is installed. */
  readonly expectedArchive?: { readonly size: number; readonly sha256: string } | undefined
  readonly signal?: AbortSignal | undefined
}

export interface MovedAside {
  readonly from: string
  readonly to: string
}

export interface ExtractResult extends ArchiveReadResult {
  /** Absolute paths of the units now in place, in order. */
  readonly installed: ReadonlyArray<string>
  /** Existing destinations that were moved aside (kept, never deleted). */
  readonly movedAside: ReadonlyArray<MovedAside>
}

/** The units an archive installs: its paths cut to `depth` segments (shallower files are units too). */
export const installUnits = (entries: ReadonlyArray<ScannedEntry>, depth: number): ReadonlyArray<string> => {
  const units = new Set<string>()
  for (const entry of entries) {
    const segments = entry.path.split("/")
    if (segments.length >= depth) units.add(segments.slice(0, depth).join("/"))
    else if (entry.kind === "file") units.add(entry.path)
  }
  return [...units].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

const errorCode = (e: unknown): string | undefined => (e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : undefined)

export const extractArchive = async (options: ExtractOptions): Promise<ExtractResult> => {
  const { archive } = options
  const target = resolve(options.target)
  const unitDepth = options.unitDepth ?? 2
  const targetStat = await io("inspect target directory", target, () => lstatOrUndefined(target))
  if (targetStat === undefined || !targetStat.isDirectory()) {
    throw new TarballDestinationExists({
      archive,
      destinations: [target],
      message: `cannot extract ${archive}: the target ${target} is not an existing directory (symbolic links are not followed)`,
    })
  }
  const staging = await io("create staging directory", target, () => mkdtemp(join(target, ".cluster-backup-extract-")))
  let current: { readonly handle: FileHandle; readonly path: string } | undefined
  const written: Array<string> = []
  try {
    const conflict = (entry: ScannedEntry, message: string, reason: "duplicate" | "path-conflict") =>
      new TarballEntryRefused({ archive, reason, offset: entry.offset, entry: entry.path, message: `${archive}: entry \`${entry.path}\` refused: ${message}` })
    const makeDirectory = async (entry: ScannedEntry, path: string) => {
      try {
        await mkdir(path, { recursive: true, mode: directoryMode })
      } catch (e) {
        const code = errorCode(e)
        if (code === "EEXIST" || code === "ENOTDIR") throw conflict(entry, "a file of the archive is in the way of this directory", "path-conflict")
        throw e
      }
    }
    // Defence in depth: the scanner already refused every path that could leave the staging directory.
    const inStaging = (entry: ScannedEntry) => {
      const path = resolve(staging, entry.path)
      if (!isStrictlyInside(staging, path)) throw conflict(entry, "it resolves outside the staging directory", "path-conflict")
      return path
    }
    const read = await readArchive(
      archive,
      { limits: options.limits ?? defaultTarLimits, layout: options.layout, signal: options.signal },
      {
        directory: (entry) => io("create directory", join(staging, entry.path), () => makeDirectory(entry, inStaging(entry))),
        fileStart: async (entry) => {
          const path = inStaging(entry)
          await io("create directory", dirname(path), () => makeDirectory(entry, dirname(path)))
          const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
          const handle = await io("create", path, () =>
            open(path, flags, 0o600).catch(async (e: unknown) => {
              if (errorCode(e) !== "EEXIST") throw e
              const existing = await lstatOrUndefined(path)
              throw existing?.isDirectory() === true
                ? conflict(entry, "a directory of the archive has the same name", "path-conflict")
                : conflict(entry, "the archive holds this file twice", "duplicate")
            }),
          )
          current = { handle, path }
        },
        fileData: async (chunk) => {
          if (current !== undefined) await writeAll(current.handle, chunk, current.path)
        },
        fileEnd: async (entry) => {
          if (current === undefined) return
          const { handle, path } = current
          current = undefined
          try {
            await io("chmod", path, () => handle.chmod(normalizeFileMode(entry.mode)))
          } finally {
            await handle.close()
          }
          written.push(path)
        },
      },
    )
    const expected = options.expectedArchive
    if (expected !== undefined && (read.archiveBytes !== expected.size || read.archiveSha256 !== expected.sha256)) {
      throw new TarballNotAsVerified({
        archive,
        expectedSize: expected.size,
        expectedSha256: expected.sha256,
        size: read.archiveBytes,
        sha256: read.archiveSha256,
        message: `${archive} is not the tarball that was verified (${read.archiveBytes} bytes, sha256 ${read.archiveSha256}; verified: ${expected.size} bytes, sha256 ${expected.sha256}): it changed after it was checked, and nothing was installed; make sure nothing writes to the backup directory and run again`,
      })
    }
    // Every file durable before the first rename installs any: fsynced together, so the file system commits them in
    // a few journal transactions instead of one per file.
    await syncFiles(written)
    const units = installUnits(read.entries, unitDepth)
    const { installed, movedAside } = await install(archive, staging, target, units, options.moveExistingTo)
    await rm(staging, { recursive: true, force: true })
    return { ...read, installed, movedAside }
  } catch (e) {
    await current?.handle.close().catch(() => undefined)
    await rm(staging, { recursive: true, force: true }).catch(() => undefined)
    throw e
  }
}

/** fsync of every file in `paths`, 16 at a time. */
const syncFiles = async (paths: ReadonlyArray<string>): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]!
      await io("fsync", path, async () => {
        const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
        try {
          await handle.sync()
        } finally {
          await handle.close()
        }
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(16, paths.length) }, worker))
}

interface Rename {
  readonly from: string
  readonly to: string
}

/** Inside `root` (resolved), never equal to it. */
const isStrictlyInside = (root: string, path: string) => path.startsWith(root.endsWith(sep) ? root : root + sep)

const install = async (
  archive: string,
  staging: string,
  target: string,
  units: ReadonlyArray<string>,
  moveExistingTo: string | undefined,
): Promise<{ readonly installed: ReadonlyArray<string>; readonly movedAside: ReadonlyArray<MovedAside> }> => {
  if (moveExistingTo !== undefined && !isAbsolute(moveExistingTo)) {
    throw new TarballDestinationExists({
      archive,
      destinations: [moveExistingTo],
      message: `the move-aside directory must be an absolute path, got \`${moveExistingTo}\``,
    })
  }
  const aside = moveExistingTo === undefined ? undefined : resolve(moveExistingTo)

  // Check everything before the first rename: the ancestors must be real directories, and a
  // destination that exists needs a free place to go.
  const existing: Array<string> = []
  const blocked: Array<string> = []
  for (const unit of units) {
    const destination = join(target, unit)
    if (!isStrictlyInside(target, destination)) throw new Error(`unit ${unit} escapes ${target}`) // excluded by the path checks
    const segments = unit.split("/")
    for (let i = 1; i < segments.length; i++) {
      const ancestor = join(target, ...segments.slice(0, i))
      const stat = await io("inspect", ancestor, () => lstatOrUndefined(ancestor))
      if (stat !== undefined && !stat.isDirectory()) blocked.push(ancestor)
    }
    const stat = await io("inspect", destination, () => lstatOrUndefined(destination))
    if (stat === undefined) continue
    existing.push(destination)
    if (aside !== undefined) {
      const place = join(aside, unit)
      if ((await io("inspect", place, () => lstatOrUndefined(place))) !== undefined) blocked.push(place)
    }
  }
  if (blocked.length > 0) {
    throw new TarballDestinationExists({
      archive,
      destinations: blocked,
      message: `cannot install ${archive}: ${blocked.join(", ")} ${blocked.length === 1 ? "is" : "are"} in the way (not a directory, or a move-aside place that is already taken); nothing was changed`,
    })
  }
  if (existing.length > 0 && aside === undefined) {
    throw new TarballDestinationExists({
      archive,
      destinations: existing,
      message: `cannot install ${archive}: ${existing.join(", ")} already ${existing.length === 1 ? "exists" : "exist"}; move ${existing.length === 1 ? "it" : "them"} away or ask for existing directories to be moved aside; nothing was changed`,
    })
  }

  const done: Array<Rename> = []
  const createdDirectories: Array<string> = []
  const ensureDirectory = async (path: string) => {
    const missing: Array<string> = []
    for (let p = path; (await lstatOrUndefined(p)) === undefined; p = dirname(p)) missing.unshift(p)
    for (const p of missing) {
      await io("create directory", p, () => mkdir(p, { mode: directoryMode }))
      createdDirectories.push(p)
    }
  }
  const move = async (from: string, to: string) => {
    await io("rename", from, () => rename(from, to))
    done.push({ from, to })
  }
  const installed: Array<string> = []
  const movedAside: Array<MovedAside> = []
  try {
    for (const unit of units) {
      const destination = join(target, unit)
      await ensureDirectory(dirname(destination))
      if (aside !== undefined && existing.includes(destination)) {
        const place = join(aside, unit)
        await ensureDirectory(dirname(place))
        await move(destination, place)
        movedAside.push({ from: destination, to: place })
      }
      await move(join(staging, unit), destination)
      installed.push(destination)
    }
    const synced = new Set([...done.map((r) => dirname(r.to)), ...createdDirectories.map((d) => dirname(d))])
    for (const directory of synced) await fsyncDirectory(directory)
    return { installed, movedAside }
  } catch (e) {
    for (const { from, to } of done.reverse()) await rename(to, from).catch(() => undefined)
    for (const directory of createdDirectories.reverse()) await rmdirIfEmpty(directory)
    throw e
  }
}
