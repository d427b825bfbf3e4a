/**
 * A file's identity as the kernel keeps it: inode, size and modification time in nanoseconds. Any write or truncation
 * through the file system moves the modification time, and a replaced file has another inode: the same identity
 * later means the same bytes, short of damage below the file system (which the backup's later verify re-hashes for).
 */
import type { BigIntStats } from "node:fs"
import { stat } from "node:fs/promises"
import { Effect } from "effect"
import { type BackupFileError, fileError } from "./atomic-files.ts"

export interface FileIdentity {
  readonly inode: string
  readonly size: number
  readonly mtimeNs: string
}

/** The identity in a `stat` taken with `{ bigint: true }` (of a path or of an open file). */
export const identityOf = (s: BigIntStats): FileIdentity => ({ inode: String(s.ino), size: Number(s.size), mtimeNs: String(s.mtimeNs) })

/** The identity of `path` (links followed). */
export const fileIdentity = (path: string): Effect.Effect<FileIdentity, BackupFileError> =>
  Effect.tryPromise({
    try: async () => identityOf(await stat(path, { bigint: true })),
    catch: fileError("stat", path),
  })

export const sameFileIdentity = (a: FileIdentity, b: FileIdentity): boolean => a.inode === b.inode && a.size === b.size && a.mtimeNs === b.mtimeNs
