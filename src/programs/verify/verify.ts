/**
 * `cluster-backup verify <dir>`: every check a backup must pass before anyone relies on it, each
 * reported with what was expected and what was found (see `verify-report.ts`):
 *
 *   backup-files, manifest, manifest-describes-files      which backup, and its manifest
 *   manifest-signature                                    signed by a --trusted-key (else: unauthenticated)
 *   snapshot-trailer, snapshot-size, snapshot-sha256      one streaming pass over the snapshot
 *   snapshot-status, snapshot-revision, snapshot-db-size  `etcdutl snapshot status` vs the manifest
 *   tarball-size, tarball-sha256                          the tarball file vs the manifest
 *   tarball-readable, tarball-operands, tarball-layout,   the tarball read to the end, validated,
 *   tarball-entries                                       and compared entry by entry
 *   revision-pairing                                      snapshot and resources belong together
 *   versions, bundle-decryption                           what the manifest recorded at backup time (verify-bundle.ts)
 *   certificates                                          the tarball's certificates at backup time, warnings for now
 *   test-restore, test-restore-*                          (--test-restore) restored and read back, key counts too
 *
 * A check that cannot run because an earlier one failed is reported as SKIP. Nothing is
 * written (the test restore works in a scratch directory it removes). The report passes only
 * when every check passes. A backup file is opened, or handed to etcdutl, only if it is a regular
 * file (a FIFO, a device or a link is refused by name, never waited on), and read no further than
 * the size the manifest states (`services/backup-file.ts`).
 */
import { tmpdir } from "node:os"
import { Effect, FileSystem, Option, Path, Result } from "effect"
import { manifestFileName, type BackupTimestamp } from "../../domain/archive-names.ts"
import { maxManifestBytes, pairingVerdict, type BackupManifest } from "../../domain/backup-manifest.ts"
import { defaultOperands, operandNames, type OperandTable } from "../../domain/operands.ts"
import { formatRevisionSet } from "../../domain/revisions.ts"
import { trailerLength } from "../../services/etcd/snapshot-trailer.ts"
import { Etcdutl, type EtcdutlFailed, type SnapshotStatus } from "../../services/etcdutl.ts"
import { type BackupFileFailure, BackupFileRefused, checkRegularFile, readBackupFileBytes } from "../../services/backup-file.ts"
import { describeFileSystemFailure, errnoCode } from "../../services/file-system-error.ts"
import { defaultTarLimits, type TarballContents } from "../../services/tarball/tarball.ts"
import { decodeBackupManifestBytes, type ManifestReadFailure } from "../backup-dir/backup-manifest-file.ts"
import { digestFile, digestSnapshot, type FileDigest } from "./verify-file-digest.ts"
import { checkPassed, fail, pass, skip, verdictOf, type VerifyCheck, type VerifyReport } from "./verify-report.ts"
import { backupDirsBelow, backupsBelowHint } from "../backup-dir/backups-below.ts"
import { holdsNoBackupFiles, selectBackup, type SelectedBackup } from "./verify-selection.ts"
import { checkEntries, checkLayout, checkOperandDirectories, resourcesConfinement } from "./verify-tarball.ts"
import { testRestore, type TestRestoreOptions } from "./verify-test-restore.ts"
import { certificateCheck, keyCountCheck, manifestBundleChecks, restoredDecryptionCheck } from "./verify-bundle.ts"
import { defaultCertWarnDays } from "../../domain/certificate-checks.ts"
import { readBundleFiles } from "../backup/bundle-certificate-check.ts"
import type { TarballFile } from "../../services/tarball/tarball.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { signatureCheck } from "../backup-dir/manifest-authenticity.ts"

export interface VerifyOptions {
  readonly backupDir: string
  /** The backup to verify; default the newest in the directory. */
  readonly timestamp?: BackupTimestamp | undefined
  /** A possibly dirty backup (snapshot and resources not proven to pair) passes the pairing check. */
  readonly allowDirty?: boolean | undefined
  /** Also restore the snapshot into a throwaway etcd and read it back. */
  readonly testRestore?: boolean | undefined
  /** Where the test restore makes its scratch directory (default the system's temp directory). */
  readonly scratchDir?: string | undefined
  readonly etcdBinary?: string | undefined
  readonly operands?: OperandTable
  /** The etcd key prefix the test restore reads the operator CRs under (default `/kubernetes.io`). */
  readonly etcdPrefix?: string | undefined
  /** `--trusted-key`: when any, the manifest must carry a valid signature by one of them; none: reported unauthenticated. */
  readonly trustedKeys?: ReadonlyArray<TrustedKey> | undefined
  /** `--cert-warn-days`: the certificates check warns about what expires within this many days of now (default 30). */
  readonly certWarnDays?: number | undefined
  /** Tests only: changes the restored member before it is read (`TestRestoreOptions.afterStart`). */
  readonly testRestoreAfterStart?: TestRestoreOptions["afterStart"]
}

const titles = {
  files: "the directory holds one snapshot and one tarball of the backup",
  manifest: `${manifestFileName} is a regular file, byte for byte as written (canonical, its own sha256), decodes and does not contradict itself`,
  describes: "the manifest describes these two files",
  trailer: "the snapshot's database hashes to etcd's 32-byte sha256 trailer",
  snapshotSize: "the snapshot's size is the manifest's",
  snapshotSha: "the snapshot's sha256 is the manifest's",
  status: "etcdutl snapshot status reads the snapshot (hash, revision, keys, size)",
  revision: "the snapshot's etcd revision is at least the member's revision recorded just before the snapshot",
  dbSize: "etcdutl's database size is the file's size without the trailer",
  tarballSize: "the tarball's size is the manifest's",
  tarballSha: "the tarball's sha256 is the manifest's",
  readable: "the tarball reads to the end: gzip, tar headers and every entry valid and confined to static-pod-resources/",
  operands: "the tarball holds exactly the four operand directories at the manifest's revisions",
  layout: "every entry of the operand directories is in the installer layout",
  entries: "every file in the tarball has the size, mode and sha256 the manifest records",
  pairing: "the snapshot's operator revisions are the resources' revisions",
  testRestore: "the snapshot restores with etcdutl into a throwaway member that starts and serves",
  testRevision: "the restored member serves the snapshot's revision",
  testKeys: "the restored member serves keys",
  testOperators: "the operator CRs read back from the restored member report the manifest's inSnapshot revisions",
} as const

const noManifest = "the manifest is unusable"

const errorMessage = (e: unknown) => (typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e))

/** The bound of a read exceeded: the file's size against the manifest's is the finding. */
const oversize = (e: unknown): { readonly size: number; readonly maxBytes: number } | undefined =>
  e instanceof BackupFileRefused && e.reason === "too-large" && e.size !== undefined && e.maxBytes !== undefined
    ? { size: e.size, maxBytes: e.maxBytes }
    : undefined

const snapshotChecks = (path: string, manifest: BackupManifest | undefined) =>
  Effect.gen(function* () {
    const digest = yield* Effect.result(digestSnapshot(path, manifest?.files.snapshot.size))
    if (Result.isFailure(digest)) {
      const why = digest.failure.message
      const over = oversize(digest.failure)
      const checks = [
        fail("snapshot-trailer", titles.trailer, "a readable file", why),
        over === undefined
          ? skip("snapshot-size", titles.snapshotSize, why)
          : fail("snapshot-size", titles.snapshotSize, `${over.maxBytes} bytes`, `${over.size} bytes`),
        skip("snapshot-sha256", titles.snapshotSha, why),
      ]
      return { checks, size: over?.size, verifiedEnd: undefined }
    }
    const d = digest.success
    const t = d.trailer
    const verifiedEnd = "sha256" in t ? { size: d.size, trailer: t.trailer } : undefined
    const trailer =
      "sha256" in t
        ? pass("snapshot-trailer", titles.trailer, `trailer ${t.sha256}`, `sha256 ${t.sha256} of ${t.dbBytes} database bytes`)
        : t._tag === "SnapshotHashMismatch"
          ? fail(
              "snapshot-trailer",
              titles.trailer,
              `trailer ${t.expected}`,
              `sha256 ${t.actual} of the ${t.dbBytes} bytes before it: the snapshot was cut, altered, or has no trailer`,
            )
          : fail("snapshot-trailer", titles.trailer, `a database followed by a ${trailerLength}-byte sha256`, `only ${t.bytes} bytes`)
    if (manifest === undefined) {
      return {
        checks: [trailer, skip("snapshot-size", titles.snapshotSize, noManifest), skip("snapshot-sha256", titles.snapshotSha, noManifest)],
        size: d.size,
        verifiedEnd,
      }
    }
    const want = manifest.files.snapshot
    const checks = [
      trailer,
      verdictOf(d.size === want.size, "snapshot-size", titles.snapshotSize, `${want.size} bytes`, `${d.size} bytes`),
      verdictOf(d.sha256 === want.sha256, "snapshot-sha256", titles.snapshotSha, want.sha256, d.sha256),
    ]
    return { checks, size: d.size, verifiedEnd }
  })

/** `etcdutl snapshot status` of a regular file (etcdutl would block forever opening a FIFO, or read a device without end). */
const snapshotStatus = (path: string) =>
  Effect.gen(function* () {
    const etcdutl = yield* Etcdutl
    return yield* Effect.result(Effect.andThen(checkRegularFile(path), etcdutl.snapshotStatus(path)))
  })

const statusChecks = (
  result: Result.Result<SnapshotStatus, BackupFileFailure | EtcdutlFailed>,
  manifest: BackupManifest | undefined,
  fileSize: number | undefined,
) =>
  Effect.gen(function* () {
    if (Result.isFailure(result)) {
      // A crash of etcdutl ends with a stack trace: its panic line says more than the last frame.
      const panic = "stderr" in result.failure ? result.failure.stderr.split("\n").find((l) => l.startsWith("panic: ")) : undefined
      const why = panic === undefined ? result.failure.message : `${result.failure.message} (${panic.trim()})`
      return {
        status: undefined,
        checks: [
          fail("snapshot-status", titles.status, "an etcd database", why),
          skip("snapshot-revision", titles.revision, "etcdutl cannot read the snapshot"),
          skip("snapshot-db-size", titles.dbSize, "etcdutl cannot read the snapshot"),
        ],
      }
    }
    const s: SnapshotStatus = result.success
    const checks: Array<VerifyCheck> = [
      pass(
        "snapshot-status",
        titles.status,
        "an etcd database",
        `hash ${s.hash}, revision ${s.revision}, ${s.totalKey} keys (all revisions), ${s.totalSize} bytes`,
      ),
    ]
    checks.push(
      manifest === undefined
        ? skip("snapshot-revision", titles.revision, noManifest)
        : verdictOf(s.revision >= manifest.etcd.revision, "snapshot-revision", titles.revision, `at least ${manifest.etcd.revision}`, `${s.revision}`),
    )
    checks.push(
      fileSize === undefined
        ? skip("snapshot-db-size", titles.dbSize, "the snapshot file could not be read")
        : verdictOf(
            s.totalSize === fileSize - trailerLength,
            "snapshot-db-size",
            titles.dbSize,
            `${fileSize - trailerLength} bytes`,
            `${s.totalSize} bytes${s.totalSize === fileSize ? ": the file is exactly the database, etcd's sha256 trailer is missing" : ""}`,
          ),
    )
    return { status: s, checks }
  })

const tarballChecks = (path: string, manifest: BackupManifest | undefined, table: OperandTable) =>
  Effect.gen(function* () {
    const checks: Array<VerifyCheck> = []
    const maxArchiveBytes = manifest?.files.resources.size
    // One read gives the size, the sha256, the listing and the bundle's small files (for the certificate and
    // decryption checks): every tarball check describes the same bytes. Only a read that failed is hashed again, for the report.
    const listing = yield* Effect.result(readBundleFiles(path, { layout: resourcesConfinement, limits: { ...defaultTarLimits, maxArchiveBytes } }))
    const digest: Result.Result<FileDigest, BackupFileFailure> = Result.isSuccess(listing)
      ? Result.succeed({ size: listing.success.bytes, sha256: listing.success.sha256 })
      : yield* Effect.result(digestFile(path, maxArchiveBytes))
    if (manifest === undefined) {
      checks.push(skip("tarball-size", titles.tarballSize, noManifest), skip("tarball-sha256", titles.tarballSha, noManifest))
    } else if (Result.isFailure(digest)) {
      const over = oversize(digest.failure)
      checks.push(
        fail("tarball-size", titles.tarballSize, `${manifest.files.resources.size} bytes`, over === undefined ? digest.failure.message : `${over.size} bytes`),
        skip("tarball-sha256", titles.tarballSha, over === undefined ? "the file cannot be read" : "the file is larger than the manifest states"),
      )
    } else {
      const want = manifest.files.resources
      checks.push(
        verdictOf(digest.success.size === want.size, "tarball-size", titles.tarballSize, `${want.size} bytes`, `${digest.success.size} bytes`),
        verdictOf(digest.success.sha256 === want.sha256, "tarball-sha256", titles.tarballSha, want.sha256, digest.success.sha256),
      )
    }
    if (Result.isFailure(listing)) {
      const why = "the tarball cannot be read"
      checks.push(
        fail("tarball-readable", titles.readable, "a valid gzip-compressed tar of static-pod-resources/", listing.failure.message),
        skip("tarball-operands", titles.operands, why),
        skip("tarball-layout", titles.layout, why),
        skip("tarball-entries", titles.entries, why),
      )
      return { checks, bundleFiles: undefined }
    }
    const l: TarballContents = listing.success
    const files = l.entries.filter((e) => e.kind === "file")
    checks.push(
      pass(
        "tarball-readable",
        titles.readable,
        "a valid gzip-compressed tar of static-pod-resources/",
        `${l.entries.length} entries (${files.length} files) read to the end`,
      ),
    )
    if (manifest === undefined) {
      checks.push(
        skip("tarball-operands", titles.operands, noManifest),
        skip("tarball-layout", titles.layout, noManifest),
        skip("tarball-entries", titles.entries, noManifest),
      )
      return { checks, bundleFiles: l.files }
    }
    checks.push(
      checkOperandDirectories(l.entries, manifest.revisions.requested, table),
      checkLayout(l.entries, manifest.revisions.requested, table),
      checkEntries(l.entries, manifest.entries),
    )
    return { checks, bundleFiles: l.files }
  })

const pairingCheck = (manifest: BackupManifest | undefined, allowDirty: boolean, table: OperandTable): VerifyCheck => {
  if (manifest === undefined) return skip("revision-pairing", titles.pairing, noManifest)
  const { requested, inSnapshot } = manifest.revisions
  const computed = pairingVerdict(requested, inSnapshot, table)
  const reasons = [...new Set([...computed.reasons, ...manifest.reasons])]
  const inSnapshotText = operandNames.map((n) => `${n}=${inSnapshot[n] ?? "none"}`).join(",")
  const expected = `consistent: the snapshot's operator revisions equal the resources' ${formatRevisionSet(requested)}`
  if (computed.verdict === "consistent" && manifest.verdict === "consistent") {
    return pass("revision-pairing", titles.pairing, expected, `consistent (${inSnapshotText} in the snapshot)`)
  }
  const found = `dirty: ${reasons.join("; ")}`
  return allowDirty
    ? pass("revision-pairing", titles.pairing, `${expected} (or dirty, allowed by --allow-dirty)`, found)
    : fail("revision-pairing", titles.pairing, `${expected} (pass --allow-dirty to accept a possibly dirty backup)`, found)
}

/** The test restore itself: it reads only the snapshot, so it runs beside the other checks (its verdicts wait for theirs). */
const runTestRestore = (snapshot: string, manifest: BackupManifest | undefined, options: VerifyOptions, table: OperandTable) =>
  Effect.result(
    Effect.andThen(
      checkRegularFile(snapshot),
      testRestore({
        snapshot,
        scratchDir: options.scratchDir ?? tmpdir(),
        etcdBinary: options.etcdBinary,
        operands: table,
        etcdPrefix: options.etcdPrefix,
        keyCountsAt: manifest?.keyCounts === undefined ? undefined : manifest.etcd.revision,
        sampleEncrypted: manifest?.keyCounts !== undefined,
        afterStart: options.testRestoreAfterStart,
      }),
    ),
  )

type TestRestoreRun = Effect.Success<ReturnType<typeof runTestRestore>>

const testRestoreChecks = (
  restored: TestRestoreRun,
  manifest: BackupManifest | undefined,
  status: SnapshotStatus | undefined,
  table: OperandTable,
  bundleFiles: ReadonlyArray<TarballFile> | undefined,
): Array<VerifyCheck> => {
  if (Result.isFailure(restored)) {
    // No room to restore into says nothing of the backup: not checked, and why (the run still fails: a skip is no pass).
    const scratch = restored.failure._tag === "TestRestoreFailed" && restored.failure.stage === "scratch"
    const why = scratch ? "the test restore could not run" : "the test restore failed"
    return [
      scratch
        ? skip("test-restore", titles.testRestore, restored.failure.message)
        : fail("test-restore", titles.testRestore, "a restored member serving the snapshot", restored.failure.message),
      skip("test-restore-revision", titles.testRevision, why),
      skip("test-restore-keys", titles.testKeys, why),
      skip("test-restore-operator-revisions", titles.testOperators, why),
      ...keyCountCheck(manifest, undefined, why),
      ...restoredDecryptionCheck(manifest, bundleFiles, undefined, table, why),
    ]
  }
  const r = restored.success
  const checks: Array<VerifyCheck> = [
    pass(
      "test-restore",
      titles.testRestore,
      "a restored member serving the snapshot",
      `served revision ${r.revision} with ${r.keys} keys; scratch data removed`,
    ),
  ]
  checks.push(
    status === undefined
      ? skip("test-restore-revision", titles.testRevision, "etcdutl could not read the snapshot's revision")
      : verdictOf(r.revision === status.revision, "test-restore-revision", titles.testRevision, `revision ${status.revision}`, `revision ${r.revision}`),
  )
  checks.push(verdictOf(r.keys > 0, "test-restore-keys", titles.testKeys, "at least one key", `${r.keys} keys`))
  if (manifest === undefined) {
    checks.push(skip("test-restore-operator-revisions", titles.testOperators, noManifest))
  } else {
    const inSnapshot = manifest.revisions.inSnapshot
    const expected = operandNames.map((n) => `${n}=${inSnapshot[n] ?? "none"}`).join(",")
    const found = operandNames.map((n) => `${n}=${r.operatorRevisions[n].revision ?? `none (${r.operatorRevisions[n].reason})`}`).join(",")
    checks.push(
      verdictOf(
        operandNames.every((n) => r.operatorRevisions[n].revision === inSnapshot[n]),
        "test-restore-operator-revisions",
        titles.testOperators,
        expected,
        found,
      ),
    )
  }
  checks.push(...keyCountCheck(manifest, r.keyCounts))
  checks.push(...restoredDecryptionCheck(manifest, bundleFiles, r.sample, table))
  return checks
}

/**
 * What a passing verification saw, for a caller that goes on to use the backup (restore): the manifest it
 * checked (and whose signature it checked), and the snapshot's size and etcd's sha256 trailer as read in
 * the pass that hashed it. Binding later reads to these closes the window between verify and use: a file
 * swapped in after the checks is refused instead of restored.
 */
export interface VerifiedEvidence {
  readonly manifest: BackupManifest | undefined
  readonly snapshot: { readonly size: number; readonly trailer: Uint8Array } | undefined
}

/** Runs every check on one backup of `backupDir`; never fails: every problem is a FAIL line of the report. */
export const verifyBackup = (options: VerifyOptions) => Effect.map(verifyBackupWithEvidence(options), (r) => r.report)

/** `verifyBackup`, with what it saw of the files it checked. */
export const verifyBackupWithEvidence = Effect.fn("verifyBackup")(function* (options: VerifyOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const table = options.operands ?? defaultOperands
  const backupDir = options.backupDir
  const report = (
    selected: SelectedBackup | undefined,
    checks: ReadonlyArray<VerifyCheck>,
    evidence: VerifiedEvidence = { manifest: undefined, snapshot: undefined },
  ): { readonly report: VerifyReport; readonly evidence: VerifiedEvidence } => ({
    report: {
      backupDir,
      timestamp: selected?.timestamp ?? null,
      snapshot: selected?.snapshot ?? null,
      resources: selected?.resources ?? null,
      passed: checks.every(checkPassed),
      checks,
    },
    evidence,
  })

  const names = yield* Effect.result(fs.readDirectory(backupDir))
  // One of the backup's files given for its directory (tab completion goes one step too far).
  const aFile =
    Result.isFailure(names) && errnoCode(names.failure) === "ENOTDIR"
      ? (yield* Effect.option(fs.stat(backupDir))).pipe(Option.exists((info) => info.type === "File"))
      : false
  const selection = Result.isFailure(names)
    ? Result.fail({
        message: aFile
          ? `${backupDir} is a file, not a backup directory: give the directory that holds it, ${path.dirname(path.resolve(backupDir))}`
          : describeFileSystemFailure("read the directory", backupDir, names.failure).message,
      })
    : selectBackup(names.success, options.timestamp)
  const expectedFiles = `snapshot_${options.timestamp ?? "<newest timestamp>"}.db and static_kuberesources_${options.timestamp ?? "<newest timestamp>"}.tar.gz`
  if (Result.isFailure(selection)) {
    const below = Result.isSuccess(names) && holdsNoBackupFiles(names.success) ? backupsBelowHint(yield* backupDirsBelow(backupDir)) : ""
    return report(undefined, [fail("backup-files", titles.files, expectedFiles, `${errorMessage(selection.failure)}${below}`)])
  }
  const selected = selection.success
  const checks: Array<VerifyCheck> = [pass("backup-files", titles.files, expectedFiles, `${selected.snapshot} and ${selected.resources}`)]

  const manifestPath = path.join(backupDir, manifestFileName)
  // Read once: the signature check covers exactly the bytes the other checks decoded.
  const manifestBytes = yield* Effect.result(readBackupFileBytes(manifestPath, maxManifestBytes))
  const read = Result.flatMap(
    manifestBytes,
    (bytes): Result.Result<BackupManifest, ManifestReadFailure> => decodeBackupManifestBytes(bytes, manifestPath, table),
  )
  let manifest: BackupManifest | undefined
  if (Result.isFailure(read)) {
    checks.push(fail("manifest", titles.manifest, "a valid backup manifest", read.failure.message))
  } else {
    manifest = read.success
    checks.push(
      pass(
        "manifest",
        titles.manifest,
        "a valid backup manifest",
        `format ${manifest.formatVersion}, written by ${manifest.tool.name} ${manifest.tool.version} at ${manifest.createdAt}`,
      ),
    )
  }
  if (manifest === undefined) {
    checks.push(skip("manifest-describes-files", titles.describes, noManifest))
  } else {
    const m = manifest
    const same = m.timestamp === selected.timestamp && m.files.snapshot.name === selected.snapshot && m.files.resources.name === selected.resources
    checks.push(
      verdictOf(
        same,
        "manifest-describes-files",
        titles.describes,
        `backup ${selected.timestamp}: ${selected.snapshot}, ${selected.resources}`,
        `backup ${m.timestamp}: ${m.files.snapshot.name}, ${m.files.resources.name}`,
      ),
    )
    // A manifest of another backup says nothing about these files.
    if (!same) manifest = undefined
  }
  checks.push(yield* signatureCheck(backupDir, options.trustedKeys ?? [], manifestBytes))

  const snapshotPath = path.join(backupDir, selected.snapshot)
  // The snapshot's hash (this process), etcdutl's reading of it (another), the tarball's checks and the test restore
  // (etcdutl and etcd on a throwaway copy) at once: each only reads the backup.
  const [snapshot, statusResult, tarball, restored] = yield* Effect.all(
    [
      snapshotChecks(snapshotPath, manifest),
      snapshotStatus(snapshotPath),
      tarballChecks(path.join(backupDir, selected.resources), manifest, table),
      options.testRestore === true ? runTestRestore(snapshotPath, manifest, options, table) : Effect.succeed(undefined),
    ],
    { concurrency: "unbounded" },
  )
  checks.push(...snapshot.checks)
  const status = yield* statusChecks(statusResult, manifest, snapshot.size)
  checks.push(...status.checks)
  checks.push(...tarball.checks)
  checks.push(pairingCheck(manifest, options.allowDirty === true, table))
  checks.push(...manifestBundleChecks(manifest))
  const bundleFiles = tarball.bundleFiles
  checks.push(yield* certificateCheck(bundleFiles, manifest, options.certWarnDays ?? defaultCertWarnDays))
  if (restored !== undefined) checks.push(...testRestoreChecks(restored, manifest, status.status, table, bundleFiles))
  return report(selected, checks, { manifest, snapshot: snapshot.verifiedEnd })
})
