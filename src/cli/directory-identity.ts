/**
 * `--identity` on a backup directory (`verify`/`restore` without --backup-id). Decryption happens on the way from a store
 * into a work directory (store-fetch.ts), where the plaintext has its room, its free-space check and its clean-up; a
 * directory of a store's `.age` objects (copied with rclone, say) is such a store already, a directory store whose `<id>/`
 * holds them. So rather than a second decryption path that would write plaintext into the user's directory, an encrypted
 * directory is refused with the command that decrypts it, and for a plain one the identities are said to be unneeded.
 */
import { basename, dirname, resolve } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { parseBackupFileName } from "../domain/archive-names.ts"
import { encryptedSuffix } from "../domain/backup-manifest.ts"

export class IdentityNeedsStore extends Schema.TaggedError<IdentityNeedsStore>()("IdentityNeedsStore", {
  path: Schema.String,
  message: Schema.String,
}) {}

/**
 * Fails with `IdentityNeedsStore` when `identities` are given for a directory holding `.age` files, or none are for one
 * holding `.age` files and no plain backup file (a copy of a store's encrypted backup); warns when they are given for a plain one.
 */
export const checkIdentityOnDirectory = Effect.fnUntraced(function* (command: string, dir: string, identities: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  // An unreadable directory is the command's own checks' to report.
  const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
  // A `.age` beside its plaintext is what a killed backup-upload left, not an encrypted backup.
  const encrypted = names.filter((n) => n.endsWith(encryptedSuffix) && !names.includes(n.slice(0, -encryptedSuffix.length))).sort()
  if (identities.length === 0 && (encrypted.length === 0 || names.some((n) => parseBackupFileName(n) !== undefined))) return
  if (encrypted.length === 0) {
    yield* Effect.logWarning(`--identity was not needed: ${dir} holds no age-encrypted file (*${encryptedSuffix}), so nothing was decrypted with it`)
    return
  }
  const full = resolve(dir)
  return yield* new IdentityNeedsStore({
    path: dir,
    message:
      `${dir} holds age-encrypted files (${encrypted.join(", ")}), ` +
      (identities.length === 0
        ? "and no plain backup file: they are decrypted (with --identity) only from a store (--backup-id), "
        : "but --identity decrypts only a backup read from a store (--backup-id), ") +
      `into a work directory: read this copy as a directory store, the directory named by the backup's id (its timestamp) inside it, ` +
      `e.g. cluster-backup ${command} ${dirname(full)} --backup-id ${basename(full)} --identity FILE; nothing was checked or changed`,
  })
})
