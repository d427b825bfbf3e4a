/**
 * The snapshot file before it goes into a backup manifest: it must still be what `backup-init`
 * recorded, and the manifest gets the sha256 of the whole file, which is what `sha256sum` shows.
 * Untouched since backup-init (same inode, size and modification time), the record's whole-file
 * sha256 (computed while streaming) is taken as is; otherwise the file is re-read: its size and
 * database hash must match the record and etcd's trailer.
 */
import { createHash } from "node:crypto"
import { Effect, Schema } from "effect"
import { TrailerCheck } from "../../services/etcd/snapshot-trailer.ts"
import { fileError } from "../../services/atomic-files.ts"
import { forEachBackupFileChunk } from "../../services/backup-file.ts"
import type { SnapshotRecord } from "../backup-dir/snapshot-record.ts"
import { fileIdentity, sameFileIdentity } from "../../services/file-identity.ts"

/** The snapshot file on disk is not the one `backup-init` wrote. */
export class SnapshotFileMismatch extends Schema.TaggedError<SnapshotFileMismatch>()("SnapshotFileMismatch", {
  path: Schema.String,
  message: Schema.String,
}) {}

export interface SnapshotFileDigest {
  readonly size: number
  /** sha256 of the whole file (database and trailer), hex. */
  readonly sha256: string
}

/**
 * The snapshot's size and whole-file sha256 as `record` vouches for them: from the record when the file is, by its
 * identity (inode, size, modification time), the one backup-init left; otherwise from hashing `path` in one pass and
 * checking it against the record.
 */
export const checkSnapshotFile = Effect.fnUntraced(function* (path: string, record: SnapshotRecord) {
  const known = record.file
  if (known !== undefined) {
    const now = yield* fileIdentity(path)
    if (sameFileIdentity(now, { inode: known.inode, size: record.size, mtimeNs: known.mtimeNs })) {
      return { size: record.size, sha256: known.sha256 } satisfies SnapshotFileDigest
    }
    yield* Effect.logInfo(`${path} is not as backup-init left it (inode, size or modification time changed): checking its contents`)
  }
  return yield* hashSnapshotFile(path, record)
})

/** Hashes `path` in one pass and checks it against `record`. */
const hashSnapshotFile = Effect.fnUntraced(function* (path: string, record: SnapshotRecord) {
  const whole = createHash("sha256")
  const trailer = new TrailerCheck()
  let size = 0
  const mismatch = (what: string) =>
    new SnapshotFileMismatch({
      path,
      message: `${path} is not the snapshot backup-init recorded: ${what}. The file was changed or damaged after backup-init; take the backup again.`,
    })
  // A regular file only, opened without waiting: a FIFO or device in its place would block the read for ever.
  yield* forEachBackupFileChunk(path, {}, (chunk) => {
    size += chunk.length
    whole.update(chunk)
    trailer.push(chunk)
  }).pipe(Effect.mapError((e) => (e._tag === "BackupFileRefused" ? mismatch(`it is ${e.found}`) : fileError("read", path)(e))))
  if (size !== record.size) return yield* mismatch(`it has ${size} bytes, the record says ${record.size}`)
  const verified = trailer.finish()
  if (!("sha256" in verified)) return yield* mismatch(verified.message)
  if (verified.sha256 !== record.sha256) return yield* mismatch(`its database sha256 is ${verified.sha256}, the record says ${record.sha256}`)
  return { size, sha256: whole.digest("hex") } satisfies SnapshotFileDigest
})
