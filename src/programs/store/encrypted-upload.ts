/**
 * One backup file put into a store age-encrypted, as `<file>.age`: the file is encrypted into
 * `<file>.age` beside it (one pass on a worker thread) while the store uploads that file's parts
 * as they are written, hashing the ciphertext as it reads it, so the encryption overlaps the
 * upload. Before the upload's last bytes are released to it (a file that changed never completes
 * an object), the plaintext is checked against the manifest: its size, and its sha256 hashed on
 * the way, or, when backup-init's record vouches for the file (vouched-plaintext.ts), its
 * identity, unchanged since that record. `<file>.age` is removed afterwards, also when anything failed.
 *
 * Why a ciphertext file rather than encrypting into the upload's requests: the store's multipart
 * upload reads every part twice (its Content-MD5 before the part is sent, then the bytes as they are
 * sent, again on a retry), and age output is random (a fresh file key and nonce), so it cannot be
 * produced twice alike; holding parts in memory would make memory grow with part size x parts in
 * flight. The cost is disk: the pod's /backup emptyDir holds the file's ciphertext (its size plus
 * 16 bytes per 64 KiB and a header) while it uploads, one file at a time; it is never synced. There
 * is never a second plaintext copy. The whole ciphertext's sha256 is known only at the end, after
 * an S3 multipart upload recorded its metadata: the object records the plaintext's sha256
 * (`x-amz-meta-plaintext-sha256`), the stored manifest the ciphertext's, which download checks.
 */
import { Deferred, Effect, FileSystem } from "effect"
import { encryptedSuffix, type EncryptedFile, type FileDigest } from "../../domain/backup-manifest.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { encryptForReader } from "../../services/crypto/age-files.ts"
import type { RecipientSet } from "../../services/crypto/recipients-file.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { StoreIntegrityFailed } from "../../services/store/store-errors.ts"
import { writtenProgress } from "../../services/written-progress.ts"
import { BackupToUploadInvalid } from "./upload-errors.ts"
import { stillIdentical, vouchedIdentity } from "./vouched-plaintext.ts"

export const uploadEncrypted = (dir: string, prefix: string, id: string, file: FileDigest, recipients: RecipientSet) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const fs = yield* FileSystem.FileSystem
    const plain = `${dir}/${file.name}`
    const sealed = `${plain}${encryptedSuffix}`
    const name = `${file.name}${encryptedSuffix}`
    const key = objectKey(prefix, id, name)
    const removeSealed = fs
      .remove(sealed, { force: true })
      .pipe(Effect.catch((e) => Effect.logWarning(`could not remove ${sealed} after its upload (${e.message}): remove it by hand to free the space`)))
    const total = Deferred.makeUnsafe<{ readonly size: number; readonly ringBytes: number | undefined }>()
    const written = writtenProgress()
    const released = writtenProgress()
    const vouched = yield* vouchedIdentity(dir, file)
    // The last byte is released to the upload only once the whole plaintext was read and checked.
    const encrypting = encryptForReader(
      plain,
      sealed,
      recipients.recipients,
      {
        onStart: (size) => {
          const ringBytes = store.followRingBytes(size)
          Deferred.doneUnsafe(total, Effect.succeed({ size, ringBytes }))
          return ringBytes === undefined ? undefined : { bytes: ringBytes, room: (end, signal) => released.reached(end - ringBytes, signal) }
        },
        onWritten: (end) => written.advance(end - 1),
      },
      { hashPlaintext: vouched === undefined },
    ).pipe(
      Effect.tap((digests) =>
        Effect.gen(function* () {
          if (vouched !== undefined && (digests.plaintext.size !== file.size || !(yield* stillIdentical(plain, vouched)))) {
            return yield* new BackupToUploadInvalid({
              path: plain,
              message: `${plain} changed while it was encrypted (its inode, size or modification time is no longer what backup-init recorded): nothing of it was stored`,
            })
          }
          if (vouched === undefined && (digests.plaintext.size !== file.size || digests.plaintext.sha256 !== file.sha256)) {
            return yield* new BackupToUploadInvalid({
              path: plain,
              message: `${plain} has ${digests.plaintext.size} bytes with sha256 ${digests.plaintext.sha256}, the manifest says ${file.size} bytes with ${file.sha256}: the backup directory changed after backup-create; nothing of it was stored`,
            })
          }
          const expected = (yield* Deferred.await(total)).size
          if (digests.ciphertextBytes !== expected) {
            return yield* new BackupToUploadInvalid({
              path: plain,
              message: `${plain} gave ${digests.ciphertextBytes} bytes of ciphertext, not the ${expected} its size at open gives: it changed while being encrypted; nothing of it was stored`,
            })
          }
          written.advance(expected)
        }),
      ),
    )
    const uploading = Deferred.await(total).pipe(
      Effect.flatMap(({ size, ringBytes }) =>
        store.putFile(key, sealed, {
          maxBytes: ringBytes ?? size,
          growing: {
            size,
            written: written.until,
            metadata: { "plaintext-sha256": file.sha256 },
            ring: ringBytes === undefined ? undefined : { bytes: ringBytes, release: released.advance },
          },
        }),
      ),
    )
    return yield* Effect.gen(function* () {
      const [digests, put] = yield* Effect.all([encrypting, uploading], { concurrency: 2 })
      if (put.size !== digests.ciphertextBytes) {
        return yield* new StoreIntegrityFailed({
          store: store.location,
          key,
          check: "size",
          expected: String(digests.ciphertextBytes),
          found: String(put.size),
          message: `${key} was uploaded as ${put.size} bytes, but ${digests.ciphertextBytes} bytes were encrypted into ${sealed}: it changed during the upload; the backup is not complete in ${store.location}`,
        })
      }
      // The store hashed the ciphertext as it read it for the upload (the encryption leaves it unhashed).
      const encrypted: EncryptedFile = { name, size: put.size, sha256: put.sha256, recipientsSha256: recipients.fingerprint }
      return { put, encrypted }
    }).pipe(Effect.ensuring(removeSealed))
  })
