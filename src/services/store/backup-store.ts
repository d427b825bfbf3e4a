/**
 * BackupStore: where finished backups are kept off the pod. One interface over every store (a
 * directory, S3-compatible object storage, an in-memory store for tests), addressed by keys
 * relative to the store's root (`<prefix>/<backup-id>/<file>`, see domain/store-layout).
 *
 * Promises of every Layer:
 * - a put is all or nothing: a reader never sees a partial object under its key (S3: single PUT
 *   or a completed multipart upload; directory: `.part` + fsync + rename);
 * - a put checks what it wrote: the size (S3: a HEAD after the upload) and, when the caller
 *   passes it, the sha256 of the bytes read from the local file;
 * - a download computes the sha256 while writing, writes `<path>.part` and renames it only once
 *   complete; the caller compares the sha256 with the manifest's;
 * - an interrupted or failed put leaves no pending upload behind (S3: aborted).
 */
import { Context, Effect } from "effect"
import type { StoreVersioning } from "../../domain/bucket-versioning.ts"
import type { EmptyFolder, PendingUpload, StoredObject } from "../../domain/store-layout.ts"
import type { StoreError } from "./store-errors.ts"

/** The most `getBytes` reads: a manifest's bound, the largest of the documents it reads. */
export { maxManifestBytes as storeDocumentMaxBytes } from "../../domain/backup-manifest.ts"

export interface PutResult {
  readonly key: string
  readonly size: number
  readonly sha256: string
}

export interface PutFileOptions {
  readonly sha256?: string | undefined
  /** Refuse a larger file (the size its manifest states). */
  readonly maxBytes?: number | undefined
  /** The file is still being written: its bytes are read only once written. */
  readonly growing?: GrowingFile | undefined
}

/**
 * A file another fiber is still writing, front to back, whose final size is known (age encryption
 * into it: encrypted-upload.ts), so the upload overlaps the writing. Its sha256 is not known when
 * the upload starts: the put computes it from the bytes it stores and returns it (S3 records
 * `metadata` in its place).
 */
export interface GrowingFile {
  readonly size: number
  /** Succeeds once the file's first `end` bytes are written (the writer's failure interrupts the put instead). */
  readonly written: (end: number) => Effect.Effect<void>
  /** Object metadata (S3: `x-amz-meta-<name>`) recorded instead of the unknown sha256. */
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /**
   * The file is a ring of the store's `followRingBytes(size)`: byte `n` is at `n % bytes`, and the
   * writer overwrites it once the put calls `release` past it (all bytes before `end` are stored
   * and never read again).
   */
  readonly ring?: { readonly bytes: number; readonly release: (end: number) => void } | undefined
}

export interface ObjectPage {
  /** In ascending key order. */
  readonly objects: ReadonlyArray<StoredObject>
  /** Pass back to get the next page; `undefined` on the last page. */
  readonly next: string | undefined
}

export interface BackupStoreShape {
  /** Where the store is, for messages (`s3://bucket`, `/mnt/backups`): never a credential. */
  readonly location: string
  /**
   * How a backup's location names the store, before the backup's key: `s3://bucket`, or the directory's absolute path
   * (`--store-name` gives another, as the backup pod gives `pvc://<claim>` for its volume).
   */
  readonly url: string
  /**
   * Uploads a local file, opened by `backup-file.ts`'s opener: only a regular file (a FIFO or a
   * device is refused at once), never read past its size at open or `maxBytes`. With `sha256`,
   * fails (and stores nothing) when the file's differs.
   */
  readonly putFile: (key: string, path: string, options?: PutFileOptions) => Effect.Effect<PutResult, StoreError>
  /**
   * The size of the ring in which this store can follow a growing file of `size` bytes (see
   * `GrowingFile.ring`), or `undefined` when it reads such a file whole (then it must be written whole).
   */
  readonly followRingBytes: (size: number) => number | undefined
  readonly putBytes: (key: string, bytes: Uint8Array) => Effect.Effect<PutResult, StoreError>
  /**
   * The bytes puts may still write, where the store has such a limit and can tell it (a directory
   * store: its file system's free space); `undefined` where it cannot (object storage).
   */
  readonly freeBytes: Effect.Effect<number | undefined, StoreError>
  /** Downloads to `path` (through `<path>.part`); the size and the sha256 of what was written. */
  readonly getFile: (key: string, path: string) => Effect.Effect<PutResult, StoreError>
  /**
   * A small object read whole (a manifest, its signature, verify's record): one larger than `storeDocumentMaxBytes`, or that is
   * not a regular file in a directory store (a FIFO would never end), is refused rather than read into memory.
   */
  readonly getBytes: (key: string) => Effect.Effect<Uint8Array, StoreError>
  /** The first `bytes` bytes (at least 1) of an object, fewer when it is shorter; nothing further is read. */
  readonly getStart: (key: string, bytes: number) => Effect.Effect<Uint8Array, StoreError>
  /** The object's size, time and recorded sha256; `undefined` when there is none. */
  readonly head: (key: string) => Effect.Effect<StoredObject | undefined, StoreError>
  /** One page of the objects whose keys start with `prefix`. */
  readonly listPage: (prefix: string, next?: string) => Effect.Effect<ObjectPage, StoreError>
  /** Removes an object; removing a missing one succeeds. */
  readonly remove: (key: string) => Effect.Effect<void, StoreError>
  /** Uploads started under `prefix` and neither completed nor aborted. */
  readonly pendingUploads: (prefix: string) => Effect.Effect<ReadonlyArray<PendingUpload>, StoreError>
  /**
   * Aborts the upload: `false` when its writer was seen at work since it was listed (a directory store's part refreshed
   * after `lastActiveAt`), so it was kept; `true` when it is gone, aborted here or before.
   */
  readonly abortUpload: (upload: PendingUpload) => Effect.Effect<boolean, StoreError>
  /**
   * When the upload's writer was last seen at work (an S3 upload's newest part, its start when it has none); `undefined`
   * when the upload is no longer pending (completed or aborted since it was listed).
   */
  readonly uploadActiveAt: (upload: PendingUpload) => Effect.Effect<number | undefined, StoreError>
  /** The folders under `prefix` with nothing in them (a directory store's directories); object storage has none. */
  readonly emptyFolders: (prefix: string) => Effect.Effect<ReadonlyArray<EmptyFolder>, StoreError>
  /** Removes the folder `key` if it is still empty: `false` when something was written into it since, or it is gone. */
  readonly removeEmptyFolder: (key: string) => Effect.Effect<boolean, StoreError>
  /** Whether `remove` frees what it removes: a bucket's versioning (a directory store has none), or why it could not be read. */
  readonly versioning: Effect.Effect<StoreVersioning>
}

/**
 * A live upload to object storage completes a part at least this often: a part's request gives up after 2 minutes without
 * an answer (`--s3-request-timeout`, at most 3) and is retried 5 times by default, at most 20 (each wait at most 20 s:
 * 12 minutes by default, 70 at the most), a bandwidth limit lets the parts in flight take at most 10 minutes to send
 * (`longestPacedPartsMs`), and backup-upload's deadline is 1 hour by default. The store's times are its own, but S3 refuses a client whose clock is
 * more than 15 minutes off (RequestTimeTooSkewed). One idle for longer is a dead writer's (a pod lost mid-upload), and
 * prune aborts it without waiting out the grace period.
 */
export const multipartAbandonedAfterMs = 90 * 60_000

/** A store whose removals free what they remove (a directory store's files). */
export const unversioned: Pick<BackupStoreShape, "versioning"> = { versioning: Effect.succeed({ _tag: "Known", status: "Unversioned" }) }

/** Object storage has no folders: a key's prefix is there only while an object has it. */
export const noFolders: Pick<BackupStoreShape, "emptyFolders" | "removeEmptyFolder"> = {
  emptyFolders: () => Effect.succeed([]),
  removeEmptyFolder: () => Effect.succeed(false),
}

export class BackupStore extends Context.Service<BackupStore, BackupStoreShape>()("cluster-backup/BackupStore") {}
