/**
 * The backups in a store under a prefix, page by page: each with its completeness (the manifest
 * present and describing the objects beside it) and, when complete, what its manifest says.
 */
import { Effect, Result } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import {
  backupCompleteness,
  emptyListing,
  foldListingPage,
  listingPrefix,
  objectKey,
  type BackupCompleteness,
  type BackupObjects,
  type ListingState,
  type ManifestState,
} from "../../domain/store-layout.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import type { StoreError } from "../../services/store/store-errors.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"

export interface ListedBackup {
  readonly completeness: BackupCompleteness
  readonly manifest: BackupManifest | undefined
}

/** Reads a backup's manifest from the store, as the completeness check needs it. */
export const readStoredManifest = (
  prefix: string,
  backup: BackupObjects,
): Effect.Effect<{ state: ManifestState; manifest: BackupManifest | undefined }, StoreError, BackupStore> =>
  Effect.gen(function* () {
    if (!backup.objects.some((o) => o.file === manifestFileName)) return { state: { _tag: "Absent" }, manifest: undefined }
    const store = yield* BackupStore
    const key = objectKey(prefix, backup.id, manifestFileName)
    const bytes = yield* store.getBytes(key)
    const decoded = decodeBackupManifestBytes(bytes, key)
    if (Result.isFailure(decoded)) return { state: { _tag: "Unreadable", reason: decoded.failure.message }, manifest: undefined }
    const m = decoded.success
    return { state: { _tag: "Read", files: [m.files.snapshot, m.files.resources] }, manifest: m }
  })

/** Every backup under `prefix`, oldest id first; `onPage` sees them a listing page at a time. */
export const listBackups = Effect.fn("listBackups")(function* (prefix: string) {
  const store = yield* BackupStore
  const listed: Array<ListedBackup> = []
  let state: ListingState = emptyListing
  let next: string | undefined
  do {
    const page = yield* store.listPage(listingPrefix(prefix), next)
    next = page.next
    const folded = foldListingPage(prefix, state, page.objects, next === undefined)
    state = folded.state
    const described = yield* Effect.forEach(
      folded.backups,
      (b) => readStoredManifest(prefix, b).pipe(Effect.map(({ state: ms, manifest }) => ({ completeness: backupCompleteness(b, ms), manifest }))),
      { concurrency: 8 },
    )
    listed.push(...described)
  } while (next !== undefined)
  return listed
})
