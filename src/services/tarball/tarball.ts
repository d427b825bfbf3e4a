/**
 * Resource tarballs as Effects: `writeTarball` (deterministic, atomic), `listTarball` (validate
 * and hash every entry without extracting: the verifier's view) and `extractTarball` (all or
 * nothing into a target directory). Interrupting any of them stops the work and waits for its
 * clean-up (`.part` file, staging directory) before the interruption completes.
 */
import { Context, Effect, Layer } from "effect"
import type { ArchiveEntry } from "./archive-entry.ts"
import type { LayoutCheck } from "./entry-path.ts"
import { ioFailure, isTarballError, type TarballError } from "./errors.ts"
import { extractArchive, type MovedAside } from "./extract.ts"
import { readArchive } from "./read-archive.ts"
import { defaultTarLimits, type ScannedEntry, type TarLimits } from "./scanner.ts"
import { writeArchive, type WriteResult } from "./write.ts"

export type { ArchiveEntry } from "./archive-entry.ts"
export type { EntryKind, LayoutCheck } from "./entry-path.ts"
export type { TarLimits } from "./scanner.ts"
export { defaultTarLimits } from "./scanner.ts"
export type { WriteResult } from "./write.ts"
export type { MovedAside } from "./extract.ts"

export interface WriteTarballOptions {
  readonly source: string
  readonly destination: string
  readonly mtime: Date
  readonly layout?: LayoutCheck | undefined
  readonly directoryDepth?: number | undefined
}

export interface ReadTarballOptions {
  readonly limits?: TarLimits | undefined
  readonly layout?: LayoutCheck | undefined
}

export interface TarballListing {
  readonly archive: string
  /** Size and sha256 of the compressed file. */
  readonly bytes: number
  readonly sha256: string
  readonly entries: ReadonlyArray<ArchiveEntry>
}

export interface ExtractTarballOptions extends ReadTarballOptions {
  readonly archive: string
  readonly target: string
  readonly unitDepth?: number | undefined
  readonly moveExistingTo?: string | undefined
  /** The archive must have this size and sha256 (checked before anything is installed). */
  readonly expectedArchive?: { readonly size: number; readonly sha256: string } | undefined
}

export interface ExtractedTarball extends TarballListing {
  readonly installed: ReadonlyArray<string>
  readonly movedAside: ReadonlyArray<MovedAside>
}

class Interrupted extends Error {}

/** Runs abortable async work; on interruption aborts it and waits until it has cleaned up. */
const abortable = <A>(path: string, run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, TarballError> =>
  Effect.callback<A, TarballError>((resume) => {
    const controller = new AbortController()
    const settled = run(controller.signal).then(
      (value) => resume(Effect.succeed(value)),
      (e: unknown) => resume(Effect.fail(isTarballError(e) ? e : ioFailure("process", path, e))),
    )
    return Effect.promise(() => {
      controller.abort(new Interrupted("interrupted"))
      return settled
    })
  })

const publicEntry = (entry: ScannedEntry & { readonly sha256?: string }): ArchiveEntry =>
  entry.kind === "directory"
    ? { kind: "directory", path: entry.path, mode: entry.mode }
    : { kind: "file", path: entry.path, size: entry.size, mode: entry.mode, sha256: entry.sha256 ?? "" }

/** Writes `destination` from the tree under `source` (see `write.ts` for the guarantees). */
export const writeTarball = Effect.fn("writeTarball")(function* (options: WriteTarballOptions) {
  return yield* abortable(options.destination, (signal) => writeArchive({ ...options, signal }))
})

/** Validates the whole archive and hashes each file, writing nothing. */
export const listTarball = Effect.fn("listTarball")(function* (archive: string, options: ReadTarballOptions = {}) {
  const read = yield* abortable(archive, (signal) => readArchive(archive, { limits: options.limits ?? defaultTarLimits, layout: options.layout, signal }))
  return { archive, bytes: read.archiveBytes, sha256: read.archiveSha256, entries: read.entries.map(publicEntry) } satisfies TarballListing
})

/** A file of an archive with its content. */
export interface TarballFile {
  readonly path: string
  readonly bytes: Uint8Array
}

/** An archive's listing, with the content of its small files, from one read. */
export interface TarballContents extends TarballListing {
  readonly files: ReadonlyArray<TarballFile>
}

/**
 * Validates the whole archive like `listTarball` and returns, from the same read, its listing and the
 * content of its files of at most `maxFileBytes` each (larger ones are left out: what reads them looks
 * for small text files).
 */
export const readTarballFiles = Effect.fn("readTarballFiles")(function* (archive: string, options: ReadTarballOptions & { readonly maxFileBytes: number }) {
  const files: Array<TarballFile> = []
  let chunks: Array<Buffer> | undefined
  const read = yield* abortable(archive, (signal) =>
    readArchive(
      archive,
      { limits: options.limits ?? defaultTarLimits, layout: options.layout, signal },
      {
        fileStart: async (entry) => {
          chunks = entry.size <= options.maxFileBytes ? [] : undefined
        },
        fileData: async (chunk) => {
          chunks?.push(Buffer.from(chunk))
        },
        fileEnd: async (entry) => {
          if (chunks !== undefined) files.push({ path: entry.path, bytes: new Uint8Array(Buffer.concat(chunks)) })
          chunks = undefined
        },
      },
    ),
  )
  return { archive, bytes: read.archiveBytes, sha256: read.archiveSha256, entries: read.entries.map(publicEntry), files } satisfies TarballContents
})

/** Extracts into `target` via a staging directory; all or nothing. */
export const extractTarball = Effect.fn("extractTarball")(function* (options: ExtractTarballOptions) {
  const result = yield* abortable(options.archive, (signal) => extractArchive({ ...options, signal }))
  return {
    archive: options.archive,
    bytes: result.archiveBytes,
    sha256: result.archiveSha256,
    entries: result.entries.map(publicEntry),
    installed: result.installed,
    movedAside: result.movedAside,
  } satisfies ExtractedTarball
})

/** The tarball operations as a service, for programs that take their I/O from the context. */
export class Tarball extends Context.Service<
  Tarball,
  {
    readonly write: (options: WriteTarballOptions) => Effect.Effect<WriteResult, TarballError>
    readonly list: (archive: string, options?: ReadTarballOptions) => Effect.Effect<TarballListing, TarballError>
    readonly extract: (options: ExtractTarballOptions) => Effect.Effect<ExtractedTarball, TarballError>
  }
>()("cluster-backup/Tarball") {
  /** The real file system. */
  static readonly live = Layer.succeed(Tarball, Tarball.of({ write: writeTarball, list: listTarball, extract: extractTarball }))
}
