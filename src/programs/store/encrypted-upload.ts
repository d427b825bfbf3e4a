/**
 * One backup file put into a store age-encrypted: encrypted to `<file>.age` beside it (through
 * `.part`, one pass that also hashes both sides), the plaintext's size and sha256 checked against
 * the manifest's, the ciphertext uploaded with its own sha256 checked, then `<file>.age` removed
 * (also when anything failed).
 *
 * Why a ciphertext file beside rather than encrypting into the upload: the store's multipart
 * upload reads every part twice (its Content-MD5 before the part is sent, then the bytes as they
 * are sent, again on a retry) and puts the whole object's sha256 into the upload's metadata when
 * it starts; age output is random (a fresh file key and nonce), so it cannot be produced twice
 * alike, and holding parts in memory would make memory grow with part size x parts in flight.
 * The cost is disk, not memory: the pod's /backup emptyDir holds the larger file's ciphertext
 * (its size plus 32 bytes per 64 KiB and a header) for as long as it uploads, one file at a
 * time. There is never a second plaintext copy.
 */
import { Effect, FileSystem } from "effect"
import { encryptedSuffix, type EncryptedFile, type FileDigest } from "../../domain/backup-manifest.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { encryptFile } from "../../services/crypto/age-files.ts"
import type { RecipientSet } from "../../services/crypto/recipients-file.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { BackupToUploadInvalid } from "./upload-errors.ts"

export const uploadEncrypted = (dir: string, prefix: string, id: string, file: FileDigest, recipients: RecipientSet) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const fs = yield* FileSystem.FileSystem
    const plain = `${dir}/${file.name}`
    const sealed = `${plain}${encryptedSuffix}`
    const removeSealed = fs
      .remove(sealed, { force: true })
      .pipe(Effect.catch((e) => Effect.logWarning(`could not remove ${sealed} after its upload (${e.message}): remove it by hand to free the space`)))
    return yield* Effect.gen(function* () {
      const digests = yield* encryptFile(plain, sealed, recipients.recipients)
      if (digests.plaintext.size !== file.size || digests.plaintext.sha256 !== file.sha256) {
        return yield* new BackupToUploadInvalid({
          path: plain,
          message: `${plain} has ${digests.plaintext.size} bytes with sha256 ${digests.plaintext.sha256}, the manifest says ${file.size} bytes with ${file.sha256}: the backup directory changed after backup-create; nothing of it was stored`,
        })
      }
      const name = `${file.name}${encryptedSuffix}`
      const put = yield* store.putFile(objectKey(prefix, id, name), sealed, { sha256: digests.ciphertext.sha256, maxBytes: digests.ciphertext.size })
      const encrypted: EncryptedFile = { name, size: digests.ciphertext.size, sha256: digests.ciphertext.sha256, recipientsSha256: recipients.fingerprint }
      return { put, encrypted }
    }).pipe(Effect.ensuring(removeSealed))
  })
