/**
 * One age-encrypted backup file brought from a store to its plaintext name: the ciphertext
 * fetched to `<file>.age` and checked against the manifest's ciphertext size and sha256, then
 * decrypted with the identities to `<file>.part` (itself written through `.part`, renamed only
 * once every chunk authenticated), its plaintext size and sha256 checked against the manifest's,
 * and only then renamed to `<file>`. The ciphertext is removed whatever happens; a failure
 * leaves no plaintext file. The ciphertext is downloaded whole before decrypting because the
 * store fetches large objects as parallel ranges written at their offsets, not in order; that
 * the identities open it is checked first on its header, from the object's first bytes.
 */
import { Effect, FileSystem } from "effect"
import type { EncryptedFile, FileDigest } from "../../domain/backup-manifest.ts"
import { checkIdentitiesOpen, maxHeaderBytes } from "../../services/crypto/age-decrypt.ts"
import { AgeNoIdentityMatched } from "../../services/crypto/age-errors.ts"
import { decryptFile } from "../../services/crypto/age-files.ts"
import type { IdentitySet } from "../../services/crypto/age-identity-files.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed, StoreIntegrityFailed } from "../../services/store/store-errors.ts"
import { fetchChecked } from "./checked-fetch.ts"

/**
 * The first bytes of a ciphertext fetched to check its header: an X25519 stanza takes about 100 bytes, so hundreds of
 * recipients fit in the first probe; a longer header is fetched again up to the most a header may take (and the nonce).
 */
const headerProbes = [64 * 1024, maxHeaderBytes + 64 * 1024]

/**
 * Fails with `AgeNoIdentityMatched` (naming `key`) when none of the identities is a recipient of the ciphertext at
 * `key`, from its header in the object's first bytes: a wrong --identity is told before gigabytes are downloaded.
 */
export const checkCiphertextOpens = (key: string, encrypted: EncryptedFile, identities: IdentitySet) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    if (encrypted.size === 0) return
    for (const probe of headerProbes) {
      const bytes = Math.min(encrypted.size, probe)
      const outcome = yield* checkProbe(key, yield* store.getStart(key, bytes), encrypted, identities)
      if (outcome !== "short" || bytes === encrypted.size) return
    }
  })

const checkProbe = (key: string, start: Uint8Array, encrypted: EncryptedFile, identities: IdentitySet) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    return yield* Effect.tryPromise({
      try: () => checkIdentitiesOpen(start, { source: key, identities: identities.identities, identityFiles: identities.files }),
      catch: (e) => e as AgeNoIdentityMatched,
    }).pipe(
      // A header damaged in the store looks the same (no stanza opens), and its sha256 is known only once downloaded.
      Effect.mapError(
        (refused) =>
          new AgeNoIdentityMatched({
            source: refused.source,
            identityFiles: refused.identityFiles,
            x25519Stanzas: refused.x25519Stanzas,
            message: `${refused.message}. This was judged from the object's header before downloading it: should that identity be one of its recipients, the header was damaged in ${store.location} (the whole object's sha256 should be ${encrypted.sha256}, as the manifest records)`,
          }),
      ),
    )
  })

export const fetchDecrypted = (key: string, path: string, file: FileDigest, encrypted: EncryptedFile, identities: IdentitySet) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const fs = yield* FileSystem.FileSystem
    const sealed = `${path}.age`
    const opened = `${path}.part`
    const cleanUp = Effect.forEach([sealed, opened], (p) => fs.remove(p, { force: true }).pipe(Effect.mapError((e) => localIoFailed(p, "remove", e))), {
      discard: true,
    })
    yield* Effect.gen(function* () {
      yield* fetchChecked(key, sealed, encrypted)
      const digests = yield* decryptFile(sealed, opened, identities)
      if (digests.plaintext.size !== file.size || digests.plaintext.sha256 !== file.sha256) {
        const size = digests.plaintext.size !== file.size
        return yield* new StoreIntegrityFailed({
          store: store.location,
          key,
          check: size ? "size" : "sha256",
          expected: size ? String(file.size) : file.sha256,
          found: size ? String(digests.plaintext.size) : digests.plaintext.sha256,
          message: `${key} in ${store.location} decrypts to ${digests.plaintext.size} bytes with sha256 ${digests.plaintext.sha256}; the manifest says ${file.name} has ${file.size} bytes with ${file.sha256}: it is not this backup's file, nothing kept`,
        })
      }
      yield* fs.rename(opened, path).pipe(Effect.mapError((e) => localIoFailed(path, "rename into place", e)))
    }).pipe(Effect.onError(() => cleanUp.pipe(Effect.ignore)))
    yield* cleanUp
  })
