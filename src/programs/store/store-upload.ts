/**
 * Copies a finished backup directory into a store under `<prefix>/<backup-id>/`, holding the directory's
 * lock (backup-dir-lock.ts) as backup-create does, by the commit
 * protocol: the snapshot and the tarball first, each checked against the manifest's size and
 * sha256 on the way, and `backup-manifest.json` last. Until the manifest is there the backup is
 * incomplete and never listed; a failed upload leaves at most an incomplete backup, which prune
 * removes after the grace period, and a repeated run overwrites it, completes, and aborts the multipart
 * uploads killed runs left (left-uploads.ts).
 *
 * With recipients, each file is stored age-encrypted as `<file>.age` (encrypted-upload.ts) and
 * the stored manifest is a new one recording each file's encrypted form; the signature stored
 * beside it is then made here, over those bytes (backup-create's covers only the local manifest).
 * When verify passed the backup in the pod (its verification.json), the stored manifest records that
 * too (`verification`), signed with it.
 */
import { join } from "node:path"
import { Effect, FileSystem, Result } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { verificationFileName, verificationOf, type VerifiedMode } from "../../domain/verification-file.ts"
import { readLocalVerification } from "./verification-record.ts"
import { readLocalSignature } from "../backup-dir/manifest-authenticity.ts"
import { decodeBackupManifest, encodeBackupManifest, encryptedSuffix, type BackupManifest, type FileDigest } from "../../domain/backup-manifest.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { BackupStore, type PutResult } from "../../services/store/backup-store.ts"
import { localIoFailed, uploadFileFailed } from "../../services/store/store-errors.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { BackupToUploadInvalid } from "./upload-errors.ts"
import { requireCiphertextRoom, requireStoreRoom } from "./store-room.ts"
import { uploadEncrypted } from "./encrypted-upload.ts"
import { vouchedIdentity } from "./vouched-plaintext.ts"
import { digestFile } from "../verify/verify-file-digest.ts"
import { backupDirsBelow, backupsBelowHint } from "../backup-dir/backups-below.ts"
import { lockBackupDir } from "../backup-dir/backup-dir-lock.ts"
import { abortLeftUploads, leftUploadsOf } from "./left-uploads.ts"
import { signManifest, type SigningKey } from "../../services/crypto/manifest-signature.ts"
import type { RecipientSet } from "../../services/crypto/recipients-file.ts"

export interface UploadReport {
  readonly id: string
  readonly location: string
  readonly files: ReadonlyArray<PutResult>
  /** The manifest as stored (with the encrypted forms it records). */
  readonly manifest: BackupManifest
  /** How verify passed the backup, when its directory holds a verification.json that says so (uploaded beside the manifest). */
  readonly verified: VerifiedMode | undefined
}

/** The manifest of a backup directory, decoded (the upload trusts nothing it cannot check). */
export const readLocalManifest = (dir: string) =>
  Effect.gen(function* () {
    const path = join(dir, manifestFileName)
    const manifest = yield* readBackupManifest(path).pipe(
      Effect.catch((e) =>
        Effect.gen(function* () {
          if (e._tag !== "BackupFileUnreadable")
            return yield* new BackupToUploadInvalid({
              path,
              message: `${path} is not a valid backup manifest (${e.message}): upload only a backup that backup-create finished`,
            })
          const dirThere = yield* FileSystem.FileSystem.use((fs) => fs.stat(dir)).pipe(
            Effect.map((s) => s.type === "Directory"),
            Effect.orElseSucceed(() => false),
          )
          if (e.code !== "ENOENT" || !dirThere) return yield* localIoFailed(path, "read", e)
          // The directory above the backup (or a directory store's root) given: where the backups are is said with it.
          const below = yield* backupDirsBelow(dir)
          return yield* new BackupToUploadInvalid({
            path,
            message: `${dir} holds no finished backup: no ${manifestFileName} (backup-create writes it last)${backupsBelowHint(below, "give the backup's own directory")}`,
          })
        }),
      ),
    )
    // The reader accepts only the bytes the writer writes: re-encoding gives the file's own text.
    return { manifest, text: encodeBackupManifest(manifest) }
  })

/** A backup directory's manifest as read once: decoded, and its text. */
export type LocalManifest = Effect.Success<ReturnType<typeof readLocalManifest>>

/** The backup's id in a store: its timestamp. */
export const backupIdOf = (manifest: BackupManifest): string => manifest.timestamp

const storedBytes = (key: string) =>
  BackupStore.use((store) => store.getBytes(key)).pipe(
    Effect.map((b): Uint8Array | undefined => b),
    Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
  )

/**
 * A re-upload of a backup the store already holds complete may change its objects: age's output
 * differs every time, and so may the signature and verify's record. Before the first object that
 * would change, the stored manifest (the completeness marker) goes, so an interrupted re-upload
 * leaves the backup incomplete, as an interrupted first upload does, never complete over files its
 * manifest does not describe (which prune would keep as the newest backup). A plain file whose
 * stored copy the manifest already records with the same sha256 is rewritten with the same bytes
 * or refused before it replaces anything, so it withdraws nothing: a plain re-upload of a stored
 * backup, or one refused because the local copy is damaged, leaves the stored backup complete. Before it
 * goes, `precheck` runs (the files to encrypt checked against the manifest), so a damaged local copy
 * is refused before the stored backup changes, not once its encryption is done.
 */
const storedManifestGuard = Effect.fnUntraced(function* <E, R>(prefix: string, id: string, precheck: Effect.Effect<void, E, R>) {
  const store = yield* BackupStore
  const manifestKey = objectKey(prefix, id, manifestFileName)
  const text = yield* storedBytes(manifestKey)
  const before = text === undefined ? undefined : Result.getOrUndefined(decodeBackupManifest(new TextDecoder().decode(text)))
  let withdrawn = text === undefined
  const beforeChange = Effect.suspend(() => {
    if (withdrawn) return Effect.void
    withdrawn = true
    return precheck.pipe(
      Effect.andThen(
        Effect.logWarning(
          before === undefined
            ? `backup ${id} already has a manifest in ${store.location} that cannot be read as one (damaged, or not a store's answer): it is removed first and this upload's written last, so the stored backup is incomplete until this upload finishes (run it again if it fails)`
            : `backup ${id} is already stored complete in ${store.location} and this upload changes its objects: its manifest is removed first and written again last, so the stored backup is incomplete until this upload finishes (run it again if it fails)`,
        ),
      ),
      Effect.andThen(store.remove(manifestKey)),
    )
  })
  return {
    /** Before putting a file: unless the stored manifest records this very plain file. */
    beforeFile: (which: "snapshot" | "resources", f: FileDigest, encrypting: boolean) => {
      const was = before?.files[which]
      return !encrypting && was !== undefined && was.encrypted === undefined && was.sha256 === f.sha256 && was.size === f.size ? Effect.void : beforeChange
    },
    /** Removes the object `name` (the form of a file this upload does not store), when the store holds one: the manifest will not name it. */
    drop: (name: string) =>
      Effect.gen(function* () {
        const key = objectKey(prefix, id, name)
        if ((yield* store.head(key)) === undefined) return
        yield* beforeChange
        yield* store.remove(key)
      }),
    /**
     * Puts a small object beside the manifest (removes it when `bytes` is undefined). Bytes the store holds already are
     * written again without withdrawing the manifest, as a plain file is: the copy takes this upload's settings
     * (`--s3-sse`), and nothing changes that the manifest could be out of step with.
     */
    putBeside: (name: string, bytes: Uint8Array | undefined) =>
      Effect.gen(function* () {
        const key = objectKey(prefix, id, name)
        const was = yield* storedBytes(key)
        if (bytes === undefined) {
          if (was === undefined) return undefined
          yield* beforeChange
          return yield* Effect.as(store.remove(key), undefined)
        }
        if (was === undefined || !Buffer.from(was).equals(bytes)) yield* beforeChange
        return yield* store.putBytes(key, bytes)
      }),
  }
})

/** The local file is what the manifest records: its size and sha256, or backup-init's vouching identity (vouched-plaintext.ts). */
const localCopyIntact = (dir: string, f: FileDigest) =>
  Effect.gen(function* () {
    const path = join(dir, f.name)
    if ((yield* vouchedIdentity(dir, f)) !== undefined) return
    const found = yield* digestFile(path, f.size).pipe(Effect.mapError((e) => uploadFileFailed(path, "read", e)))
    if (found.size === f.size && found.sha256 === f.sha256) return
    return yield* new BackupToUploadInvalid({
      path,
      message: `${path} has ${found.size} bytes with sha256 ${found.sha256}, the manifest says ${f.size} bytes with ${f.sha256}: the backup directory changed after backup-create; the stored backup is left as it was`,
    })
  })

/** How backup-upload protects what it stores: age recipients per file (the tarball's may differ) and a signing key. */
export interface UploadProtection {
  readonly recipients?: { readonly snapshot?: RecipientSet | undefined; readonly resources?: RecipientSet | undefined } | undefined
  /** Signs the manifest as uploaded (with encryption, a new manifest that backup-create's signature does not cover). */
  readonly signingKey?: SigningKey | undefined
}

export const uploadBackup = Effect.fn("uploadBackup")(function* (
  dir: string,
  prefix: string,
  onFile: (name: string, size: number) => Effect.Effect<void> = () => Effect.void,
  protection: UploadProtection = {},
  /** The manifest as the caller already read it (and decided on): the upload stores exactly those bytes. */
  read?: LocalManifest,
) {
  const store = yield* BackupStore
  const local = read ?? (yield* readLocalManifest(dir))
  // After the manifest is read, so a directory that is no backup is refused as such, not made a locked one; a second
  // upload of the directory (or a backup-create in it) fails fast here, and what a killed upload left is swept.
  yield* lockBackupDir(dir, "backup-upload")
  const id = backupIdOf(local.manifest)
  const signaturePath = join(dir, signatureFileName)
  const localSignature = yield* readLocalSignature(dir).pipe(Effect.mapError((e) => localIoFailed(signaturePath, "read", e)))
  const encrypting = protection.recipients?.snapshot !== undefined || protection.recipients?.resources !== undefined
  // A backup downloaded from an encrypted upload records the `.age` objects it came from: stored plain, those records go
  // (they would name objects this store does not hold, and the backup would never be complete).
  const droppedForms = (["snapshot", "resources"] as const).filter(
    (which) => local.manifest.files[which].encrypted !== undefined && protection.recipients?.[which] === undefined,
  )
  if ((encrypting || droppedForms.length > 0) && localSignature !== undefined && protection.signingKey === undefined) {
    const change = encrypting
      ? "encrypting it makes a new manifest (recording the encrypted files)"
      : `storing ${droppedForms.map((w) => local.manifest.files[w].name).join(" and ")} plain makes a new manifest (without the encrypted forms its manifest records)`
    return yield* new BackupToUploadInvalid({
      path: signaturePath,
      message: `backup ${id} is signed (${signaturePath}), but ${change} that this signature does not cover: give backup-upload --signing-key (the key backup-create signed with) so the stored manifest is signed; nothing was uploaded`,
    })
  }
  const toEncrypt = (["snapshot", "resources"] as const).filter((which) => protection.recipients?.[which] !== undefined)
  const guard = yield* storedManifestGuard(
    prefix,
    id,
    Effect.forEach(toEncrypt, (which) => localCopyIntact(dir, local.manifest.files[which]), { discard: true }),
  )
  const toStore = (["snapshot", "resources"] as const).map((which) => ({
    file: local.manifest.files[which],
    encrypted: protection.recipients?.[which] !== undefined,
  }))
  yield* requireCiphertextRoom(dir, toStore)
  // Noted before this upload starts any of its own: only those of earlier runs are aborted once the backup is stored.
  const left = yield* leftUploadsOf(prefix, id)
  yield* requireStoreRoom(prefix, id, toStore, left)
  const files: Array<PutResult> = []
  const stored: Record<"snapshot" | "resources", FileDigest> = { ...local.manifest.files }
  for (const which of ["snapshot", "resources"] as const) {
    const f = local.manifest.files[which]
    const recipients = protection.recipients?.[which]
    yield* guard.beforeFile(which, f, recipients !== undefined)
    if (recipients !== undefined) {
      yield* onFile(`${f.name}${encryptedSuffix}`, f.size)
      const { put, encrypted } = yield* uploadEncrypted(dir, prefix, id, f, recipients)
      files.push(put)
      stored[which] = { ...f, encrypted }
      // A plain copy an earlier upload of this backup stored would stay beside the ciphertext: the secrets in the clear.
      yield* guard.drop(f.name)
      continue
    }
    yield* onFile(f.name, f.size)
    stored[which] = { name: f.name, size: f.size, sha256: f.sha256 }
    const put = yield* store.putFile(objectKey(prefix, id, f.name), join(dir, f.name), { sha256: f.sha256, maxBytes: f.size })
    if (put.size !== f.size) {
      return yield* new BackupToUploadInvalid({
        path: join(dir, f.name),
        message: `${join(dir, f.name)} has ${put.size} bytes, the manifest says ${f.size}: the backup directory changed after backup-create`,
      })
    }
    files.push(put)
    yield* guard.drop(`${f.name}${encryptedSuffix}`)
  }
  // Before the manifest, so a complete backup in the store has verify's record when it had one.
  const verificationPath = join(dir, verificationFileName)
  const record = yield* readLocalVerification(dir).pipe(Effect.mapError((e) => localIoFailed(verificationPath, "read", e)))
  if (record !== undefined) {
    yield* onFile(verificationFileName, record.length)
    const put = yield* guard.putBeside(verificationFileName, record)
    if (put !== undefined) files.push(put)
  }
  const verification = record === undefined ? undefined : verificationOf(new TextDecoder().decode(record), local.manifest.timestamp)
  if (record !== undefined && verification === undefined) {
    yield* Effect.logWarning(
      `${verificationPath} does not vouch for backup ${local.manifest.timestamp} (a failed verification, or another backup's): it is stored as unverified; run verify and mind what it reports`,
    )
  }
  // The stored manifest records verify's verdict too, unless that would break backup-create's signature with no key to sign anew.
  const recordVerification = verification !== undefined && (localSignature === undefined || protection.signingKey !== undefined)
  const manifest: BackupManifest = { ...local.manifest, files: stored, ...(recordVerification ? { verification } : {}) }
  const rewritten = encrypting || droppedForms.length > 0 || recordVerification
  const bytes = new TextEncoder().encode(rewritten ? encodeBackupManifest(manifest) : local.text)
  const verified = verification?.mode
  // Before the manifest (the completeness marker): a complete backup in the store has its signature.
  const signature =
    protection.signingKey !== undefined ? new TextEncoder().encode(signManifest(bytes, protection.signingKey)) : rewritten ? undefined : localSignature
  if (signature !== undefined) yield* onFile(signatureFileName, signature.length)
  // A signature stored earlier goes when this upload stores none: it would not cover the new manifest.
  const signed = yield* guard.putBeside(signatureFileName, signature)
  if (signed !== undefined) files.push(signed)
  yield* onFile(manifestFileName, bytes.length)
  files.push(yield* store.putBytes(objectKey(prefix, id, manifestFileName), bytes))
  yield* abortLeftUploads(left)
  return { id, location: `${store.url}/${objectKey(prefix, id, "")}`, files, manifest, verified } satisfies UploadReport
}, Effect.scoped)
