/**
 * The file a snapshot streams into. Where the filesystem allows it, it is opened with O_DIRECT:
 * the snapshot's gigabytes go from the write buffers to the disk without passing through the
 * page cache, so a backup
 * - does not evict the pages etcd and the API server work from on a control-plane node,
 * - does not pile up dirty pages for one final fsync that other fsyncs on the same disk (etcd's
 *   WAL among them) would wait behind,
 * - and spends no CPU copying into the cache (about half of backup-init's CPU; bench/README.md).
 * Direct I/O needs memory, offsets and lengths aligned to the device's blocks: `alignedBuffer`
 * gives page-aligned memory and writers keep offsets and lengths at multiples of
 * `directAlignment`. A filesystem that refuses O_DIRECT gets a buffered file.
 *
 * node:fs is used directly because the FileSystem service cannot open with O_DIRECT.
 */
import { constants } from "node:fs"
import { open as openFile, rm, type FileHandle } from "node:fs/promises"
import { Effect, type Scope } from "effect"
import { fileError, type BackupFileError } from "./atomic-files.ts"

/** Offsets and lengths of direct writes are multiples of this (a page: enough for every block device). */
export const directAlignment = 4096

// Node has WebAssembly; the "es2024" lib does not declare it.
declare const WebAssembly: { readonly Memory: new (size: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } }

/**
 * `bytes` of page-aligned memory. ArrayBuffers come from malloc, which aligns to 16 bytes;
 * WebAssembly memory is mapped in whole pages.
 */
export const alignedBuffer = (bytes: number): Buffer => {
  const pages = Math.ceil(bytes / 65536)
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, bytes)
}

export interface SnapshotFile {
  /** Writes bypass the page cache: every write's memory, offset and length must be aligned. */
  readonly direct: boolean
  /** Writes all of `data` at `position`. */
  readonly writeAt: (data: Uint8Array, position: number) => Effect.Effect<void, BackupFileError>
  readonly truncate: (length: number) => Effect.Effect<void, BackupFileError>
  readonly sync: Effect.Effect<void, BackupFileError>
}

export type OpenFile = (path: string, flags: number, mode: number) => Promise<FileHandle>

const { O_CREAT, O_DIRECT, O_EXCL, O_WRONLY } = constants

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)))

const isInvalid = (e: unknown) => (e as { readonly code?: unknown } | undefined)?.code === "EINVAL"

const open = (path: string, direct: boolean, openWith: OpenFile) =>
  Effect.tryPromise({
    try: async (): Promise<{ readonly handle: FileHandle; readonly direct: boolean }> => {
      if (direct && O_DIRECT !== undefined) {
        try {
          return { handle: await openWith(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o600), direct: true }
        } catch (e) {
          if (!isInvalid(e)) throw e
          // Linux creates the file before it checks O_DIRECT, so it may exist now; it is ours:
          // with O_EXCL the call would have failed with EEXIST had it existed before.
          try {
            return { handle: await openWith(path, O_WRONLY | O_CREAT, 0o600), direct: false }
          } catch (again) {
            await rm(path, { force: true })
            throw again
          }
        }
      }
      return { handle: await openWith(path, O_WRONLY | O_CREAT | O_EXCL, 0o600), direct: false }
    },
    catch: (e) => fileError("create", path)(asError(e)),
  })

/**
 * Creates `path` (it must not exist) with mode 0600 for writing, with direct I/O if `direct` and
 * the filesystem allows it. The file is closed with the scope.
 */
export const createSnapshotFile = (
  path: string,
  options: { readonly direct: boolean; readonly open?: OpenFile },
): Effect.Effect<SnapshotFile, BackupFileError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(open(path, options.direct, options.open ?? openFile), ({ handle }) => Effect.promise(() => handle.close().catch(() => undefined))),
    ({ handle, direct }): SnapshotFile => {
      const attempt = <A>(operation: string, run: () => Promise<A>) => Effect.tryPromise({ try: run, catch: (e) => fileError(operation, path)(asError(e)) })
      return {
        direct,
        writeAt: (data, position) =>
          attempt("write", async () => {
            for (let done = 0; done < data.length; ) {
              const { bytesWritten } = await handle.write(data, done, data.length - done, position + done).catch((e: unknown) => {
                if (!direct || !isInvalid(e)) throw e
                throw new Error(`${(e as Error).message} (the filesystem refused a direct write: run with --no-direct-io)`)
              })
              if (bytesWritten === 0) throw new Error(`the write at byte ${position + done} wrote nothing`)
              done += bytesWritten
            }
          }),
        truncate: (length) => attempt("truncate", () => handle.truncate(length)),
        sync: attempt("fsync", () => handle.sync()),
      }
    },
  )
