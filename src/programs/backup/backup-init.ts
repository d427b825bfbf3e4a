/**
 * `backup-init`, the backup pod's first init container: picks the backup's timestamp, streams
 * the etcd snapshot to `<backup-dir>/snapshot_<ts>.db` and records, in
 * `<backup-dir>/.cluster-backup/snapshot.json`, the snapshot's hash, size and revision and the
 * four operator revisions that the snapshot contains; with them, read at the same revision, the
 * keys per resource prefix, ClusterVersion `version` and a sample of encrypted values (written to
 * `.cluster-backup/encrypted-sample.json`, 0600, for `backup-create`'s decryption check; see
 * `bundle-facts.ts`).
 *
 * Safety: the run holds the backup directory's lock (`backup-dir-lock.ts`) and first removes what
 * killed runs left (`.part` files, unfinished writes) and the backup an earlier run left
 * unfinished (`unfinished-backup.ts`); a directory holding a manifest (a complete backup's, which this
 * backup's would replace) is refused before that, changing nothing. The free space is checked; the snapshot goes to
 * `snapshot_<ts>.db.part` (0600), and only after etcd's sha256 trailer matched and the file was
 * fsynced is the record written and the part file renamed: a final name always means a complete,
 * checked snapshot that the record names, so the next run can tell its own files. Any failure or
 * interruption removes the part file, the final file and the record; after a SIGKILL the next
 * run does.
 *
 * Revision pairing: etcd 3.5 does not say which revision a snapshot holds (the stream's headers
 * are empty; `etcdutl snapshot status` is not in the pod). etcd takes its backend snapshot when
 * the Snapshot call starts, before sending the first byte, and it includes every write applied
 * so far. So with R1 = the member's revision just before the call and R2 = its revision just
 * after the first bytes arrived, the snapshot's revision lies in [R1, R2]. The operator CRs are
 * read at R1 (at once, before compaction can remove R1) and again at R2;
 * `latestAvailableRevision` only ever increases, so equal values at both ends are the values
 * inside the snapshot (`pairing: verified`). Different values mean a rollout raced the
 * snapshot (`pairing: unverified`, the R1 values are recorded) and `backup-create` marks the
 * backup possibly dirty. All calls go to one pinned member (see the Etcd service).
 */
import { Clock, Effect, Fiber, FileSystem, Path, Ref, Schema } from "effect"
import { backupFileNames, formatBackupTimestamp } from "../../domain/archive-names.ts"
import { defaultOperands, operandNames, type OperandTable } from "../../domain/operands.ts"
import { DiskSpace } from "../../services/disk-space.ts"
import { describeVolumeLimit } from "../../domain/volume-size-limits.ts"
import { resourcesAllowanceBytes, snapshotRoom } from "../../domain/snapshot-room.ts"
import { Etcd } from "../../services/etcd/etcd.ts"
import { trailerLength } from "../../services/etcd/snapshot-trailer.ts"
import { fileError, removeQuietly, syncDirectory } from "../../services/atomic-files.ts"
import { withBackupDirLock } from "../backup-dir/backup-dir-lock.ts"
import { readEtcdOperatorRevisions, sameEtcdOperatorRevisions, type EtcdOperatorRevisions } from "./etcd-operator-revisions.ts"
import { copySnapshot } from "./snapshot-copy.ts"
import { fileIdentity } from "../../services/file-identity.ts"
import { createSnapshotFile, type OpenFile } from "../../services/snapshot-file.ts"
import { formatBytes } from "../../domain/byte-format.ts"
import { makeProgressReporter } from "../../services/progress-reporter.ts"
import { snapshotRecordPath, writeSnapshotRecord, type OperatorRevisions, type SnapshotRecord } from "../backup-dir/snapshot-record.ts"
import { discardUnfinishedBackup } from "./unfinished-backup.ts"
import { refuseOverCompleteBackup } from "../backup-dir/manifest-in-the-way.ts"
import { readBundleFacts } from "./bundle-facts.ts"
import { encryptedSamplePath, writeEncryptedSample } from "../backup-dir/encrypted-sample-file.ts"

export class InsufficientDiskSpace extends Schema.TaggedError<InsufficientDiskSpace>()("InsufficientDiskSpace", {
  path: Schema.String,
  neededBytes: Schema.Number,
  availableBytes: Schema.Number,
  message: Schema.String,
}) {}

export class BackupFileExists extends Schema.TaggedError<BackupFileExists>()("BackupFileExists", {
  path: Schema.String,
  message: Schema.String,
}) {}

export interface BackupInitOptions {
  readonly backupDir: string
  readonly operands?: OperandTable
  /** The etcd key prefix the API server stores its objects under (default `/kubernetes.io`). */
  readonly etcdPrefix?: string
  /** Free space required, as a multiple of the member's reported database size (default 2). */
  readonly freeSpaceFactor?: number
  /** Give up when etcd sends nothing for this long (default 2 minutes). */
  readonly stallTimeoutMs?: number
  readonly progressLogIntervalMs?: number
  /** Write the snapshot with direct I/O where the filesystem allows it (default true; see `snapshot-file.ts`). */
  readonly directIo?: boolean
  /** How the snapshot file is opened (tests put a failing disk behind it). */
  readonly openFile?: OpenFile
}

const observedLine = (observed: EtcdOperatorRevisions) => operandNames.map((n) => `${n}=${observed[n].revision ?? "none"}`).join(",")

export const backupInit = Effect.fn("backupInit")(function* (options: BackupInitOptions) {
  return yield* withBackupDirLock(options.backupDir, "backup-init", takeSnapshot(options))
})

const takeSnapshot = Effect.fnUntraced(function* (options: BackupInitOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const etcd = yield* Etcd
  const disk = yield* DiskSpace
  const table = options.operands ?? defaultOperands
  const backupDir = options.backupDir

  // A record left by an earlier run must not outlive a failure of this one; nor may the files of
  // the backup it named, when that backup was never completed.
  // A manifest here is a complete backup's (a new one's is written last): this backup's would replace it. Refused
  // before anything changes, the earlier backup's record and an unfinished attempt beside it included.
  yield* refuseOverCompleteBackup(backupDir, undefined, table)
  yield* discardUnfinishedBackup(backupDir, table)
  const recordPath = snapshotRecordPath(path, backupDir)

  const before = yield* etcd.status
  yield* Effect.logInfo(
    `etcd member ${before.memberId} at ${before.endpoint}: version ${before.version}, revision ${before.revision}, database ${formatBytes(before.dbSize)}`,
  )

  const factor = options.freeSpaceFactor ?? 2
  const usage = yield* disk.usage(backupDir)
  const room = snapshotRoom({
    databaseBytes: before.dbSize,
    factor,
    fileSystemAvailableBytes: usage.volumeLimit?.fileSystemAvailableBytes ?? usage.availableBytes,
    volume: usage.volumeLimit,
  })
  if (room._tag !== "Fits") {
    const { neededBytes, availableBytes } = room
    return yield* new InsufficientDiskSpace({
      path: backupDir,
      neededBytes,
      availableBytes,
      message:
        room._tag === "DiskTooSmall"
          ? `not enough free space in ${backupDir}: the snapshot needs ${neededBytes} bytes (${factor} x the etcd database size ${before.dbSize}), ` +
            `only ${availableBytes} bytes are available; free space or give the backup volume more room.`
          : `not enough room in ${backupDir}: the snapshot needs ${neededBytes} bytes (the etcd database size ${before.dbSize} and ${formatBytes(resourcesAllowanceBytes)} for the resources), ` +
            `only ${availableBytes} bytes are available; ${describeVolumeLimit(room.volume)}.`,
    })
  }

  const timestamp = formatBackupTimestamp(new Date(yield* Clock.currentTimeMillis))
  const snapshotFile = backupFileNames(timestamp, false).snapshot
  const finalPath = path.join(backupDir, snapshotFile)
  const partPath = `${finalPath}.part`
  for (const existing of [finalPath, path.join(backupDir, backupFileNames(timestamp, true).snapshot)]) {
    if (yield* fs.exists(existing).pipe(Effect.mapError(fileError("check", existing)))) {
      return yield* Effect.fail(
        new BackupFileExists({ path: existing, message: `${existing} already exists: refusing to overwrite a backup taken in the same second; retry.` }),
      )
    }
  }

  const atStart = yield* readEtcdOperatorRevisions(before.revision, table, options.etcdPrefix)
  const facts = yield* readBundleFacts(before.revision, before.version, options.etcdPrefix)
  const samplePath = encryptedSamplePath(path, backupDir)
  const bytes = yield* Ref.make(0)
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const file = yield* createSnapshotFile(partPath, {
        direct: options.directIo ?? true,
        ...(options.openFile === undefined ? {} : { open: options.openFile }),
      })
      // Registered only once the open succeeded: files of another run are never removed. A failure
      // or interruption removes the part file, the final file and the record.
      yield* Effect.addFinalizer((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.andThen(
              removeQuietly(partPath),
              Effect.andThen(removeQuietly(finalPath), Effect.andThen(removeQuietly(recordPath), removeQuietly(samplePath))),
            ),
      )
      yield* fs.chmod(partPath, 0o600).pipe(Effect.mapError(fileError("set the mode of", partPath)))

      const progress = yield* makeProgressReporter({
        label: `snapshot ${snapshotFile}`,
        expectedBytes: before.dbSize,
        bytes,
        startedAt: Date.now(), // wall time, as the reporter measures the rate (see progress-reporter.ts)
        ...(options.progressLogIntervalMs === undefined ? {} : { logIntervalMs: options.progressLogIntervalMs }),
      })
      const reporter = yield* Effect.forkScoped(progress.run)

      let window: { readonly revision: number; readonly memberId: string; readonly observed: EtcdOperatorRevisions } | undefined
      const verified = yield* copySnapshot({
        source: etcd.snapshot,
        file,
        endpoint: before.endpoint,
        received: bytes,
        stallTimeoutMs: options.stallTimeoutMs ?? 120_000,
        // The upper end of the pairing window: etcd has taken its backend snapshot by now.
        afterFirstBytes: Effect.gen(function* () {
          const after = yield* etcd.status
          window = {
            revision: after.revision,
            memberId: after.memberId,
            observed: after.revision === before.revision ? atStart : yield* readEtcdOperatorRevisions(after.revision, table, options.etcdPrefix),
          }
        }).pipe(Effect.provideService(Etcd, etcd)),
      })
      yield* file.sync
      // After the last write and the fsync; the rename into place keeps both inode and modification time.
      const identity = yield* fileIdentity(partPath)
      yield* Fiber.interrupt(reporter).pipe(Effect.andThen(progress.finish))

      const size = verified.dbBytes + trailerLength
      const end = window!
      const sameMember = end.memberId === before.memberId
      const pairingVerified = sameMember && sameEtcdOperatorRevisions(atStart, end.observed)
      const record: SnapshotRecord = {
        timestamp,
        snapshotFile,
        size,
        sha256: verified.sha256,
        etcdRevision: before.revision,
        etcdRevisionUpperBound: Math.max(end.revision, before.revision),
        raftIndex: before.raftIndex,
        memberDbSize: before.dbSize,
        memberId: before.memberId,
        etcdVersion: before.version,
        endpoint: before.endpoint,
        operatorRevisions: Object.fromEntries(operandNames.map((n) => [n, atStart[n].revision])) as OperatorRevisions,
        operatorRevisionReasons: Object.fromEntries(operandNames.flatMap((n) => (atStart[n].reason === undefined ? [] : [[n, atStart[n].reason]]))),
        pairing: pairingVerified ? "verified" : "unverified",
        pairingDetail: !sameMember
          ? `the member changed during the snapshot (${before.memberId} then ${end.memberId}): the revisions cannot be tied to the snapshot`
          : pairingVerified
            ? `operator revisions ${observedLine(atStart)} are the same at etcd revisions ${before.revision} and ${end.revision}, between which the snapshot was taken`
            : `operator revisions changed while the snapshot was taken: ${observedLine(atStart)} at etcd revision ${before.revision}, ${observedLine(end.observed)} at ${end.revision}`,
        cluster: facts.cluster,
        keyCounts: facts.keyCounts,
        file: { sha256: verified.wholeSha256, inode: identity.inode, mtimeNs: identity.mtimeNs },
      }
      for (const name of operandNames) {
        const reason = atStart[name].reason
        if (reason !== undefined) yield* Effect.logWarning(`no revision for ${name}: ${reason}`)
      }
      if (!pairingVerified) yield* Effect.logWarning(`revision pairing unverified: ${record.pairingDetail}`)
      if (facts.cluster.problem !== undefined) yield* Effect.logWarning(facts.cluster.problem)
      // No encrypted values, no file: backup-create tells that from an older run by the record's key counts.
      if (facts.sample.length > 0) yield* writeEncryptedSample(backupDir, facts.sample)
      // The record first: a snapshot under its final name is always one a record names.
      yield* writeSnapshotRecord(backupDir, record)
      yield* fs.rename(partPath, finalPath).pipe(Effect.mapError(fileError("rename into place", finalPath)))
      yield* syncDirectory(backupDir)
      yield* Effect.logInfo(
        `snapshot ${snapshotFile} complete: ${size} bytes, sha256 ${verified.sha256}, etcd revision ${before.revision}, ` +
          `operator revisions ${observedLine(atStart)} (pairing ${record.pairing}), OpenShift ${facts.cluster.openshiftVersion ?? "unknown"}, ` +
          `${Object.values(facts.keyCounts).reduce((a, b) => a + b, 0)} keys, ${facts.sample.length} encrypted values sampled`,
      )
      return record
    }),
  )
})
