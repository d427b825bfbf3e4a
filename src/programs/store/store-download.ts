/**
 * Downloads a complete backup from a store into a directory: the manifest first (read, not yet
 * written), then each file through `<file>.part`, its sha256 compared with the manifest's before
 * it is renamed into place, and the manifest written last. Restartable: a file already in the
 * directory with the manifest's size and sha256 is not fetched again. An age-encrypted file is
 * fetched and checked as ciphertext, then decrypted to its plaintext name with the identities
 * given (encrypted-download.ts); with none given, nothing is downloaded, unless every encrypted
 * file's plaintext is already there with the manifest's sha256 (a rerun after a download). A directory holding another
 * backup's manifest is refused before anything is written (manifest-in-the-way.ts).
 */
import { join } from "node:path"
import { Effect, FileSystem, Result, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { encodeBackupManifest } from "../../domain/backup-manifest.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { backupCompleteness, listingPrefix, objectKey } from "../../domain/store-layout.ts"
import { writeFileAtomic } from "../../services/atomic-files.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed } from "../../services/store/store-errors.ts"
import { readStoredManifest } from "./store-list.ts"
import { digestFile } from "../verify/verify-file-digest.ts"
import type { IdentitySet } from "../../services/crypto/age-identity-files.ts"
import { checkCiphertextOpens, fetchDecrypted } from "./encrypted-download.ts"
import { fetchChecked } from "./checked-fetch.ts"
import { removeDownloadLeftovers, requireDownloadRoom } from "./download-room.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { refuseOverCompleteBackup } from "../backup-dir/manifest-in-the-way.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { signatureToWrite } from "./stored-signature.ts"

export class StoredBackupIncomplete extends Schema.TaggedError<StoredBackupIncomplete>()("StoredBackupIncomplete", {
  store: Schema.String,
  id: Schema.String,
  reasons: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** The sha256 of a file kept from an earlier download (regular files only, bounded); undefined when unreadable: it is fetched again. */
const keptFileSha256 = (path: string, size: number) =>
  digestFile(path, size).pipe(
    Effect.map((d): string | undefined => d.sha256),
    Effect.orElseSucceed(() => undefined),
  )

/** The size of the file at `path`, -1 when there is none (a download not yet made). */
export const presentSize = (path: string) =>
  FileSystem.FileSystem.use((fs) => fs.stat(path)).pipe(
    Effect.map((s) => Number(s.size)),
    Effect.orElseSucceed(() => -1),
  )

/** For each file, whether `dir` already holds it with the manifest's size and sha256 (an earlier run's): it is not fetched again. */
export const filesKeptWhole = (dir: string, files: ReadonlyArray<{ readonly name: string; readonly size: number; readonly sha256: string }>) =>
  Effect.forEach(files, (f) => {
    const path = join(dir, f.name)
    return presentSize(path).pipe(
      Effect.flatMap((size) => (size === f.size ? Effect.map(keptFileSha256(path, f.size), (sha256) => sha256 === f.sha256) : Effect.succeed(false))),
    )
  })

/** Writes `bytes` to `path` (0600) through a new temporary file, fsynced and renamed into place. */
export const writeDurably = (path: string, bytes: Uint8Array) => writeFileAtomic(path, bytes).pipe(Effect.mapError((e) => localIoFailed(path, "write", e)))

/** The manifest of a complete backup in the store; fails naming the reasons when it is missing or incomplete. */
export const completeBackupManifest = Effect.fn("completeBackupManifest")(function* (prefix: string, id: string) {
  const store = yield* BackupStore
  const page = yield* store.listPage(listingPrefix(prefix, id))
  const objects = page.objects.map((o) => ({ ...o, file: o.key.slice(listingPrefix(prefix, id).length) }))
  const backup = { id, objects }
  if (objects.length === 0) {
    return yield* new StoredBackupIncomplete({
      store: store.location,
      id,
      reasons: ["no such backup"],
      message: `there is no backup ${id} in ${store.location} under ${listingPrefix(prefix) === "" ? "its root" : listingPrefix(prefix)}: see list for the backups there`,
    })
  }
  const { state, manifest } = yield* readStoredManifest(prefix, backup)
  const completeness = backupCompleteness(backup, state)
  if (completeness._tag === "Incomplete" || manifest === undefined) {
    const reasons = completeness._tag === "Incomplete" ? completeness.reasons : ["no manifest"]
    return yield* new StoredBackupIncomplete({
      store: store.location,
      id,
      reasons,
      message: `backup ${id} in ${store.location} is not complete (${reasons.join("; ")}): nothing downloaded; pick a complete backup (list)`,
    })
  }
  // backup-upload stores a backup under its timestamp: objects under another id were copied or moved there, and its
  // (possibly validly signed) manifest would have verify and restore take that other backup for the one asked for.
  if (manifest.timestamp !== id) {
    const reason = `its manifest describes backup ${manifest.timestamp}, not ${id}: its objects were copied or moved under another id`
    return yield* new StoredBackupIncomplete({
      store: store.location,
      id,
      reasons: [reason],
      message: `backup ${id} in ${store.location} is not that backup (${reason}): nothing downloaded; use the backup under ${manifest.timestamp}, or the store's copy made by backup-upload`,
    })
  }
  return manifest
})

/** The backup's encrypted files need identities; none were given: said before anything is downloaded. */
export class BackupIdentityMissing extends Schema.TaggedError<BackupIdentityMissing>()("BackupIdentityMissing", {
  store: Schema.String,
  id: Schema.String,
  files: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

export const downloadBackup = Effect.fn("downloadBackup")(function* (
  prefix: string,
  id: string,
  dir: string,
  identities?: IdentitySet,
  trustedKeys: ReadonlyArray<TrustedKey> = [],
  /** Where else to download when `dir`'s file system is too small (the advice of `WorkDirTooSmall`). */
  largerPlace = "download into a directory on a larger file system",
) {
  const store = yield* BackupStore
  const fs = yield* FileSystem.FileSystem
  const manifest = yield* completeBackupManifest(prefix, id)
  const files = [manifest.files.snapshot, manifest.files.resources]
  const kept = yield* filesKeptWhole(dir, files)
  // A plaintext already there with the manifest's sha256 (an earlier download's) needs no identity.
  const sealed = files.flatMap((f, i) => (f.encrypted === undefined || kept[i] ? [] : [f.encrypted.name]))
  const noIdentity = identities === undefined || identities.identities.length === 0
  if (sealed.length > 0 && noIdentity) {
    return yield* new BackupIdentityMissing({
      store: store.location,
      id,
      files: sealed,
      message: `backup ${id} in ${store.location} is age-encrypted (${sealed.join(", ")}): give the identity file of one of its recipients with --identity FILE (the tarball may have its own); nothing downloaded`,
    })
  }
  const opened = files.filter((f, i) => f.encrypted !== undefined && kept[i]).map((f) => f.name)
  if (opened.length > 0 && noIdentity)
    yield* Effect.logInfo(
      `${opened.join(", ")} already in ${dir} with the manifest's sha256: no identity needed to decrypt ${opened.length === 1 ? "it" : "them"}`,
    )
  // A directory holding another backup keeps it: this one's manifest would replace that backup's.
  yield* refuseOverCompleteBackup(dir, id)
  yield* removeDownloadLeftovers(dir, [...files.map((f) => f.name), manifestFileName, signatureFileName])
  const toFetch = files.filter((_, i) => !kept[i])
  const fetchBytes = yield* requireDownloadRoom(dir, toFetch, `backup ${id} in ${store.location}`, largerPlace)
  if (toFetch.length > 0) yield* Effect.logInfo(`downloading backup ${id} from ${store.location} into ${dir} (${formatBytes(fetchBytes)} to fetch)`)
  // Every ciphertext to download is checked to open with the identities (its header) before any is downloaded, and
  // before the directory is made: a wrong identity leaves no empty directory behind.
  for (const [i, f] of files.entries()) {
    if (!kept[i] && f.encrypted !== undefined && identities !== undefined)
      yield* checkCiphertextOpens(objectKey(prefix, id, f.encrypted.name), f.encrypted, identities)
  }
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(dir, "create", e)))
  const fetched: Array<{ name: string; size: number; sha256: string; reused: boolean }> = []
  for (const [i, f] of files.entries()) {
    const path = join(dir, f.name)
    const digest = { name: f.name, size: f.size, sha256: f.sha256 }
    if (kept[i]) {
      fetched.push({ ...digest, reused: true })
      continue
    }
    if (f.encrypted === undefined || identities === undefined) yield* fetchChecked(objectKey(prefix, id, f.name), path, f)
    else yield* fetchDecrypted(objectKey(prefix, id, f.encrypted.name), path, f, f.encrypted, identities)
    fetched.push({ ...digest, reused: false })
  }
  const manifestPath = join(dir, manifestFileName)
  const bytes = yield* store.getBytes(objectKey(prefix, id, manifestFileName))
  // The manifest written must be the one the files were checked against: a re-upload meanwhile may have replaced it.
  const now = decodeBackupManifestBytes(bytes, objectKey(prefix, id, manifestFileName))
  if (Result.isFailure(now) || encodeBackupManifest(now.success) !== encodeBackupManifest(manifest)) {
    return yield* new StoredBackupIncomplete({
      store: store.location,
      id,
      reasons: ["its manifest changed during the download"],
      message: `backup ${id} in ${store.location} changed during the download (its manifest was replaced, by a re-upload or a prune): its files here may not be the ones it now describes; no manifest written, run download again`,
    })
  }
  // The stored signature or none: a reused directory keeps no signature the store no longer has.
  const signaturePath = join(dir, signatureFileName)
  const signature = yield* signatureToWrite(prefix, id, bytes, trustedKeys)
  yield* signature === undefined
    ? fs.remove(signaturePath, { force: true }).pipe(Effect.mapError((e) => localIoFailed(signaturePath, "write", e)))
    : writeDurably(signaturePath, signature)
  yield* writeDurably(manifestPath, bytes)
  return { id, dir, files: fetched, manifest }
})
