/**
 * `backup-create`, the backup pod's last init container: turns the snapshot of `backup-init` and
 * the revisions staged by the four `backup-resources` runs into the finished backup:
 *
 *   snapshot_<ts>[__POSSIBLY_DIRTY__].db
 *   static_kuberesources_<ts>[__POSSIBLY_DIRTY__].tar.gz
 *   backup-manifest.json
 *
 * Nothing is changed until every input is there and checked: the snapshot record, the four
 * resources records for exactly the requested revisions, and the snapshot file itself (re-hashed
 * against its record). The verdict is decided from the revisions inside the snapshot; a dirty
 * backup gets the `__POSSIBLY_DIRTY__` names and a warning with the reasons. The tarball is
 * written deterministically from the staging area and its content compared with the records;
 * the manifest is written last and atomically, so its presence means the backup is complete.
 * Finally the staging area is removed (the snapshot record stays).
 *
 * The run holds the backup directory's lock (`backup-dir-lock.ts`), which sweeps what killed runs
 * left. The staging area's decoded Secrets never outlive a run: it removes them when it fails or
 * is interrupted too (a failed init container ends the backup pod: they could serve nothing), and
 * a rerun that finds the backup already complete (its run was killed before the removal) removes
 * them, checks the files against the manifest and succeeds. After a SIGKILL the next run of any
 * of the pod's commands removes them.
 */
import { Clock, Effect, Exit, FileSystem, Path, Result, Schema } from "effect"
import { backupFileNames, manifestFileName, parseBackupTimestamp } from "../../domain/archive-names.ts"
import { classifyEntry } from "../../domain/archive-layout.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import {
  decodeBackupManifest,
  encodeBackupManifest,
  manifestFormatVersion,
  pairingVerdict,
  type BackupManifest,
  type ManifestEntry,
} from "../../domain/backup-manifest.ts"
import { defaultOperands, operandList, type OperandTable } from "../../domain/operands.ts"
import { formatRevisionSet, type RevisionSet } from "../../domain/revisions.ts"
import { formatRfc3339Utc } from "../../domain/rfc3339.ts"
import { Tarball, type LayoutCheck } from "../../services/tarball/tarball.ts"
import { fileError, removeQuietly, syncDirectory, writeFileAtomic } from "../../services/atomic-files.ts"
import { lockBackupDir } from "../backup-dir/backup-dir-lock.ts"
import { readBackupManifest } from "../backup-dir/backup-manifest-file.ts"
import { readResourcesRecord, type ResourcesRecord } from "./resources-record.ts"
import { checkSnapshotFile, SnapshotFileMismatch } from "./snapshot-file-check.ts"
import { readSnapshotRecord, snapshotRecordPath } from "../backup-dir/snapshot-record.ts"
import { removeStagingArea, resourcesRecordPath, stagingDir } from "../backup-dir/staging-area.ts"
import { bundleCannotDecrypt, checkBundleDecryption } from "./bundle-decryption-check.ts"
import { refuseOverCompleteBackup } from "../backup-dir/manifest-in-the-way.ts"
import { defaultCertWarnDays } from "../../domain/certificate-checks.ts"
import { bundleCertificatesInvalid, checkBundleCertificates } from "./bundle-certificate-check.ts"

export interface BackupCreateOptions {
  readonly backupDir: string
  /** The revisions the four `backup-resources` runs staged (the backup pod's `--revisions`). */
  readonly revisions: RevisionSet
  /** The tool's version, written into the manifest. */
  readonly toolVersion: string
  readonly operands?: OperandTable
  /** `--cert-warn-days`: certificates expiring within this many days are warned about (default 30). */
  readonly certWarnDays?: number | undefined
}

/** An earlier step of the backup did not run, failed, or staged other revisions; `missing` says which. */
export class BackupInputsMissing extends Schema.TaggedError<BackupInputsMissing>()("BackupInputsMissing", {
  missing: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** `backup-manifest.json` describes this backup as complete, but a file it names is missing or has another size. */
export class CompleteBackupDamaged extends Schema.TaggedError<CompleteBackupDamaged>()("CompleteBackupDamaged", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** The staging area's content is not what the resources records say `backup-resources` wrote. */
export class StagingAreaChanged extends Schema.TaggedError<StagingAreaChanged>()("StagingAreaChanged", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** The first difference between the files the records list and the files archived, if any. */
export const stagedContentDifference = (
  recorded: ReadonlyArray<ManifestEntry>,
  archived: ReadonlyArray<ManifestEntry>,
): { readonly path: string; readonly problem: string } | undefined => {
  const byPath = new Map(archived.map((e) => [e.path, e]))
  for (const want of recorded) {
    const got = byPath.get(want.path)
    if (got === undefined) return { path: want.path, problem: "was recorded by backup-resources but is not in the staging area" }
    if (got.size !== want.size || got.sha256 !== want.sha256) {
      return {
        path: want.path,
        problem: `changed after backup-resources wrote it (${want.size} bytes recorded, ${got.size} archived; sha256 ${got.sha256 === want.sha256 ? "equal" : "differs"})`,
      }
    }
    if (got.mode !== want.mode) return { path: want.path, problem: `has mode 0${got.mode.toString(8)}, backup-resources wrote 0${want.mode.toString(8)}` }
    byPath.delete(want.path)
  }
  const extra = [...byPath.keys()][0]
  return extra === undefined ? undefined : { path: extra, problem: "is in the staging area but in no resources record" }
}

/** Only the layout of `revisions`, each path with the right type, and only resources the table lists. */
const layoutOf =
  (revisions: RevisionSet, table: OperandTable): LayoutCheck =>
  (entry, kind) => {
    const classified = classifyEntry(kind === "directory" ? `${entry}/` : entry, revisions, table)
    if (Result.isFailure(classified)) return classified
    const c = classified.success
    if (c.directory !== (kind === "directory")) return Result.fail(`"${entry}" is a ${kind} where the layout has a ${c.directory ? "directory" : "file"}`)
    if ((c.kind === "resource-directory" || c.kind === "resource-file") && !c.listed) {
      return Result.fail(`"${entry}": ${c.resourceKind} ${c.name} is not a resource of ${c.operand} in the operand table`)
    }
    return classified
  }

/**
 * A rerun after the manifest was written: removes the staging area (the run that wrote the
 * manifest was killed before it could), checks that the two files the manifest names are there
 * with its sizes, and returns the manifest: the job is done.
 */
const confirmComplete = Effect.fnUntraced(function* (backupDir: string, manifest: BackupManifest, requested: RevisionSet) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  // Done only if it is the backup asked for: a complete backup of other revisions is not this run's job done.
  if (formatRevisionSet(manifest.revisions.requested) !== formatRevisionSet(requested)) {
    const other = `the complete backup ${manifest.timestamp} in ${backupDir} is of ${formatRevisionSet(manifest.revisions.requested)}, not the requested ${formatRevisionSet(requested)}`
    return yield* new BackupInputsMissing({
      missing: [other],
      message: `${other}: nothing was changed. Take the backup of ${formatRevisionSet(requested)} into an empty directory (run the backup pod again).`,
    })
  }
  const staged = yield* fs.exists(stagingDir(path, backupDir)).pipe(Effect.orElseSucceed(() => false))
  yield* removeStagingArea(backupDir)
  for (const file of [manifest.files.snapshot, manifest.files.resources]) {
    const target = path.join(backupDir, file.name)
    const info = yield* fs.stat(target).pipe(Effect.option)
    const found =
      info._tag === "None"
        ? "is missing"
        : info.value.type !== "File"
          ? "is not a regular file"
          : Number(info.value.size) !== file.size
            ? `has ${info.value.size} bytes`
            : undefined
    if (found !== undefined) {
      return yield* new CompleteBackupDamaged({
        path: target,
        message: `${manifestFileName} in ${backupDir} describes the complete backup ${manifest.timestamp}, but ${target} ${found} (the manifest says ${file.size} bytes): the backup is damaged; take a new one (run the backup pod again).`,
      })
    }
  }
  if (manifest.decryption?.verdict === "FAIL") return yield* bundleCannotDecrypt(path.join(backupDir, manifestFileName), manifest.decryption)
  if (manifest.certificates?.verdict === "FAIL") return yield* bundleCertificatesInvalid(path.join(backupDir, manifestFileName), manifest.certificates)
  yield* Effect.logInfo(
    `backup ${manifest.timestamp} was already complete (${manifestFileName}, ${manifest.files.snapshot.name}, ${manifest.files.resources.name})` +
      (staged ? "; removed the staging area an interrupted run left" : ""),
  )
  return manifest
})

export const backupCreate = Effect.fn("backupCreate")(function* (options: BackupCreateOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const tarball = yield* Tarball
  const table = options.operands ?? defaultOperands
  const backupDir = options.backupDir
  const requested = options.revisions
  const exists = (file: string) => fs.exists(file).pipe(Effect.mapError(fileError("check", file)))

  yield* lockBackupDir(backupDir, "backup-create")
  yield* Effect.addFinalizer((exit) =>
    Exit.isSuccess(exit)
      ? Effect.void
      : Effect.gen(function* () {
          if (!(yield* fs.exists(stagingDir(path, backupDir)).pipe(Effect.orElseSucceed(() => false)))) return
          yield* removeStagingArea(backupDir).pipe(Effect.ignore)
          yield* Effect.logWarning(
            `backup-create did not finish: removed the staging area ${stagingDir(path, backupDir)} (decoded Secrets); run the backup pod again`,
          )
        }),
  )

  // 1. Every input, before anything changes.
  const missing: Array<string> = []
  const snapshotRecordFile = snapshotRecordPath(path, backupDir)
  const snapshotRecord = (yield* exists(snapshotRecordFile)) ? yield* readSnapshotRecord(backupDir) : undefined
  if (snapshotRecord === undefined) missing.push(`backup-init did not run or failed (${snapshotRecordFile} is missing)`)
  const manifestPath = path.join(backupDir, manifestFileName)
  if (snapshotRecord !== undefined && (yield* exists(manifestPath))) {
    const previous = yield* Effect.result(readBackupManifest(manifestPath, table))
    if (Result.isSuccess(previous) && previous.success.timestamp === snapshotRecord.timestamp) {
      return yield* confirmComplete(backupDir, previous.success, requested)
    }
    // Another backup's manifest: writing this one's would take it from that backup.
    yield* refuseOverCompleteBackup(backupDir, snapshotRecord.timestamp, table)
  }
  const records: Array<ResourcesRecord> = []
  for (const operand of operandList(table)) {
    const want = requested[operand.name]
    const record = yield* readResourcesRecord(backupDir, operand.name, table)
    if (record === undefined) {
      missing.push(
        `backup-resources for ${operand.name} revision ${want} did not run or failed (${resourcesRecordPath(path, backupDir, operand.name)} is missing)`,
      )
    } else if (record.revision !== want) {
      missing.push(`backup-resources for ${operand.name} staged revision ${record.revision}, not the requested revision ${want}`)
    } else {
      records.push(record)
    }
  }
  if (snapshotRecord === undefined || missing.length > 0) {
    return yield* new BackupInputsMissing({
      missing,
      message: `cannot create the backup of ${formatRevisionSet(requested)} in ${backupDir}: ${missing.join("; ")}. Run the backup pod again.`,
    })
  }
  const ts = snapshotRecord.timestamp

  const clean = backupFileNames(ts, false)
  const dirty = backupFileNames(ts, true)
  // A rerun after a failure may find the snapshot already renamed.
  const found: Array<string> = []
  for (const name of [clean.snapshot, dirty.snapshot]) if (yield* exists(path.join(backupDir, name))) found.push(name)
  if (found.length !== 1) {
    return yield* new SnapshotFileMismatch({
      path: path.join(backupDir, clean.snapshot),
      message:
        found.length === 0
          ? `the snapshot of backup ${ts} is missing: neither ${clean.snapshot} nor ${dirty.snapshot} is in ${backupDir}. Run the backup pod again.`
          : `both ${clean.snapshot} and ${dirty.snapshot} are in ${backupDir}: only one can be the snapshot backup-init recorded; remove the other, or run the backup pod again.`,
    })
  }
  const snapshotPath = path.join(backupDir, found[0]!)
  const snapshot = yield* checkSnapshotFile(snapshotPath, snapshotRecord)

  // 2. The verdict, and the names it gives the two files.
  const pairing = pairingVerdict(requested, snapshotRecord.operatorRevisions, table)
  const reasons = [
    ...pairing.reasons,
    ...(snapshotRecord.pairing === "unverified" ? [`the operator revisions inside the snapshot are uncertain: ${snapshotRecord.pairingDetail}`] : []),
  ]
  const verdict = reasons.length === 0 ? "consistent" : "dirty"
  const names = backupFileNames(ts, verdict === "dirty")
  const decryption = yield* checkBundleDecryption(backupDir, snapshotRecord.keyCounts !== undefined, requested["kube-apiserver"], table)

  // 3. Files of this timestamp that an earlier, failed attempt left, and the signature of an earlier manifest: it
  // cannot cover the one written now, and backup-upload would store it beside it (a valid backup then reads as forged).
  for (const name of [clean.resources, dirty.resources, signatureFileName]) {
    const stale = path.join(backupDir, name)
    yield* fs.remove(stale, { force: true }).pipe(Effect.mapError(fileError("remove the earlier attempt's", stale)))
  }
  const finalSnapshotPath = path.join(backupDir, names.snapshot)
  if (snapshotPath !== finalSnapshotPath) {
    yield* fs.rename(snapshotPath, finalSnapshotPath).pipe(Effect.mapError(fileError("rename", snapshotPath)))
    yield* syncDirectory(backupDir)
  }
  if (verdict === "dirty") {
    yield* Effect.logWarning(`backup ${ts} is possibly dirty, its files are named ${names.snapshot} and ${names.resources}: ${reasons.join("; ")}`)
  }

  // 4. The tarball, checked against what backup-resources recorded; then the manifest, last.
  const tarballPath = path.join(backupDir, names.resources)
  const manifest = yield* Effect.gen(function* () {
    const written = yield* tarball.write({
      source: stagingDir(path, backupDir),
      destination: tarballPath,
      mtime: parseBackupTimestamp(ts),
      layout: layoutOf(requested, table),
    })
    const entries: Array<ManifestEntry> = written.entries.flatMap((e) =>
      e.kind === "file" ? [{ path: e.path, size: e.size, mode: e.mode, sha256: e.sha256 }] : [],
    )
    const difference = stagedContentDifference(
      records.flatMap((r) => r.files),
      entries,
    )
    if (difference !== undefined) {
      return yield* new StagingAreaChanged({
        path: difference.path,
        message: `the staging area does not hold what backup-resources wrote: ${difference.path} ${difference.problem}. Run the backup pod again.`,
      })
    }
    const now = yield* Clock.currentTimeMillis
    const certificates = yield* checkBundleCertificates(tarballPath, now, options.certWarnDays ?? defaultCertWarnDays)
    const manifest: BackupManifest = {
      formatVersion: manifestFormatVersion,
      tool: { name: "cluster-backup", version: options.toolVersion },
      timestamp: ts,
      createdAt: formatRfc3339Utc(now),
      revisions: { requested, inSnapshot: snapshotRecord.operatorRevisions },
      etcd: { revision: snapshotRecord.etcdRevision, memberDbSize: snapshotRecord.memberDbSize },
      files: {
        snapshot: { name: names.snapshot, size: snapshot.size, sha256: snapshot.sha256 },
        resources: { name: names.resources, size: written.bytes, sha256: written.sha256 },
      },
      entries,
      skippedOptional: records.flatMap((r) => r.skippedOptional),
      verdict,
      reasons,
      ...(snapshotRecord.cluster === undefined ? {} : { cluster: snapshotRecord.cluster }),
      ...(snapshotRecord.keyCounts === undefined ? {} : { keyCounts: snapshotRecord.keyCounts }),
      ...(decryption === undefined ? {} : { decryption }),
      certificates,
    }
    const text = encodeBackupManifest(manifest)
    // What verify will read must decode: refuse to publish a manifest that contradicts itself.
    yield* Effect.fromResult(decodeBackupManifest(text, table))
    yield* writeFileAtomic(manifestPath, new TextEncoder().encode(text))
    return manifest
  }).pipe(Effect.onError(() => removeQuietly(tarballPath)))

  yield* removeStagingArea(backupDir)
  if (manifest.decryption?.verdict === "FAIL") return yield* bundleCannotDecrypt(manifestPath, manifest.decryption)
  if (manifest.decryption !== undefined) yield* Effect.logInfo(`decryption check: ${manifest.decryption.message}`)
  const certificates = manifest.certificates
  if (certificates?.verdict === "FAIL") return yield* bundleCertificatesInvalid(manifestPath, certificates)
  if (certificates?.verdict === "WARN") {
    yield* Effect.logWarning(`certificate check: ${certificates.message}: ${certificates.problems.map((p) => `${p.source}: ${p.message}`).join("; ")}`)
  } else if (certificates !== undefined) {
    yield* Effect.logInfo(`certificate check: ${certificates.message}`)
  }
  yield* Effect.logInfo(
    `backup ${ts} complete (${verdict}): ${names.snapshot} (${snapshot.size} bytes, etcd revision ${snapshotRecord.etcdRevision}), ` +
      `${names.resources} (${manifest.files.resources.size} bytes, ${manifest.entries.length} files of ${formatRevisionSet(requested)}), ${manifestFileName}`,
  )
  return manifest
}, Effect.scoped)
