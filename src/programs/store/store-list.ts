/**
 * The backups in a store under a prefix, page by page: each with its completeness (the manifest
 * present and describing the objects beside it) and, when complete, what its manifest says.
 */
import { createHash } from "node:crypto"
import { Effect, Result, Stream } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { maxManifestBytes, storedForm, type BackupManifest } from "../../domain/backup-manifest.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import {
  backupCompleteness,
  deeperBackupPrefixes,
  elsewhereBackupsHint,
  holdsOwnBackupManifest,
  ownBackupHint,
  parentPrefix,
  emptyListing,
  foldListingPage,
  listingPrefix,
  objectKey,
  type BackupCompleteness,
  type BackupObjects,
  type ListingState,
  type ManifestState,
} from "../../domain/store-layout.ts"
import { BackupStore, type ObjectPage } from "../../services/store/backup-store.ts"
import { listingPages } from "./listing-pages.ts"
import { isArchivedObject, type StoreError, StoreRequestFailed } from "../../services/store/store-errors.ts"
import { decodeBackupManifestBytes } from "../backup-dir/backup-manifest-file.ts"
import type { VerifiedMode } from "../../domain/verification-file.ts"
import { readStoredVerification } from "./verification-record.ts"

export interface ListedBackup {
  readonly completeness: BackupCompleteness
  readonly manifest: BackupManifest | undefined
  /** How verify passed it (the manifest's `verification`, else its verification.json), when it did and the backup is complete. */
  readonly verified: VerifiedMode | undefined
  /** A complete backup with its manifest's signature stored beside it (not checked here: download, verify and restore check it against --trusted-key). */
  readonly signed: boolean
  /** The sha256 of the manifest's bytes as read and decoded (undefined without a readable manifest). */
  readonly manifestSha256: string | undefined
  /** The listed size of the manifest's signature object, undefined when there is none. */
  readonly signatureBytes: number | undefined
}

/** Reads a backup's manifest from the store, as the completeness check needs it. */
export const readStoredManifest = (
  prefix: string,
  backup: BackupObjects,
): Effect.Effect<{ state: ManifestState; manifest: BackupManifest | undefined; manifestSha256?: string }, StoreError, BackupStore> =>
  Effect.gen(function* () {
    const listed = backup.objects.find((o) => o.file === manifestFileName)
    if (listed === undefined) return { state: { _tag: "Absent" }, manifest: undefined }
    // Anyone able to write into the store could put one there: read, it would fail the whole listing (and every prune).
    if (listed.size > maxManifestBytes)
      return {
        state: { _tag: "Unreadable", reason: `it is ${formatBytes(listed.size)}, more than any manifest (${formatBytes(maxManifestBytes)}): not read` },
        manifest: undefined,
      }
    const store = yield* BackupStore
    const key = objectKey(prefix, backup.id, manifestFileName)
    // Listed, then gone: another run's prune removed the backup meanwhile (manifest first). It is
    // what it now is, a backup without a manifest, not a failure of the whole listing.
    const bytes = yield* store.getBytes(key).pipe(
      Effect.map((b): Uint8Array | "archived" | undefined => b),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
      // Archived by a lifecycle rule: the backup is there, unreadable until restored; the listing goes on.
      Effect.catchIf(isArchivedObject, () => Effect.succeed("archived" as const)),
    )
    if (bytes === undefined) return { state: { _tag: "Absent" }, manifest: undefined }
    if (bytes === "archived")
      return {
        state: { _tag: "Unreadable", reason: "the store archived it (InvalidObjectState): restore it (S3 RestoreObject) to read it", archived: true },
        manifest: undefined,
      }
    const decoded = decodeBackupManifestBytes(bytes, key)
    if (Result.isFailure(decoded)) return { state: { _tag: "Unreadable", reason: decoded.failure.message }, manifest: undefined }
    const m = decoded.success
    return {
      state: { _tag: "Read", files: [storedForm(m.files.snapshot), storedForm(m.files.resources)] },
      manifest: m,
      manifestSha256: createHash("sha256").update(bytes).digest("hex"),
    }
  })

/** How many pages of the parent's listing the "beside it" hint reads at most (a bucket of many clusters' backups). */
export const besideHintPages = 10

/**
 * No backup under `prefix`: a warning when some lie deeper (its listing held their manifests), or beside it (up to
 * `besideHintPages` pages of its parent's listing: a cluster ID mistyped, or the cluster's own before a reinstall).
 * Only a hint: a parent that cannot be listed (a role allowed its own prefix alone) says nothing.
 */
const warnOfBackupsElsewhere = (prefix: string, foreignManifests: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* BackupStore
    const deeper = deeperBackupPrefixes(prefix, foreignManifests)
    if (deeper.length > 0) return yield* Effect.logWarning(elsewhereBackupsHint(store.location, prefix, "deeper", deeper))
    const parent = parentPrefix(prefix)
    if (parent === undefined) return
    const pages = yield* listingPages(store, listingPrefix(parent)).pipe(Stream.take(besideHintPages), Stream.ignore({ log: false }), Stream.runCollect)
    const keys = pages.flatMap((page) => page.objects.map((o) => o.key))
    const beside = deeperBackupPrefixes(parent, keys).filter((found) => found.prefix !== prefix && !found.prefix.startsWith(`${prefix}/`))
    if (beside.length > 0) yield* Effect.logWarning(elsewhereBackupsHint(store.location, prefix, "beside it", beside))
  })

/** Every backup under `prefix`, oldest id first; `onPage` sees them a listing page at a time. */
export const listBackups = Effect.fn("listBackups")(function* (prefix: string) {
  const store = yield* BackupStore
  const listed: Array<ListedBackup> = []
  let state: ListingState = emptyListing
  // Manifests outside this layout: below the prefix's own backups (with none listed, most likely what was looked for), or
  // right under the prefix (a backup's own directory given as the store).
  const foreignManifests: Array<string> = []
  const onPage = Effect.fnUntraced(function* (page: ObjectPage) {
    const folded = yield* Effect.fromResult(foldListingPage(prefix, state, page.objects, page.next === undefined)).pipe(
      Effect.mapError(
        ({ previous, key }) =>
          new StoreRequestFailed({
            store: store.location,
            operation: "list",
            key,
            status: 0,
            code: "ListingOutOfOrder",
            retryable: false,
            message: `${store.location} listed ${key} after ${previous}: an S3 listing ascends, and out of order a backup's objects come apart into pieces that each look incomplete; is the endpoint an S3 API?`,
          }),
      ),
    )
    state = folded.state
    foreignManifests.push(...folded.foreign.filter((key) => key === manifestFileName || key.endsWith(`/${manifestFileName}`)))
    const described = yield* Effect.forEach(
      folded.backups,
      (b) =>
        Effect.gen(function* () {
          const { state: ms, manifest, manifestSha256 } = yield* readStoredManifest(prefix, b)
          const completeness = backupCompleteness(b, ms)
          const complete = completeness._tag === "Complete" && manifest !== undefined
          // The manifest's own record first (as authentic as the manifest); verification.json for backups stored without one.
          const verified = complete ? (manifest.verification?.mode ?? (yield* readStoredVerification(prefix, b, manifest.timestamp))) : undefined
          const signatureBytes = b.objects.find((o) => o.file === signatureFileName)?.size
          const signed = complete && signatureBytes !== undefined
          return { completeness, manifest, verified, signed, manifestSha256, signatureBytes }
        }),
      { concurrency: 8 },
    )
    listed.push(...described)
  })
  yield* Stream.runForEach(listingPages(store, listingPrefix(prefix)), onPage)
  // A backup's own directory listed as a store may also show the backup's hidden work directory as a backup.
  if (holdsOwnBackupManifest(prefix, foreignManifests)) yield* Effect.logWarning(ownBackupHint(store.location, prefix))
  else if (listed.length === 0) yield* warnOfBackupsElsewhere(prefix, foreignManifests)
  return listed
})
