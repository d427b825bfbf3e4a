/**
 * `<backup-dir>/.cluster-backup/snapshot.json`: what `backup-init` hands to `backup-create`.
 * It carries the backup's one timestamp (shared by the snapshot, the tarball and the manifest),
 * the snapshot's size and hash, and the operator revisions read from etcd at the snapshot's
 * revision, which the resource containers must match.
 */
import { Effect, type FileSystem, Path, Schema } from "effect"
import { BackupTimestamp } from "../../domain/archive-names.ts"
import { recordDirectoryName } from "../../domain/backup-leftovers.ts"
import { ClusterFacts, Sha256Hex, SnapshotRevisions } from "../../domain/backup-manifest.ts"
import { KeyCounts } from "../../domain/key-counts.ts"
import { ensurePrivateDirectory, readRecordText, writeFileAtomic, type BackupFileError } from "../../services/atomic-files.ts"

export const recordDirName = recordDirectoryName
export const snapshotRecordFileName = "snapshot.json"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER))

/** Per operand: the CR's `status.latestAvailableRevision` at the snapshot's revision, or null (reason in `operatorRevisionReasons`). */
export const OperatorRevisions = SnapshotRevisions
export type OperatorRevisions = SnapshotRevisions

export const SnapshotRecord = Schema.Struct({
  /** The backup's timestamp: every file of this backup is named with it. */
  timestamp: BackupTimestamp,
  /** `snapshot_<timestamp>.db`, without the dirty marker (`backup-create` renames when dirty). */
  snapshotFile: Schema.String.check(Schema.isPattern(/^snapshot_\d{4}-\d{2}-\d{2}_\d{6}\.db$/)),
  /** Bytes of the snapshot file (database plus the 32-byte sha256 trailer). */
  size: PositiveInt,
  /** sha256 of the database part (equal to the file's trailer), lowercase hex. */
  sha256: Sha256Hex,
  /**
   * The member's store revision observed immediately before the snapshot was requested; the
   * snapshot holds this revision or a later one up to `etcdRevisionUpperBound`.
   */
  etcdRevision: PositiveInt,
  /** The member's store revision observed right after the snapshot's first bytes arrived. */
  etcdRevisionUpperBound: PositiveInt,
  /** Raft index of the member before the snapshot (restore bumps revisions past it). */
  raftIndex: NonNegativeInt,
  /** The member's reported database size before the snapshot. */
  memberDbSize: NonNegativeInt,
  memberId: Schema.String,
  etcdVersion: Schema.String,
  endpoint: Schema.String,
  operatorRevisions: OperatorRevisions,
  /** Why an operator revision is null (absent CR, no status yet, undecodable). */
  operatorRevisionReasons: Schema.Record(Schema.String, Schema.String),
  /**
   * `verified`: the operator revisions were the same at both ends of the window in which the
   * snapshot was taken, so they are the ones inside the snapshot. `unverified`: a revision
   * changed inside that window (a rollout raced the backup); `backup-create` must mark the
   * backup possibly dirty.
   */
  pairing: Schema.Literals(["verified", "unverified"]),
  pairingDetail: Schema.String,
  /** ClusterVersion `version` at `etcdRevision` and the member's etcd version (absent in records of older runs). */
  cluster: Schema.optionalKey(ClusterFacts),
  /** Keys per resource prefix at `etcdRevision` (absent in records of older runs). */
  keyCounts: Schema.optionalKey(KeyCounts),
  /**
   * The file as backup-init left it (absent in records of older runs): sha256 of the whole file (database and trailer)
   * from the streaming pass, and the identity that shows it untouched since: inode and modification time (ns, decimal),
   * taken after the last write and the fsync. backup-create takes the sha256 from here when the file's identity is
   * unchanged, and re-reads the file otherwise.
   */
  file: Schema.optionalKey(
    Schema.Struct({
      sha256: Sha256Hex,
      inode: Schema.String.check(Schema.isPattern(/^\d+$/)),
      mtimeNs: Schema.String.check(Schema.isPattern(/^\d+$/)),
    }),
  ),
}).check(
  Schema.makeFilter((r) =>
    r.snapshotFile === `snapshot_${r.timestamp}.db`
      ? r.etcdRevisionUpperBound >= r.etcdRevision
        ? undefined
        : { path: ["etcdRevisionUpperBound"], issue: `must be >= etcdRevision (${r.etcdRevision})` }
      : { path: ["snapshotFile"], issue: `must be snapshot_${r.timestamp}.db (the record's timestamp)` },
  ),
)
export type SnapshotRecord = typeof SnapshotRecord.Type

export class SnapshotRecordInvalid extends Schema.TaggedError<SnapshotRecordInvalid>()("SnapshotRecordInvalid", {
  path: Schema.String,
  message: Schema.String,
}) {}

const SnapshotRecordJson = Schema.fromJsonString(SnapshotRecord)
const encodeRecord = Schema.encodeEffect(SnapshotRecordJson)
const decodeRecord = Schema.decodeUnknownEffect(SnapshotRecordJson, { errors: "all" })

/** `<backupDir>/.cluster-backup/snapshot.json` */
export const snapshotRecordPath = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, snapshotRecordFileName)

/** Writes the record atomically (temp, fsync, rename), mode 0600, in a 0700 directory. */
export const writeSnapshotRecord = Effect.fnUntraced(function* (backupDir: string, record: SnapshotRecord) {
  const path = yield* Path.Path
  const file = snapshotRecordPath(path, backupDir)
  yield* ensurePrivateDirectory(path.dirname(file))
  const json = yield* encodeRecord(record).pipe(
    Effect.mapError((e) => new SnapshotRecordInvalid({ path: file, message: `refusing to write an invalid snapshot record: ${e.message}` })),
  )
  yield* writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(JSON.parse(json), null, 2)}\n`))
  return file
})

/** Reads and decodes the record `backup-init` left in `backupDir`. */
export const readSnapshotRecord = Effect.fnUntraced(function* (
  backupDir: string,
): Effect.fn.Return<SnapshotRecord, SnapshotRecordInvalid | BackupFileError, FileSystem.FileSystem | Path.Path> {
  const path = yield* Path.Path
  const file = snapshotRecordPath(path, backupDir)
  const text = yield* readRecordText(
    file,
    "the snapshot record",
    (e) => new SnapshotRecordInvalid({ path: file, message: `${e.message}: not a snapshot record (run backup-init again)` }),
  )
  return yield* decodeRecord(text).pipe(
    Effect.mapError(
      (e) =>
        new SnapshotRecordInvalid({
          path: file,
          message: `${file} is not a valid snapshot record (run backup-init again): ${e.message}`,
        }),
    ),
  )
})
