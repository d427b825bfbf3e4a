/**
 * The files and directories a killed run of the backup pod's commands can leave in a backup
 * directory, recognised by name. Only names of this product's own making are recognised (a
 * backup file's `.part`, an atomic write's `.tmp-<id>`, the `building/` directory, backup-upload's
 * `<file>.age` of a file the manifest names), never a finished file, so a sweep of what this module names cannot remove a backup or a user's file.
 * Whether a sweep may run at all is the lock's decision (see `programs/backup-dir/backup-dir-lock.ts`).
 */
import { manifestFileName, parseBackupFileName } from "./archive-names.ts"
import { encryptedSuffix } from "./backup-manifest.ts"
import { signatureFileName } from "./manifest-signature-file.ts"
import { verificationFileName } from "./verification-file.ts"
import { operandNames } from "./operands.ts"

export type LeftoverKind =
  /** `snapshot_<ts>.db.part`: a snapshot that was still streaming (etcdctl's name for it too). */
  | "partial snapshot"
  /** `static_kuberesources_<ts>.tar.gz.part`: a tarball that was still being written. */
  | "partial tarball"
  /** `<file>.tmp-<id>` of an atomic write (manifest, its signature, verify's report, snapshot record, resources record). */
  | "unfinished atomic write"
  /** `.cluster-backup/building/`: revision trees (decoded Secrets) that were still being written. */
  | "revision tree being built"
  /** `<file>.age` or `<file>.age.part` beside a file of the local manifest: backup-upload's ciphertext, removed after its upload. */
  | "encrypted copy of an upload"

/** The directory beside the backup's files that holds its records (`.cluster-backup`). */
export const recordDirectoryName = ".cluster-backup"

/** The backup directory's lock in the record directory (see `services/run-lock.ts`). */
export const runLockFileName = "run.lock"

/** The name `building/` has in the record directory. */
export const buildingDirectoryName = "building"

const tempSuffix = /\.tmp-[A-Za-z0-9_-]+$/

/** The files written atomically beside the backup's: the manifest, its signature (backup-create) and verify's report (--report-out). */
const backupDirectoryFileNames = new Set([manifestFileName, signatureFileName, verificationFileName])

const recordFileNames = new Set(["snapshot.json", "encrypted-sample.json", ...operandNames.map((n) => `resources-${n}.json`)])

/**
 * A file the directory's manifest names, as far as an upload's ciphertext goes: `encrypted` when the
 * manifest records the file's encrypted form (a store's manifest: then `<name>.age` is the backup's own
 * object, a download of it), not when it is backup-create's local manifest.
 */
export interface ManifestFile {
  readonly name: string
  readonly encrypted: boolean
}

/** The manifest's two files, as `backupDirectoryLeftover` takes them. */
export const manifestFilesOf = (files: {
  readonly snapshot: { readonly name: string; readonly encrypted?: unknown }
  readonly resources: { readonly name: string; readonly encrypted?: unknown }
}): ReadonlyArray<ManifestFile> => [files.snapshot, files.resources].map((f) => ({ name: f.name, encrypted: f.encrypted !== undefined }))

/** The ciphertext backup-upload writes (`<file>.age`, through `.part`) beside a file of a plaintext manifest; nothing of another name. */
const uploadCiphertextOf = (name: string, manifestFiles: ReadonlyArray<ManifestFile>): boolean =>
  manifestFiles.some((f) => name === `${f.name}${encryptedSuffix}.part` || (!f.encrypted && name === `${f.name}${encryptedSuffix}`))

/**
 * What an entry of the backup directory itself is, if a killed run left it. `manifestFiles`: the files
 * the directory's manifest names, when it has one that decodes (an upload's ciphertext is recognised
 * only beside them).
 */
export const backupDirectoryLeftover = (name: string, manifestFiles: ReadonlyArray<ManifestFile> = []): LeftoverKind | undefined => {
  if (uploadCiphertextOf(name, manifestFiles)) return "encrypted copy of an upload"
  if (name.endsWith(".part")) {
    const file = parseBackupFileName(name.slice(0, -".part".length))
    if (file !== undefined) return file.kind === "snapshot" ? "partial snapshot" : "partial tarball"
    return undefined
  }
  const temp = tempSuffix.exec(name)
  if (temp !== null && backupDirectoryFileNames.has(name.slice(0, temp.index))) return "unfinished atomic write"
  return undefined
}

/** What an entry of the record directory (`.cluster-backup`) is, if a killed run left it. */
export const recordDirectoryLeftover = (name: string): LeftoverKind | undefined => {
  if (name === buildingDirectoryName) return "revision tree being built"
  const temp = tempSuffix.exec(name)
  if (temp !== null && recordFileNames.has(name.slice(0, temp.index))) return "unfinished atomic write"
  return undefined
}

const lockTemp = /^\.(?:new|stale)-([1-9][0-9]{0,9})-[0-9a-f]+$/

/**
 * The PID in the name of a temporary file the run lock makes while it is taken
 * (`run.lock.new-<pid>-<hex>`, `run.lock.stale-<pid>-<hex>`), if `name` is one: it is a leftover
 * only once that process is gone, which only the caller can check.
 */
export const runLockTempPid = (name: string): number | undefined => {
  if (!name.startsWith(runLockFileName)) return undefined
  const m = lockTemp.exec(name.slice(runLockFileName.length))
  return m === null ? undefined : Number(m[1])
}
