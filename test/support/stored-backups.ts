/** Backups as a store holds them, made at any instant: for prune tests, without running the pod's commands. */
import { createHash } from "node:crypto"
import { backupFileNames, formatBackupTimestamp, manifestFileName } from "../../src/domain/archive-names.ts"
import { encodeBackupManifest, type BackupManifest } from "../../src/domain/backup-manifest.ts"

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

/**
 * The objects of a backup made at `at`, by file name, `base`'s manifest re-stamped with that
 * instant and describing two small files (`sized`: as large as `base`'s); without the manifest when `complete` is false.
 */
export const storedBackup = (
  base: BackupManifest,
  at: number,
  complete = true,
  sized = false,
): { id: string; files: ReadonlyArray<readonly [string, Uint8Array]> } => {
  const timestamp = formatBackupTimestamp(new Date(at))
  const names = backupFileNames(timestamp, base.verdict === "dirty")
  const content = (text: string, size: number) => {
    const bytes = new TextEncoder().encode(text)
    return sized ? Buffer.concat([bytes, Buffer.alloc(Math.max(0, size - bytes.length))]) : bytes
  }
  const snapshot = content(`snapshot ${timestamp}`, base.files.snapshot.size)
  const resources = content(`resources ${timestamp}`, base.files.resources.size)
  const manifest: BackupManifest = {
    ...base,
    timestamp,
    createdAt: new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z"),
    files: {
      snapshot: { name: names.snapshot, size: snapshot.byteLength, sha256: sha256(snapshot) },
      resources: { name: names.resources, size: resources.byteLength, sha256: sha256(resources) },
    },
  }
  const files: Array<readonly [string, Uint8Array]> = [
    [names.snapshot, snapshot],
    [names.resources, resources],
  ]
  if (complete) files.push([manifestFileName, new TextEncoder().encode(encodeBackupManifest(manifest))])
  return { id: timestamp, files }
}
