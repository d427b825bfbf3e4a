/**
 * The directory Layer of BackupStore: a PersistentVolumeClaim mounted in the pod, or a host path.
 * A key is a relative path under the directory. Writes go to a part of their own (`<file>.<nonce>.part`),
 * are fsynced, renamed into place and the directory fsynced, so a reader (and `list`) never sees a
 * partial file; a part left by a killed writer is a pending upload. A writer refreshes its part while it
 * runs, so prune (and backup-upload making room) removes one unchanged for `abandonedAfterMs`, or
 * older than the grace period. A directory has no object metadata: the manifest's sha256 is checked at download. A backup's
 * directory goes with its last file; one a killed run left empty is listed by `emptyFolders` for prune to remove.
 */
import { mkdir, readdir, rm, rmdir, stat, statfs } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { Effect, Layer } from "effect"
import { compareKeys, type EmptyFolder, type PendingUpload, type StoredObject } from "../../domain/store-layout.ts"
import { BackupFileRefused, openBackupFile, readBackupFileBytes } from "../backup-file.ts"
import { abandonedAfterMs, copyAtomically, defaultRefreshEveryMs, keyOfPart, ownPartOf, partSuffix, removeParts } from "./directory-part.ts"
import type { TransferPacer } from "./transfer-pacer.ts"
import { BackupStore, type BackupStoreShape, type ObjectPage, type PutResult, storeDocumentMaxBytes, unversioned } from "./backup-store.ts"
import {
  backupFileFailed,
  errnoCode,
  localIoFailed,
  StoreBucketMissing,
  StoreLocalIoFailed,
  StoreIntegrityFailed,
  StoreObjectMissing,
  type StoreError,
  uploadFileFailed,
} from "./store-errors.ts"

const pageSize = 1000

/** A file's status, `undefined` when it is gone (removed between a listing and this look); another failure names the path. */
const statUnlessGone = (path: string) =>
  stat(path).catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT") return undefined
    throw Object.assign(e as Error, { where: path })
  })

const validKey = (key: string): boolean => key !== "" && key.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\0"))

interface WalkedFile {
  readonly key: string
  readonly size: number
  readonly modifiedAt: number
}

interface Walked {
  readonly found: Array<WalkedFile>
  readonly emptyFolders: Array<EmptyFolder>
  readonly skipped: Array<{ path: string; code: string }>
}

export interface DirectoryStoreOptions {
  readonly refreshEveryMs?: number
  /** Called as a file is copied in or out: bytes of `key` done so far, of its size. */
  readonly onProgress?: ((key: string, doneBytes: number, totalBytes: number) => void) | undefined
  /** Paces the files put into the store (`--bandwidth-limit`). */
  readonly pacer?: TransferPacer | undefined
}

export const makeDirectoryStore = (
  root: string,
  { refreshEveryMs = defaultRefreshEveryMs, onProgress, pacer }: DirectoryStoreOptions = {},
): BackupStoreShape => {
  const store = root
  const pathOf = (key: string) => join(root, ...key.split("/"))
  const badKey = (key: string) =>
    new StoreLocalIoFailed({
      path: pathOf(key),
      operation: "address",
      code: "EINVAL",
      message: `${JSON.stringify(key)} is not a relative path of plain segments: a store key is <prefix>/<backup-id>/<file>`,
    })

  const rootExists = Effect.tryPromise({ try: () => stat(root), catch: (e) => e }).pipe(
    Effect.flatMap((s) => (s.isDirectory() ? Effect.void : Effect.fail(undefined))),
    Effect.mapError(
      () =>
        new StoreBucketMissing({
          store,
          bucket: root,
          message: `the store directory ${root} does not exist or is not a directory: create it or mount the volume there`,
        }),
    ),
  )

  /** Progress of copying `key`, when asked for and the size is known (a file read only up to its size at open). */
  const progressOf = (key: string, totalBytes: number | undefined) =>
    onProgress === undefined || totalBytes === undefined ? undefined : (doneBytes: number) => onProgress(key, doneBytes, totalBytes)

  const put = (key: string, from: string | Uint8Array, expectedSha256: string | undefined, maxBytes?: number): Effect.Effect<PutResult, StoreError> =>
    Effect.gen(function* () {
      if (!validKey(key)) return yield* badKey(key)
      yield* rootExists
      const to = pathOf(key)
      const fromSize =
        typeof from === "string" && onProgress !== undefined
          ? yield* Effect.promise(() =>
              statUnlessGone(from).then(
                (s) => s?.size,
                () => undefined,
              ),
            )
          : undefined
      yield* Effect.tryPromise({ try: () => mkdir(dirname(to), { recursive: true, mode: 0o700 }), catch: (e) => localIoFailed(dirname(to), "create", e) })
      // What a killed upload of this file left goes first (the room check counts it free); another upload of it still at
      // work then fails to rename its part, instead of both writing.
      yield* Effect.tryPromise({ try: () => removeParts(to), catch: (e) => localIoFailed(dirname(to), "remove", e) })
      const part = ownPartOf(to)
      const written = yield* Effect.tryPromise({
        try: (signal) => {
          signal.addEventListener("abort", () => void rm(part, { force: true }).catch(() => undefined))
          return copyAtomically(from, to, part, { expectedSha256, maxBytes, refreshEveryMs, onProgress: progressOf(key, fromSize), pacer })
        },
        catch: (e): StoreError => {
          if (e instanceof BackupFileRefused) return e
          const where = (e as { where?: string }).where ?? to
          if (errnoCode(e) === "ESHA256") {
            const found = (e as { found: string }).found
            return new StoreIntegrityFailed({
              store,
              key,
              check: "sha256",
              expected: expectedSha256!,
              found,
              message: `${String(from)} has sha256 ${found}, not ${expectedSha256} as expected: nothing stored under ${key}`,
            })
          }
          if (where === part && errnoCode(e) === "ENOENT") {
            const written = (e as { written?: number }).written
            return new StoreLocalIoFailed({
              path: part,
              operation: "write",
              code: "ENOENT",
              message: `${part} was removed while it was written${written === undefined ? "" : ` (stopped after ${written} bytes)`}: another upload of ${key} began (or prune took it for a dead writer's); this upload stored nothing under ${key}`,
            })
          }
          return localIoFailed(where, where === from ? "read" : "write", e)
        },
      })
      return { key, ...written }
    })

  const head = (key: string): Effect.Effect<StoredObject | undefined, StoreError> =>
    validKey(key)
      ? Effect.tryPromise({ try: () => stat(pathOf(key)), catch: (e) => e }).pipe(
          Effect.map((s): StoredObject | undefined => (s.isFile() ? { key, size: s.size, modifiedAt: s.mtimeMs } : undefined)),
          Effect.catch((e) =>
            errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR" ? Effect.succeed(undefined) : Effect.fail(localIoFailed(pathOf(key), "read", e)),
          ),
        )
      : Effect.fail(badKey(key))

  /** The free space of the file system the store's directory is on (the volume). */
  const freeBytes: Effect.Effect<number, StoreError> = rootExists.pipe(
    Effect.andThen(
      Effect.tryPromise({
        try: () => statfs(root),
        catch: (e) => localIoFailed(root, "read the free space of", e),
      }),
    ),
    Effect.map((s) => s.bavail * s.bsize),
  )

  const missing = (key: string) => new StoreObjectMissing({ store, key, message: `${key} is not in ${store}` })

  const getBytes = (key: string) =>
    validKey(key)
      ? readBackupFileBytes(pathOf(key), storeDocumentMaxBytes).pipe(
          Effect.map((b) => new Uint8Array(b)),
          Effect.mapError((e) => (e._tag === "BackupFileUnreadable" && e.code === "ENOENT" ? missing(key) : backupFileFailed(e))),
        )
      : Effect.fail(badKey(key))

  const getStart = (key: string, bytes: number) =>
    validKey(key)
      ? Effect.tryPromise({
          try: async () => {
            // A regular file only: opening a FIFO to read waits for a writer.
            const { handle } = await openBackupFile(pathOf(key))
            try {
              const buffer = Buffer.alloc(bytes)
              const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
              return new Uint8Array(buffer.subarray(0, bytesRead))
            } finally {
              await handle.close()
            }
          },
          catch: (e) => (errnoCode(e) === "ENOENT" ? missing(key) : uploadFileFailed(pathOf(key), "read", e)),
        })
      : Effect.fail(badKey(key))

  const getFile = (key: string, path: string): Effect.Effect<PutResult, StoreError> =>
    Effect.gen(function* () {
      const stored = yield* head(key)
      if (stored === undefined) return yield* missing(key)
      const written = yield* Effect.tryPromise({
        try: () => copyAtomically(pathOf(key), path, `${path}${partSuffix}`, { refreshEveryMs, onProgress: progressOf(key, stored.size), pacer }),
        catch: (e) => localIoFailed((e as { where?: string }).where ?? path, "download into", e),
      })
      return { key, ...written }
    })

  /**
   * Every file whose key starts with `prefix`, in ascending order: only directories that can hold
   * such keys are read. One the store cannot read below the prefix's own (a volume root's
   * lost+found, another user's directory) holds nothing this store can list or prune: it is
   * skipped with a warning instead of failing every listing.
   */
  const walk = (prefix: string): Effect.Effect<Walked, StoreError> => {
    const base = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : ""
    const visit = async (dirKey: string, into: Walked) => {
      const dirPath = dirKey === "" ? root : pathOf(dirKey)
      const entries = await readdir(dirPath, { withFileTypes: true }).catch((e: unknown) => {
        const code = errnoCode(e)
        if (code === "ENOENT" || code === "ENOTDIR") return []
        if ((code === "EACCES" || code === "EPERM") && dirKey !== base) {
          into.skipped.push({ path: dirPath, code })
          return []
        }
        throw Object.assign(e as Error, { where: dirPath })
      })
      if (entries.length === 0 && dirKey !== base && dirKey.startsWith(prefix)) {
        const s = await statUnlessGone(dirPath)
        if (s !== undefined) into.emptyFolders.push({ key: dirKey, modifiedAt: s.mtimeMs })
      }
      for (const d of entries) {
        const key = dirKey === "" ? d.name : `${dirKey}/${d.name}`
        if (d.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await visit(key, into)
        } else if (d.isFile() && key.startsWith(prefix)) {
          const s = await statUnlessGone(join(dirPath, d.name))
          if (s !== undefined) into.found.push({ key, size: s.size, modifiedAt: s.mtimeMs })
        }
      }
    }
    return Effect.tryPromise({
      try: async () => {
        const into: Walked = { found: [], emptyFolders: [], skipped: [] }
        await visit(base, into)
        return { ...into, found: into.found.sort((a, b) => compareKeys(a.key, b.key)) }
      },
      catch: (e) => localIoFailed((e as { where?: string }).where ?? root, "list", e),
    }).pipe(
      Effect.tap(({ skipped }) =>
        Effect.forEach(
          skipped,
          ({ path, code }) => Effect.logWarning(`cannot read ${path} (${code}): skipped, as nothing in it is a backup this store can see`),
          {
            discard: true,
          },
        ),
      ),
    )
  }

  const listPage = (prefix: string, next?: string): Effect.Effect<ObjectPage, StoreError> =>
    rootExists.pipe(
      Effect.andThen(walk(prefix)),
      Effect.map(({ found: files }) => {
        const after = files.filter((f) => !f.key.endsWith(partSuffix) && (next === undefined || compareKeys(f.key, next) > 0))
        const objects = after.slice(0, pageSize)
        return { objects, next: after.length > pageSize ? objects[objects.length - 1]!.key : undefined }
      }),
    )

  const remove = (key: string) =>
    validKey(key)
      ? Effect.tryPromise({
          try: async () => {
            await rm(pathOf(key), { force: true })
            // A backup's directory goes with its last file.
            await rmdir(dirname(pathOf(key))).catch(() => undefined)
          },
          catch: (e) => localIoFailed(pathOf(key), "remove", e),
        })
      : Effect.fail(badKey(key))

  const pendingUploads = (prefix: string) =>
    rootExists.pipe(
      Effect.andThen(walk(prefix)),
      Effect.map(({ found }) =>
        found
          .filter((f) => f.key.endsWith(partSuffix))
          .map(
            (f): PendingUpload => ({
              key: keyOfPart(f.key),
              uploadId: f.key,
              initiatedAt: f.modifiedAt,
              bytes: f.size,
              abandonedAfterMs,
              lastActiveAt: f.modifiedAt,
            }),
          ),
      ),
    )

  /** The part's last change; `undefined` once it is gone. */
  const uploadActiveAt = (u: PendingUpload) =>
    validKey(u.uploadId) && u.uploadId.endsWith(partSuffix)
      ? Effect.tryPromise({
          try: () => statUnlessGone(pathOf(u.uploadId)).then((s) => s?.mtimeMs),
          catch: (e) => localIoFailed(pathOf(u.uploadId), "read", e),
        })
      : Effect.fail(badKey(u.uploadId))

  // Refreshed since it was listed: its writer is at work after all (a pause longer than the listing saw), so it stays.
  const abortUpload = (u: PendingUpload) =>
    uploadActiveAt(u).pipe(
      Effect.flatMap((at) =>
        at !== undefined && u.lastActiveAt !== undefined && at > u.lastActiveAt
          ? Effect.succeed(false)
          : Effect.tryPromise({
              try: async () => {
                await rm(pathOf(u.uploadId), { force: true })
                // A dead writer's backup directory goes with its last part.
                await rmdir(dirname(pathOf(u.uploadId))).catch(() => undefined)
                return true
              },
              catch: (e) => localIoFailed(pathOf(u.uploadId), "remove", e),
            }),
      ),
    )

  const emptyFolders = (prefix: string) =>
    rootExists.pipe(
      Effect.andThen(walk(prefix)),
      Effect.map((w) => w.emptyFolders),
    )

  // rmdir removes only an empty directory: a put that wrote into it meanwhile keeps it.
  const removeEmptyFolder = (key: string) =>
    validKey(key)
      ? Effect.tryPromise({ try: () => rmdir(pathOf(key)), catch: (e) => e }).pipe(
          Effect.as(true),
          Effect.catchIf(
            (e) => ["ENOENT", "ENOTEMPTY", "EEXIST"].includes(errnoCode(e)),
            () => Effect.succeed(false),
          ),
          Effect.mapError((e) => localIoFailed(pathOf(key), "remove", e)),
        )
      : Effect.fail(badKey(key))

  return {
    location: store,
    // A store at / names its backups /<prefix>/<id>/, not //<prefix>/<id>/.
    url: resolve(root).replace(/\/+$/, ""),
    // A directory's copy needs no metadata up front: a growing file is copied once written.
    putFile: (key, path, options) =>
      (options?.growing?.written(options.growing.size) ?? Effect.void).pipe(Effect.andThen(put(key, path, options?.sha256, options?.maxBytes))),
    followRingBytes: () => undefined,
    putBytes: (key, bytes) => put(key, bytes, undefined),
    freeBytes,
    getFile,
    getBytes,
    getStart,
    head,
    listPage,
    remove,
    pendingUploads,
    abortUpload,
    uploadActiveAt,
    emptyFolders,
    removeEmptyFolder,
    ...unversioned,
  }
}

/** The directory Layer. */
export const directoryStoreLayer = (root: string): Layer.Layer<BackupStore> => Layer.succeed(BackupStore, BackupStore.of(makeDirectoryStore(root)))
