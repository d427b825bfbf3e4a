import { tmpdir } from "node:os"
import { Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { backupArgument, etcdutlFlag, timestampFlag } from "./backup-reading-flags.ts"
import { certWarnDaysFlag } from "./cert-warn-days-flag.ts"
import { etcdPrefixFlag } from "./etcd-prefix-flag.ts"
import { nonEmpty } from "./flag-checks.ts"
import { trustedKeysFlag } from "./signature-flags.ts"
import { withLogging } from "./logging.ts"
import { backupSource, storeSourceFlags } from "./store-source.ts"

/** The backup did not pass every check; the report (stdout) says which and why. */
export class BackupVerificationFailed extends Schema.TaggedError<BackupVerificationFailed>()("BackupVerificationFailed", {
  failed: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

/** No check failed, but some could not run (no room for the test restore): the backup is not verified, nor blamed. */
export class BackupVerificationIncomplete extends Schema.TaggedError<BackupVerificationIncomplete>()("BackupVerificationIncomplete", {
  notRun: Schema.Array(Schema.String),
  message: Schema.String,
}) {}

export const verifyCommand = Command.make(
  "verify",
  {
    backupDir: backupArgument(""),
    timestamp: timestampFlag,
    allowDirty: Flag.Boolean("allow-dirty").pipe(
      Flag.withDefault(false),
      Flag.withDescription("Accept a possibly dirty backup (snapshot and resources not proven to pair)"),
    ),
    testRestore: Flag.Boolean("test-restore").pipe(
      Flag.withDefault(false),
      Flag.withDescription("Also restore the snapshot into a throwaway etcd on a free loopback port and read the operator CRs back (removed afterwards)"),
    ),
    etcdPrefix: etcdPrefixFlag,
    json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the report as one JSON document")),
    etcdutl: etcdutlFlag,
    etcd: Flag.String("etcd").pipe(
      Flag.optional,
      Flag.withMetavar("PATH"),
      Flag.withDescription("The etcd binary for --test-restore (default: the project's .tools copy, else etcd on PATH)"),
    ),
    scratchDir: Flag.String("scratch-dir").pipe(
      nonEmpty("directory"),
      Flag.withDefault(tmpdir()),
      Flag.withMetavar("DIR"),
      Flag.withDescription(
        "Where --test-restore makes its throwaway data directory (made if missing; needs about the snapshot's size plus 64 MiB for etcd's write-ahead log)",
      ),
    ),
    trustedKeys: trustedKeysFlag,
    reportOut: Flag.String("report-out").pipe(
      nonEmpty("file"),
      Flag.optional,
      Flag.withMetavar("FILE"),
      Flag.withDescription(
        "Also write the JSON report to FILE (atomically, pass or fail); as verification.json in a backup directory it is uploaded beside the manifest and list shows the backup verified",
      ),
    ),
    certWarnDays: certWarnDaysFlag,
    ...storeSourceFlags("a temporary directory, removed afterwards"),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        // Loaded on use: the programs stay out of other commands' processes.
        const [{ verifyBackup }, { encodeVerifyReport, renderVerifyReport, failedChecks, isIncomplete }, { Etcdutl }, { readTrustedKeys }] =
          yield* Effect.promise(() =>
            Promise.all([
              import("../programs/verify/verify.ts"),
              import("../programs/verify/verify-report.ts"),
              import("../services/etcdutl.ts"),
              import("../programs/backup-dir/manifest-authenticity.ts"),
            ]),
          )
        // A key file that cannot be read is the caller's mistake: said before anything is downloaded.
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        const { checkReplaceable, writeFileAtomic } = yield* Effect.promise(() => import("../services/atomic-files.ts"))
        // A report that cannot be written fails the run: said before the checks (and a download), not after them.
        if (Option.isSome(flags.reportOut)) yield* checkReplaceable(flags.reportOut.value)
        const backup = yield* backupSource("verify", flags, { _tag: "Temporary" }, trustedKeys)
        const report = yield* verifyBackup({
          backupDir: backup.dir,
          timestamp: backup.timestamp,
          allowDirty: flags.allowDirty,
          testRestore: flags.testRestore,
          scratchDir: flags.scratchDir,
          etcdBinary: Option.getOrUndefined(flags.etcd),
          etcdPrefix: flags.etcdPrefix,
          trustedKeys,
          certWarnDays: flags.certWarnDays,
        }).pipe(Effect.provide(Etcdutl.live(flags.etcdutl)))
        yield* Effect.sync(() => process.stdout.write(flags.json ? encodeVerifyReport(report) : renderVerifyReport(report)))
        if (Option.isSome(flags.reportOut)) {
          // Readable by the pod's other containers (the upload) and by whoever lists the backup directory.
          yield* writeFileAtomic(flags.reportOut.value, new TextEncoder().encode(encodeVerifyReport(report)), 0o644)
        }
        const failed = failedChecks(report.checks)
        const named = `backup ${report.timestamp ?? "(none)"} in ${report.backupDir}${Option.isSome(flags.backupId) ? ` (downloaded from ${flags.backupDir})` : ""}`
        const failedIds = failed.map((c) => c.id)
        const ids = failedIds.join(", ")
        if (isIncomplete(report.checks)) {
          return yield* new BackupVerificationIncomplete({
            notRun: failedIds,
            message: `${named} is not verified: ${failed.length} of ${report.checks.length} checks could not run (${ids}), and none failed. ${failed[0]!.id}: ${failed[0]!.found}`,
          })
        }
        if (failed.length > 0) {
          return yield* new BackupVerificationFailed({
            failed: failedIds,
            message: `${named} did not pass ${failed.length} of ${report.checks.length} checks: ${ids}`,
          })
        }
      }).pipe(Effect.scoped),
    ),
).pipe(
  Command.withDescription(
    "Check a backup: manifest, etcd's snapshot trailer, sizes and sha256 of both files, etcdutl snapshot status, the tarball read to the end and compared entry by entry, the revision pairing; with --test-restore, restore it into a throwaway etcd and read it back. With --backup-id, the argument is a store (s3://bucket[/prefix], or a directory store) and the backup is first downloaded into --work-dir (free space checked first, every file's sha256 checked against the manifest). Exit 0 only when every check passes; a run where checks could not run (no room for the test restore) fails as incomplete.",
  ),
)
