/**
 * Where a backup's objects go in a store, and which objects make a backup. One layout for every
 * store (a directory, S3): `<prefix>/<backup-id>/<file>`. The default prefix holds the cluster's
 * identity (ClusterVersion `spec.clusterID`), so clusters sharing a bucket never see each
 * other's backups.
 *
 * Commit protocol: the backup's files first, `backup-manifest.json` last. A backup is complete
 * only when its manifest is there and describes the objects beside it: every file it names is
 * present with the size it records, and where the store recorded a sha256 with the object, the
 * same sha256. Anything else is incomplete: never listed as a backup, removed by prune once
 * older than a grace period (an upload may still be running).
 *
 * Listing is a flat, sorted, paginated walk of `<prefix>/` (S3 ListObjectsV2 order): a backup's
 * objects are adjacent, so pages can be folded into backups as they come (`foldListingPage`)
 * without holding the whole listing. A listing out of that order is refused: its backups would
 * come apart into pieces that each look incomplete.
 */
import { Result, Schema } from "effect"
import { isBackupTimestamp, manifestFileName, parseBackupFileName } from "./archive-names.ts"
import { encryptedSuffix } from "./backup-manifest.ts"
import { signatureFileName } from "./manifest-signature-file.ts"
import { verificationFileName } from "./verification-file.ts"
import { shortList } from "./short-list.ts"

/** A path segment the layout accepts: no separator, not `.`/`..`, printable ASCII, ≤ 200 bytes. */
const segmentPattern = /^(?!\.{1,2}$)[A-Za-z0-9._~+=@-]{1,200}$/

export const isLayoutSegment = (s: string): boolean => segmentPattern.test(s)

/** A backup's id in a store: one path segment (by default the backup's timestamp). */
export const BackupId = Schema.String.check(
  Schema.makeFilter((s: string) => isLayoutSegment(s), {
    expected: "a backup id: letters, digits and . _ ~ + = @ -, not . or .., at most 200 characters",
  }),
)
export type BackupId = typeof BackupId.Type

/** A prefix: segments joined by `/`, no leading or trailing `/`; empty means the store's root. */
export const StorePrefix = Schema.String.check(
  Schema.makeFilter((s: string) => s === "" || s.split("/").every(isLayoutSegment), {
    expected: "a prefix of path segments (letters, digits and . _ ~ + = @ -) separated by /, no leading or trailing /",
  }),
)
export type StorePrefix = typeof StorePrefix.Type

/** `a//b/` and `/a/b` both mean `a/b`: what users type after `s3://bucket/`. */
export const normalizePrefix = (raw: string): string =>
  raw
    .split("/")
    .filter((s) => s !== "")
    .join("/")

/** The prefix used when none is given: `cluster-backup/<clusterID>`. */
export const defaultPrefix = (clusterId: string): string => `cluster-backup/${clusterId}`

/** The key of a backup's file: `<prefix>/<id>/<file>`. */
export const objectKey = (prefix: string, id: string, file: string): string => `${prefix === "" ? "" : `${prefix}/`}${id}/${file}`

/** The listing prefix of a whole store (`<prefix>/`) or of one backup (`<prefix>/<id>/`). */
export const listingPrefix = (prefix: string, id?: string): string => `${prefix === "" ? "" : `${prefix}/`}${id === undefined ? "" : `${id}/`}`

export interface ParsedKey {
  readonly id: string
  readonly file: string
}

/** The backup id and file of a key under `prefix`; `undefined` for a key that is not laid out so. */
export const parseObjectKey = (prefix: string, key: string): ParsedKey | undefined => {
  const under = listingPrefix(prefix)
  if (!key.startsWith(under)) return undefined
  const rest = key.slice(under.length).split("/")
  if (rest.length !== 2) return undefined
  const [id, file] = rest as [string, string]
  return isLayoutSegment(id) && isLayoutSegment(file) ? { id, file } : undefined
}

/** The prefix one segment up from `prefix` (`a/b` → `a`), undefined for the store's root. */
export const parentPrefix = (prefix: string): string | undefined => (prefix === "" ? undefined : prefix.split("/").slice(0, -1).join("/"))

/**
 * The prefixes deeper than `prefix` under which `keys` hold backup manifests (`<prefix>/<deeper>/<id>/backup-manifest.json`),
 * with how many: where a store listed at too shallow a prefix keeps its backups (a volume's root listed, its backups under
 * cluster-backup/<cluster-id>). Sorted by prefix.
 */
export const deeperBackupPrefixes = (prefix: string, keys: ReadonlyArray<string>): ReadonlyArray<{ readonly prefix: string; readonly manifests: number }> => {
  const under = listingPrefix(prefix)
  const found = new Map<string, number>()
  for (const key of keys) {
    if (!key.startsWith(under)) continue
    const rest = key.slice(under.length).split("/")
    if (rest.length < 3 || rest.at(-1) !== manifestFileName || !rest.every(isLayoutSegment)) continue
    const deeper = `${under}${rest.slice(0, -2).join("/")}`
    found.set(deeper, (found.get(deeper) ?? 0) + 1)
  }
  return [...found].sort(([a], [b]) => compareKeys(a, b)).map(([p, manifests]) => ({ prefix: p, manifests }))
}

/**
 * What to say when a listing under `prefix` found no backup, but some lie `deeper` (under it) or `beside` it (under its
 * parent: another cluster ID's prefix): where they are, and the flag that reaches them.
 */
export const elsewhereBackupsHint = (
  location: string,
  prefix: string,
  where: "deeper" | "beside it",
  deeper: ReadonlyArray<{ readonly prefix: string; readonly manifests: number }>,
): string => {
  const shown = shortList(deeper.map((d) => `${d.prefix}/ (${d.manifests} backup manifest${d.manifests === 1 ? "" : "s"})`))
  const first = deeper[0]?.prefix ?? ""
  const clusterId = /^cluster-backup\/([^/]+)$/.exec(first)?.[1]
  return (
    `no backup ${prefix === "" ? `at the root of ${location}` : `under ${prefix}/ in ${location}`}, but backups lie ${where}: under ${shown}; ` +
    `give --prefix ${first}${clusterId === undefined ? "" : ` (or --cluster-id ${clusterId})`} to reach them`
  )
}

/** Whether the listing's keys outside this layout hold a manifest right under `prefix`: the prefix is a backup's own directory. */
export const holdsOwnBackupManifest = (prefix: string, foreignKeys: ReadonlyArray<string>): boolean =>
  foreignKeys.includes(`${listingPrefix(prefix)}${manifestFileName}`)

/** What to say when the prefix listed is a backup's own directory (`<prefix>/<id>` given as the prefix, or a backup directory as the store). */
export const ownBackupHint = (location: string, prefix: string): string => {
  if (prefix === "")
    return `no backup at the root of ${location}: it holds a backup's own files (${manifestFileName}): it is a backup directory, not a store; verify and restore take it as it is, list and download take the directory above it`
  const parent = parentPrefix(prefix)!
  return `no backup under ${prefix}/ in ${location}: it is a backup's own directory, backup ${prefix.split("/").at(-1)} of the store's backups under --prefix ${parent === "" ? '""' : parent}`
}

/** An object as a store lists it. */
export interface StoredObject {
  readonly key: string
  readonly size: number
  /** When it was written (epoch ms). */
  readonly modifiedAt: number
  /** The sha256 the store recorded with the object (S3 metadata), when it has one. */
  readonly sha256?: string | undefined
}

/** A file the manifest names, with what it records. */
export interface DescribedFile {
  readonly name: string
  readonly size: number
  readonly sha256: string
}

export type ManifestState =
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Unreadable"; readonly reason: string; readonly archived?: boolean | undefined }
  | { readonly _tag: "Read"; readonly files: ReadonlyArray<DescribedFile> }

export interface BackupObjects {
  readonly id: string
  /** By file name. */
  readonly objects: ReadonlyArray<StoredObject & { readonly file: string }>
}

export type BackupCompleteness =
  | {
      readonly _tag: "Complete"
      readonly id: string
      readonly bytes: number
      readonly newestAt: number
      /** Its objects the manifest does not name. */
      readonly extra: ReadonlyArray<string>
      /**
       * The other stored form of a file the manifest names, among `extra`: the plain form of a file it
       * names encrypted (`snapshot_<ts>.db` beside the `snapshot_<ts>.db.age` it names: an older
       * backup-upload's leftover, the file in the clear), or the `.age` form of a file it names plain
       * (an encrypted upload killed before its manifest, then a plain one). Prune removes them once
       * older than the grace period; list shows them.
       */
      readonly strayForms: ReadonlyArray<StrayForm>
    }
  | {
      readonly _tag: "Incomplete"
      readonly id: string
      readonly bytes: number
      readonly newestAt: number
      readonly reasons: ReadonlyArray<string>
      /** Its manifest is there but this version cannot read it: maybe a newer cluster-backup's, so never garbage. */
      readonly unreadableManifest?: boolean | undefined
      /** Its manifest cannot be read because the store archived it (a lifecycle rule's transition): never garbage either. */
      readonly archivedManifest?: boolean | undefined
      /** None of its objects has a name backup-upload writes (another program's files under the prefix): never garbage. */
      readonly foreign?: boolean | undefined
    }

/** An object in the other stored form of a file the manifest names; `encrypted`: it is the `.age` form (the manifest names the plain one). */
export type StrayForm = StoredObject & { readonly file: string; readonly encrypted: boolean }

/** The other stored form of a backup file: `<file>.age` for `<file>`, `<file>` for `<file>.age`. */
export const otherStoredForm = (file: string): string => (file.endsWith(encryptedSuffix) ? file.slice(0, -encryptedSuffix.length) : `${file}${encryptedSuffix}`)

/** A file name backup-upload writes under a backup's id: its snapshot or tarball (or their `.age`), manifest, signature or verify's record. */
export const isUploadedFileName = (file: string): boolean =>
  file === manifestFileName ||
  file === signatureFileName ||
  file === verificationFileName ||
  parseBackupFileName(file.endsWith(encryptedSuffix) ? file.slice(0, -encryptedSuffix.length) : file) !== undefined

/**
 * Whether a backup's objects make a complete backup, given what its manifest says. Every reason
 * is reported, not the first. Objects the manifest does not name (`extra`) do not make a backup
 * incomplete; the other forms of named files among them (`strayForms`) are reported so prune can remove them.
 */
export const backupCompleteness = (backup: BackupObjects, manifest: ManifestState): BackupCompleteness => {
  // Another program's file beside the backup's is not the backup's: no retention rule counts it, nor does prune free it.
  const bytes = backup.objects.reduce((n, o) => n + (isUploadedFileName(o.file) ? o.size : 0), 0)
  const newestAt = backup.objects.reduce((t, o) => Math.max(t, o.modifiedAt), 0)
  const byFile = new Map(backup.objects.map((o) => [o.file, o]))
  const reasons: Array<string> = []
  const foreign = !backup.objects.some((o) => isUploadedFileName(o.file))
  if (manifest._tag === "Absent")
    reasons.push(
      foreign
        ? `no ${manifestFileName}, and none of its files is one backup-upload writes: not a backup (another program's files, or a backup's own work directory)`
        : `no ${manifestFileName}: the upload did not finish`,
    )
  if (manifest._tag === "Unreadable") reasons.push(`${manifestFileName} is unreadable: ${manifest.reason}`)
  const described = manifest._tag === "Read" ? manifest.files : []
  for (const f of described) {
    const o = byFile.get(f.name)
    if (o === undefined) reasons.push(`${f.name}: named by the manifest, not in the store`)
    else if (o.size !== f.size) reasons.push(`${f.name}: ${o.size} bytes in the store, the manifest says ${f.size}`)
    else if (o.sha256 !== undefined && o.sha256 !== f.sha256) reasons.push(`${f.name}: sha256 ${o.sha256} recorded by the store, the manifest says ${f.sha256}`)
  }
  if (reasons.length > 0) {
    return {
      _tag: "Incomplete",
      id: backup.id,
      bytes,
      newestAt,
      reasons,
      unreadableManifest: manifest._tag === "Unreadable",
      ...(manifest._tag === "Unreadable" && manifest.archived === true ? { archivedManifest: true } : {}),
      foreign,
    }
  }
  // The signature and verify's record are about the manifest's backup, not files it describes: never garbage.
  const named = new Set([manifestFileName, signatureFileName, verificationFileName, ...described.map((f) => f.name)])
  const extra = backup.objects.filter((o) => !named.has(o.file))
  const forms = new Set(described.map((f) => f.name))
  const strayForms = extra.flatMap(
    (o): Array<StrayForm> => (isUploadedFileName(o.file) && forms.has(otherStoredForm(o.file)) ? [{ ...o, encrypted: o.file.endsWith(encryptedSuffix) }] : []),
  )
  return { _tag: "Complete", id: backup.id, bytes, newestAt, extra: extra.map((o) => o.file), strayForms }
}

/** What a listing walk carries from one page to the next: the backup whose objects may continue, and the last key seen. */
export interface ListingState {
  readonly open: BackupObjects | undefined
  readonly lastKey: string | undefined
}

export const emptyListing: ListingState = { open: undefined, lastKey: undefined }

const utf8 = new TextEncoder()

/** S3's order of keys: their UTF-8 bytes (which is code point order, not JavaScript's UTF-16 order). */
export const compareKeys = (a: string, b: string): number => {
  if (a === b) return 0
  const [x, y] = [utf8.encode(a), utf8.encode(b)]
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

/** A listing whose keys do not strictly ascend: `key` came after `previous`. */
export interface ListingOutOfOrder {
  readonly previous: string
  readonly key: string
}

export interface FoldedPage {
  readonly state: ListingState
  /** Backups whose objects are all seen (a later page cannot add to them). */
  readonly backups: ReadonlyArray<BackupObjects>
  /** Keys under the prefix that are not `<id>/<file>`: not this layout's, left alone. */
  readonly foreign: ReadonlyArray<string>
}

/**
 * Folds one page of a sorted listing of `<prefix>/` into backups. Keys arrive in ascending
 * order, so a backup is finished once a key of another id (or the last page) is seen. Passing
 * `last` closes the open backup. A key not after the one before it (a page repeated, a server
 * that does not sort) fails the fold.
 */
export const foldListingPage = (
  prefix: string,
  state: ListingState,
  page: ReadonlyArray<StoredObject>,
  last: boolean,
): Result.Result<FoldedPage, ListingOutOfOrder> => {
  const backups: Array<BackupObjects> = []
  const foreign: Array<string> = []
  let open = state.open
  let lastKey = state.lastKey
  for (const o of page) {
    if (lastKey !== undefined && compareKeys(lastKey, o.key) >= 0) return Result.fail({ previous: lastKey, key: o.key })
    lastKey = o.key
    const parsed = parseObjectKey(prefix, o.key)
    if (parsed === undefined) {
      foreign.push(o.key)
      continue
    }
    const object = { ...o, file: parsed.file }
    if (open !== undefined && open.id === parsed.id) open = { id: open.id, objects: [...open.objects, object] }
    else {
      if (open !== undefined) backups.push(open)
      open = { id: parsed.id, objects: [object] }
    }
  }
  if (last && open !== undefined) {
    backups.push(open)
    open = undefined
  }
  return Result.succeed({ state: { open, lastKey }, backups, foreign })
}

/** A multipart upload the store reports as started and neither completed nor aborted. */
export interface PendingUpload {
  readonly key: string
  readonly uploadId: string
  readonly initiatedAt: number
  /** The bytes it holds, where they take the room a store reports (a directory store's part). */
  readonly bytes?: number | undefined
  /**
   * How often at least a live writer shows itself (a directory store's writer refreshes its part; an S3
   * writer completes a part): an upload whose `lastActiveAt` is older than this is a dead writer's, whatever the grace.
   */
  readonly abandonedAfterMs?: number | undefined
  /** The newest sign of its writer, where the store has told it: a directory store's part's last change; an S3 upload's newest part. */
  readonly lastActiveAt?: number | undefined
}

/** Whether `upload` may still belong to a writer at work: started within the grace, and not shown idle for longer than a live writer ever is. */
export const mayBeLive = (upload: PendingUpload, now: number, graceMs: number): boolean =>
  now - upload.initiatedAt <= graceMs &&
  !(upload.abandonedAfterMs !== undefined && upload.lastActiveAt !== undefined && now - upload.lastActiveAt > upload.abandonedAfterMs)

/**
 * Whether the store's answer when `upload` was last active could show it abandoned: within the grace, started longer
 * ago than a live writer is ever idle, and not asked yet. Other uploads are judged without asking.
 */
export const activityDecides = (upload: PendingUpload, now: number, graceMs: number): boolean =>
  upload.abandonedAfterMs !== undefined &&
  upload.lastActiveAt === undefined &&
  now - upload.initiatedAt > upload.abandonedAfterMs &&
  now - upload.initiatedAt <= graceMs

export interface Garbage {
  readonly incomplete: ReadonlyArray<BackupCompleteness & { readonly _tag: "Incomplete" }>
  readonly uploads: ReadonlyArray<PendingUpload>
}

/**
 * What prune may remove regardless of the retention policy: incomplete backups whose newest
 * object is older than `graceMs`, and multipart uploads of the files backup-upload writes
 * (`<prefix>/<id>/<file>`; another program's, `<id>/notes.txt` too, are left alone) started more than `graceMs` ago, or
 * whose writer the store shows gone (`lastActiveAt` older than `abandonedAfterMs`). Others may belong to an upload in progress and are kept. Complete backups are never garbage. An incomplete backup with a
 * younger upload under it is kept too:
 * its small files may be old while its snapshot is still being uploaded. Objects none of which has
 * a name backup-upload writes (a user's `notes/readme.txt` under the prefix) are not a backup of
 * this project's, and are never garbage. A backup whose manifest
 * is there but unreadable is never garbage: a later cluster-backup may have written it (a format
 * or a key this version does not know), and its upload finished.
 */
export const garbage = (
  backups: ReadonlyArray<BackupCompleteness>,
  uploads: ReadonlyArray<PendingUpload>,
  now: number,
  graceMs: number,
  prefix: string,
): Garbage => {
  // Uploads of `<prefix>/<id>/<file>` keys: another program's elsewhere under the prefix are its own business.
  const underIds = uploads.flatMap((u) => {
    const parsed = parseObjectKey(prefix, u.key)
    return parsed === undefined ? [] : [{ upload: u, id: parsed.id }]
  })
  // Any of them young keeps the backup under its id; only those of a file backup-upload writes are aborted.
  const uploading = new Set(underIds.filter((o) => mayBeLive(o.upload, now, graceMs)).map((o) => o.id))
  return {
    incomplete: backups.filter(
      (b): b is BackupCompleteness & { _tag: "Incomplete" } =>
        b._tag === "Incomplete" && b.unreadableManifest !== true && b.foreign !== true && now - b.newestAt > graceMs && !uploading.has(b.id),
    ),
    uploads: underIds.filter((o) => isOwnKey(prefix, o.upload.key) && !mayBeLive(o.upload, now, graceMs)).map((o) => o.upload),
  }
}

/** A folder a store holds with nothing in it (a directory store's directory), and when it last changed. */
export interface EmptyFolder {
  readonly key: string
  readonly modifiedAt: number
}

/**
 * How long a backup's empty folder stays before prune removes it. A put fills the folder it makes at once, so only a
 * run killed in between leaves it empty for long: after making it, or after removing a backup's last file (prune,
 * retention) and before the folder.
 */
export const emptyFolderIdleMs = 15 * 60_000

/**
 * The empty folders prune removes: a backup's own (`<prefix>/<id>`, the id a backup timestamp as backup-upload names
 * them, one segment below the prefix), unchanged for longer than `emptyFolderIdleMs`. Any other is not this project's:
 * a volume root's `lost+found` under an empty prefix, a user's folder.
 */
export const leftEmptyFolders = (folders: ReadonlyArray<EmptyFolder>, prefix: string, now: number): ReadonlyArray<EmptyFolder> => {
  const under = listingPrefix(prefix)
  return folders.filter((f) => f.key.startsWith(under) && isBackupTimestamp(f.key.slice(under.length)) && now - f.modifiedAt > emptyFolderIdleMs)
}

/** Whether `key` is one backup-upload writes (`<prefix>/<id>/<file>`, `<file>` one of its names): its object or upload is prune's to remove. */
export const isOwnKey = (prefix: string, key: string): boolean => isUploadedFileName(parseObjectKey(prefix, key)?.file ?? "")

/** The default grace period before incomplete backups and abandoned uploads are garbage: 24 h. */
export const defaultGraceMs = 24 * 3_600_000
