/**
 * Which backup of a directory to verify or restore. OpenShift's restore takes the last
 * `snapshot*.db` and the last `static_kuberesources*.tar.gz` in version-sort order, each on its
 * own, so a directory with an incomplete newest backup silently pairs files of two backups.
 * Here the newest *timestamp* is taken (backup timestamps are fixed-width, so their order is the
 * version-sort order and the chronological one), and it must have exactly one snapshot and one
 * tarball, both clean or both marked dirty; anything else is refused with what was found.
 */
import { Result, Schema } from "effect"
import { parseBackupFileName, type BackupTimestamp } from "../../domain/archive-names.ts"

export interface SelectedBackup {
  readonly timestamp: BackupTimestamp
  readonly dirty: boolean
  readonly snapshot: string
  readonly resources: string
  /** Every timestamp with at least one backup file, newest first. */
  readonly timestamps: ReadonlyArray<BackupTimestamp>
}

export class BackupNotFound extends Schema.TaggedError<BackupNotFound>()("BackupNotFound", {
  timestamp: Schema.NullOr(Schema.String),
  message: Schema.String,
}) {}

interface Group {
  readonly snapshots: Array<{ readonly name: string; readonly dirty: boolean }>
  readonly resources: Array<{ readonly name: string; readonly dirty: boolean }>
}

/** Whether a directory's names include no backup file at all (not even an incomplete backup's). */
export const holdsNoBackupFiles = (names: ReadonlyArray<string>): boolean => names.every((name) => parseBackupFileName(name) === undefined)

/** Picks the backup named by `timestamp`, or the newest one, among the file names of a directory. */
export const selectBackup = (names: ReadonlyArray<string>, timestamp?: BackupTimestamp): Result.Result<SelectedBackup, BackupNotFound> => {
  const groups = new Map<BackupTimestamp, Group>()
  for (const name of names) {
    const parsed = parseBackupFileName(name)
    if (parsed === undefined) continue
    const group = groups.get(parsed.timestamp) ?? { snapshots: [], resources: [] }
    groups.set(parsed.timestamp, group)
    ;(parsed.kind === "snapshot" ? group.snapshots : group.resources).push({ name, dirty: parsed.dirty })
  }
  const timestamps = [...groups.keys()].sort().reverse()
  const refuse = (ts: string | null, message: string) => Result.fail(new BackupNotFound({ timestamp: ts, message }))
  if (timestamps.length === 0) {
    return refuse(timestamp ?? null, "no backup files (snapshot_<timestamp>.db and static_kuberesources_<timestamp>.tar.gz) in the directory")
  }
  const chosen = timestamp ?? timestamps[0]!
  const group = groups.get(chosen)
  if (group === undefined) {
    return refuse(chosen, `no backup with timestamp ${chosen}; the directory holds ${timestamps.join(", ")}`)
  }
  const describe = (files: ReadonlyArray<{ readonly name: string }>) => (files.length === 0 ? "none" : files.map((f) => f.name).join(" and "))
  if (group.snapshots.length !== 1 || group.resources.length !== 1) {
    return refuse(
      chosen,
      `backup ${chosen} is incomplete or ambiguous: expected one snapshot_${chosen}[__POSSIBLY_DIRTY__].db and one static_kuberesources_${chosen}[__POSSIBLY_DIRTY__].tar.gz, ` +
        `found snapshot ${describe(group.snapshots)}, tarball ${describe(group.resources)}` +
        (timestamp === undefined && timestamps.length > 1 ? `; pick another backup with --timestamp (${timestamps.slice(1).join(", ")})` : ""),
    )
  }
  const snapshot = group.snapshots[0]!
  const resources = group.resources[0]!
  if (snapshot.dirty !== resources.dirty) {
    return refuse(
      chosen,
      `backup ${chosen} mixes a ${snapshot.dirty ? "dirty" : "clean"} snapshot name (${snapshot.name}) with a ${resources.dirty ? "dirty" : "clean"} tarball name (${resources.name})`,
    )
  }
  return Result.succeed({ timestamp: chosen, dirty: snapshot.dirty, snapshot: snapshot.name, resources: resources.name, timestamps })
}
