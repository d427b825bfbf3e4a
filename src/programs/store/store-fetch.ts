/**
 * Brings a complete backup from a store into a work directory for `verify` or `restore`: the
 * manifest read first and, with trusted keys, its signature checked (stored-signature.ts), the free space of the work directory checked against the bytes still to
 * download (files already there with the manifest's size count as present; `download` checks
 * their sha256), then `downloadBackup` (every file hash-checked before it is kept). The copy is
 * only downloaded here: `verify` checks it, and `restore` refuses it unless its own verification
 * passes.
 */
import { join } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { DiskSpace } from "../../services/disk-space.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed } from "../../services/store/store-errors.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { completeBackupManifest, downloadBackup, presentSize } from "./store-download.ts"
import type { IdentitySet } from "../../services/crypto/age-identity-files.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { refuseUnauthenticatedManifest } from "./stored-signature.ts"

export class WorkDirTooSmall extends Schema.TaggedError<WorkDirTooSmall>()("WorkDirTooSmall", {
  path: Schema.String,
  neededBytes: Schema.Number,
  availableBytes: Schema.Number,
  message: Schema.String,
}) {}

/** Room left for the manifest beside the two files (it is small; a bound, not its size). */
const manifestAllowance = 1024 * 1024

export const fetchBackup = Effect.fn("fetchBackup")(function* (
  prefix: string,
  id: string,
  workDir: string,
  identities?: IdentitySet,
  trustedKeys: ReadonlyArray<TrustedKey> = [],
) {
  const store = yield* BackupStore
  const manifest = yield* completeBackupManifest(prefix, id)
  yield* refuseUnauthenticatedManifest(prefix, id, trustedKeys)
  const fs = yield* FileSystem.FileSystem
  yield* fs.makeDirectory(workDir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(workDir, "create", e)))
  let needed = manifestAllowance
  // An encrypted file's ciphertext sits beside its plaintext while it is decrypted, one file at a time.
  let ciphertext = 0
  for (const f of [manifest.files.snapshot, manifest.files.resources]) {
    const path = join(workDir, f.name)
    const present = yield* presentSize(path)
    if (present === f.size) continue
    needed += f.size
    ciphertext = Math.max(ciphertext, f.encrypted?.size ?? 0)
  }
  needed += ciphertext
  const usage = yield* DiskSpace.use((d) => d.usage(workDir))
  if (usage.availableBytes < needed) {
    return yield* new WorkDirTooSmall({
      path: workDir,
      neededBytes: needed,
      availableBytes: usage.availableBytes,
      message: `backup ${id} in ${store.location} needs ${formatBytes(needed)} in ${workDir}, which has ${formatBytes(usage.availableBytes)} free: nothing downloaded; free space there or give --work-dir on a larger filesystem`,
    })
  }
  yield* Effect.logInfo(`downloading backup ${id} from ${store.location} into ${workDir} (${formatBytes(needed - manifestAllowance)} to fetch)`)
  const result = yield* downloadBackup(prefix, id, workDir, identities, trustedKeys)
  yield* Effect.logInfo(
    `downloaded backup ${id}: ${result.files.map((f) => `${f.name} (${f.reused ? "already there" : "downloaded"}, sha256 checked)`).join(", ")}, ${manifestFileName}`,
  )
  return { dir: workDir, manifest }
})
