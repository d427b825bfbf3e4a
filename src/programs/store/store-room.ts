/**
 * Before backup-upload writes anything into a store that reports its free space (a directory
 * store: a volume), the whole upload is checked against it (domain/upload-room.ts), so a backup
 * that cannot fit is refused at once with what it needs, instead of failing at ENOSPC after
 * gigabytes. Object storage reports none: nothing is checked there.
 */
import { Effect } from "effect"
import { payloadBytes } from "../../domain/age-payload-layout.ts"
import { encryptedSuffix, type FileDigest } from "../../domain/backup-manifest.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { objectKey, type PendingUpload } from "../../domain/store-layout.ts"
import { uploadShortfall, type UploadStep } from "../../domain/upload-room.ts"
import { describeVolumeLimit } from "../../domain/volume-size-limits.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { DiskSpace } from "../../services/disk-space.ts"
import { BackupDirTooSmall, StoreTooSmall } from "./upload-errors.ts"

/** Kept free beyond each file: the manifest, its signature and verify's record written last (small; a bound, not their size), and an encrypted file's age header. */
const allowanceBytes = 1024 * 1024

export interface FileToStore {
  readonly file: FileDigest
  readonly encrypted: boolean
}

/** The bytes a file takes in the store: its ciphertext's payload when encrypted (the age header is in the allowance). */
export const storedBytes = ({ file, encrypted }: FileToStore): number => (encrypted ? payloadBytes(file.size) : file.size)

/**
 * Fails with `StoreTooSmall` unless the store has room for `files`, put in order, each beside what it replaces. `left`: the
 * uploads killed runs of this backup left; a put removes the parts of its own key as it begins.
 */
export const requireStoreRoom = Effect.fn("requireStoreRoom")(function* (
  prefix: string,
  id: string,
  files: ReadonlyArray<FileToStore>,
  left: ReadonlyArray<PendingUpload>,
) {
  const store = yield* BackupStore
  const free = yield* store.freeBytes
  if (free === undefined) return
  const sizeOf = (name: string) => store.head(objectKey(prefix, id, name)).pipe(Effect.map((o) => o?.size ?? 0))
  const steps: Array<UploadStep> = []
  for (const f of files) {
    const sealed = `${f.file.name}${encryptedSuffix}`
    // What is there under the name it is stored as is replaced; the other form (plain or .age) is removed after it.
    const freedBytes = (yield* sizeOf(f.file.name)) + (yield* sizeOf(sealed))
    const name = f.encrypted ? sealed : f.file.name
    const freedBeforeBytes = left.filter((u) => u.key === objectKey(prefix, id, name)).reduce((sum, u) => sum + (u.bytes ?? 0), 0)
    steps.push({ name, freedBeforeBytes, bytes: storedBytes(f), freedBytes })
  }
  const short = uploadShortfall(free, steps, allowanceBytes)
  if (short === undefined) return
  return yield* new StoreTooSmall({
    store: store.location,
    neededBytes: short.neededBytes,
    availableBytes: free,
    message: `backup ${id} needs ${formatBytes(short.neededBytes)} free in the store ${store.location}, which has ${formatBytes(free)} (${short.name} would not fit): nothing was uploaded; remove old backups from it (prune with a retention rule) or give its volume more room`,
  })
})

/** Room kept beyond a ciphertext in the backup directory: its age header (a stanza of ~100-200 bytes per recipient). */
const headerAllowanceBytes = 64 * 1024

/**
 * Fails with `BackupDirTooSmall` unless the backup directory's file system has room for the ciphertext that encrypting
 * a file for the store writes beside it (one file at a time): the whole of it, or the ring a store that follows the
 * file as it grows reads it in.
 */
export const requireCiphertextRoom = Effect.fn("requireCiphertextRoom")(function* (dir: string, files: ReadonlyArray<FileToStore>) {
  const store = yield* BackupStore
  const largest = Math.max(
    0,
    ...files
      .filter((f) => f.encrypted)
      .map((f) => Math.min(payloadBytes(f.file.size), store.followRingBytes(payloadBytes(f.file.size)) ?? Number.POSITIVE_INFINITY)),
  )
  if (largest === 0) return
  const needed = largest + headerAllowanceBytes
  const usage = yield* DiskSpace.use((d) => d.usage(dir))
  if (usage.availableBytes >= needed) return
  return yield* new BackupDirTooSmall({
    path: dir,
    neededBytes: needed,
    availableBytes: usage.availableBytes,
    message: `encrypting the backup for ${store.location} writes each file's ciphertext beside it in ${dir} first (${formatBytes(needed)} at most), which has ${formatBytes(usage.availableBytes)} free: nothing was uploaded; ${usage.volumeLimit === undefined ? "free space there, or copy the backup to a directory with room and upload from there" : describeVolumeLimit(usage.volumeLimit)}`,
  })
})
