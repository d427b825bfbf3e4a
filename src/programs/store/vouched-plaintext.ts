/**
 * Whether backup-init's record vouches for a backup file, so that encrypting it for the upload
 * need not hash it again (~0.85 CPU-s per GiB, which on two cores an upload to S3 cannot hide):
 * the record's whole-file sha256 and size are the manifest's, and the file has the identity
 * (inode, size, modification time) backup-init recorded after its last write and fsync.
 * backup-create takes the snapshot's sha256 on the same grounds. The upload checks the identity
 * again once the whole file was read, before the object can complete. A file without such a
 * record (the tarball, a backup from elsewhere) is hashed as it is encrypted.
 */
import { join } from "node:path"
import { Effect } from "effect"
import type { FileDigest } from "../../domain/backup-manifest.ts"
import { type FileIdentity, fileIdentity, sameFileIdentity } from "../../services/file-identity.ts"
import { readSnapshotRecord } from "../backup-dir/snapshot-record.ts"

/** The identity that vouches for `file` in `dir`, or `undefined` when nothing does. */
export const vouchedIdentity = (dir: string, file: FileDigest) =>
  Effect.gen(function* () {
    const record = yield* readSnapshotRecord(dir)
    const known = record.file
    if (known === undefined || known.sha256 !== file.sha256 || record.size !== file.size) return undefined
    const recorded: FileIdentity = { inode: known.inode, size: record.size, mtimeNs: known.mtimeNs }
    return sameFileIdentity(yield* fileIdentity(join(dir, file.name)), recorded) ? recorded : undefined
  }).pipe(Effect.catch(() => Effect.succeed(undefined)))

/** Whether `path` still has `identity`. */
export const stillIdentical = (path: string, identity: FileIdentity) =>
  fileIdentity(path).pipe(
    Effect.map((now) => sameFileIdentity(now, identity)),
    Effect.catch(() => Effect.succeed(false)),
  )
