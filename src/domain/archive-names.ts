/**
 * Names of a backup's files. One timestamp (`YYYY-MM-DD_HHMMSS`, UTC) is shared by the snapshot
 * and the resource tarball; `__POSSIBLY_DIRTY__` goes before the extension of both when the
 * snapshot and the resources are not proven to belong together. OpenShift's restore picks the
 * last of each in version-sort order, so these names must sort chronologically.
 */
import { Schema } from "effect"

export const dirtyMarker = "__POSSIBLY_DIRTY__"

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** `YYYY-MM-DD_HHMMSS` of an instant, in UTC. Years outside 1000..9999 are refused by callers. */
export const formatBackupTimestamp = (at: Date): string =>
  `${pad(at.getUTCFullYear(), 4)}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}_` +
  `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`

/** The instant a timestamp names (UTC). */
export const parseBackupTimestamp = (ts: BackupTimestamp): Date =>
  new Date(
    Date.UTC(
      Number(ts.slice(0, 4)),
      Number(ts.slice(5, 7)) - 1,
      Number(ts.slice(8, 10)),
      Number(ts.slice(11, 13)),
      Number(ts.slice(13, 15)),
      Number(ts.slice(15, 17)),
    ),
  )

/** `YYYY-MM-DD_HHMMSS` naming a real calendar second in years 1000..9999 (no February 30th). */
export const BackupTimestamp = Schema.String.check(
  Schema.isPattern(/^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])_([01]\d|2[0-3])[0-5]\d[0-5]\d$/),
  Schema.makeFilter((ts: string) => formatBackupTimestamp(parseBackupTimestamp(ts)) === ts, {
    expected: "a timestamp naming a real calendar day",
  }),
)
export type BackupTimestamp = typeof BackupTimestamp.Type

/** Whether a text is a backup timestamp (`BackupTimestamp`). */
export const isBackupTimestamp = Schema.is(BackupTimestamp)

export interface BackupFileNames {
  readonly snapshot: string
  readonly resources: string
}

/** `snapshot_<ts>[__POSSIBLY_DIRTY__].db` and `static_kuberesources_<ts>[__POSSIBLY_DIRTY__].tar.gz`. */
export const backupFileNames = (ts: BackupTimestamp, dirty: boolean): BackupFileNames => {
  const suffix = dirty ? dirtyMarker : ""
  return {
    snapshot: `snapshot_${ts}${suffix}.db`,
    resources: `static_kuberesources_${ts}${suffix}.tar.gz`,
  }
}

/** The manifest written beside the two files. */
export const manifestFileName = "backup-manifest.json"

const snapshotPattern = /^snapshot_(\d{4}-\d{2}-\d{2}_\d{6})(__POSSIBLY_DIRTY__)?\.db$/
const resourcesPattern = /^static_kuberesources_(\d{4}-\d{2}-\d{2}_\d{6})(__POSSIBLY_DIRTY__)?\.tar\.gz$/

/** Recognises a backup file name; `undefined` for anything else (including `.part` files). */
export const parseBackupFileName = (
  name: string,
): { readonly kind: "snapshot" | "resources"; readonly timestamp: BackupTimestamp; readonly dirty: boolean } | undefined => {
  for (const [kind, pattern] of [
    ["snapshot", snapshotPattern],
    ["resources", resourcesPattern],
  ] as const) {
    const m = pattern.exec(name)
    if (m !== null && isBackupTimestamp(m[1])) return { kind, timestamp: m[1], dirty: m[2] !== undefined }
  }
  return undefined
}
