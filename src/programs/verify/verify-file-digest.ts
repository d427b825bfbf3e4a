/**
 * One streaming pass over a backup file: its size, the sha256 of the whole file (what the
 * manifest and `sha256sum` show) and, for a snapshot, etcd's trailer check (the sha256 of the
 * database part against the 32 bytes etcd appended), reusing backup-init's `TrailerCheck`.
 * Memory stays at one read buffer, reused, whatever the file's size. Only a regular file is read, and no
 * further than `maxBytes` (the size the manifest states) or its size when opened
 * (`services/backup-file.ts`).
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { forEachBackupFileChunk } from "../../services/backup-file.ts"
import { TrailerCheck, type SnapshotHashMismatch, type SnapshotTooShort, type TrailerVerified } from "../../services/etcd/snapshot-trailer.ts"

export interface FileDigest {
  readonly size: number
  /** sha256 of the whole file, hex. */
  readonly sha256: string
}

export interface SnapshotDigest extends FileDigest {
  readonly trailer: TrailerVerified | SnapshotHashMismatch | SnapshotTooShort
}

const chunkSize = 1024 * 1024

/** Size and sha256 of a file, in one pass. */
export const digestFile = (path: string, maxBytes?: number) =>
  Effect.suspend(() => {
    const whole = createHash("sha256")
    let size = 0
    return forEachBackupFileChunk(path, { chunkSize, maxBytes }, (chunk) => {
      size += chunk.length
      whole.update(chunk)
    }).pipe(Effect.map(() => ({ size, sha256: whole.digest("hex") }) satisfies FileDigest))
  })

/** Size, sha256 and etcd's trailer check of a snapshot file, in one pass and one hash (the trailer check's continued). */
export const digestSnapshot = (path: string, maxBytes?: number) =>
  Effect.suspend(() => {
    const check = new TrailerCheck()
    let size = 0
    return forEachBackupFileChunk(path, { chunkSize, maxBytes }, (chunk) => {
      size += chunk.length
      check.push(chunk)
    }).pipe(Effect.map(() => ({ size, sha256: check.wholeSha256(), trailer: check.finish() }) satisfies SnapshotDigest))
  })
