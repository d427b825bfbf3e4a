/**
 * Downloads a complete backup from a store into a directory: the manifest first (read, not yet
 * written), then each file through `<file>.part`, its sha256 compared with the manifest's before
 * it is renamed into place, and the manifest written last. Restartable: a file already in the
 * directory with the manifest's size and sha256 is not fetched again.
 */
import { join } from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { backupCompleteness, listingPrefix, objectKey } from "../../domain/store-layout.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { localIoFailed, StoreIntegrityFailed } from "../../services/store/store-errors.ts"
import { readStoredManifest } from "./store-list.ts"
import { digestFile } from "../verify/verify-file-digest.ts"

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

/** Writes `bytes` to `<path>.part` (mode 0600) and renames it onto `path`. */
const writeThroughPart = (path: string, bytes: Uint8Array) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFile(`${path}.part`, bytes, { mode: 0o600 })
    yield* fs.rename(`${path}.part`, path)
  }).pipe(Effect.mapError((e) => localIoFailed(path, "write", e)))

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
  return manifest
})

export const downloadBackup = Effect.fn("downloadBackup")(function* (prefix: string, id: string, dir: string) {
  const store = yield* BackupStore
  const fs = yield* FileSystem.FileSystem
  const manifest = yield* completeBackupManifest(prefix, id)
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError((e) => localIoFailed(dir, "create", e)))
  const fetched: Array<{ name: string; size: number; sha256: string; reused: boolean }> = []
  for (const f of [manifest.files.snapshot, manifest.files.resources]) {
    const path = join(dir, f.name)
    const present = yield* presentSize(path)
    if (present === f.size && (yield* keptFileSha256(path, f.size)) === f.sha256) {
      fetched.push({ ...f, reused: true })
      continue
    }
    const got = yield* store.getFile(objectKey(prefix, id, f.name), `${path}.download`)
    if (got.sha256 !== f.sha256 || got.size !== f.size) {
      yield* fs.remove(`${path}.download`, { force: true }).pipe(Effect.orDie)
      return yield* new StoreIntegrityFailed({
        store: store.location,
        key: objectKey(prefix, id, f.name),
        check: got.size !== f.size ? "size" : "sha256",
        expected: got.size !== f.size ? String(f.size) : f.sha256,
        found: got.size !== f.size ? String(got.size) : got.sha256,
        message: `${objectKey(prefix, id, f.name)} in ${store.location} has ${got.size} bytes with sha256 ${got.sha256}; the manifest says ${f.size} bytes with ${f.sha256}: the stored copy is damaged, nothing kept`,
      })
    }
    yield* fs.rename(`${path}.download`, path).pipe(Effect.mapError((e) => localIoFailed(path, "rename into place", e)))
    fetched.push({ ...f, reused: false })
  }
  // The stored signature or none: a reused directory keeps no signature the store no longer has.
  const signaturePath = join(dir, signatureFileName)
  const signature = yield* store.getBytes(objectKey(prefix, id, signatureFileName)).pipe(
    Effect.map((b): Uint8Array | undefined => b),
    Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
  )
  yield* signature === undefined
    ? fs.remove(signaturePath, { force: true }).pipe(Effect.mapError((e) => localIoFailed(signaturePath, "write", e)))
    : writeThroughPart(signaturePath, signature)
  const manifestPath = join(dir, manifestFileName)
  const bytes = yield* store.getBytes(objectKey(prefix, id, manifestFileName))
  yield* writeThroughPart(manifestPath, bytes)
  return { id, dir, files: fetched, manifest }
})
