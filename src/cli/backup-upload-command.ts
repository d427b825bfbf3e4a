import { Effect, Layer, Option, Result } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { parseByteSize } from "../domain/byte-size.ts"
import { pacedPartsProblem, parseBandwidthLimit } from "../domain/bandwidth-limit.ts"
import { formatBytes } from "../domain/byte-format.ts"
import { writePodReport } from "../programs/store/pod-report-file.ts"
import { uploadThenPrune } from "../programs/store/upload-then-prune.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { DiskSpace } from "../services/disk-space.ts"
import { maxParts, minPartSize } from "../domain/multipart-layout.ts"
import { bandwidthLimitFlag } from "./bandwidth-limit-flag.ts"
import { backupDirFlag } from "./common-flags.ts"
import { backupDirApartFromStore } from "./directory-store-places.ts"
import { durationFlag } from "./duration-flag.ts"
import { intInRange } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"
import { transferProgress } from "./transfer-progress.ts"
import { leftoverGraceFlag, leftoverGraceOf, retentionFlags, retentionPolicyOf, ruleMissing, trustedKeysUnread } from "./retention-flags.ts"
import { hasRule } from "../domain/retention.ts"
import { openStoreFromFlags, serverSideEncryptionFlags, storeFlags } from "./store-flags.ts"
import { readUploadRecipients, recipientsFlags } from "./encryption-flags.ts"
import { allowExposedSigningKeyFlag, retentionTrustedKeysFlag, signingKeyFlag } from "./signature-flags.ts"
import { readSigningKey, readTrustedKeys } from "../programs/backup-dir/manifest-authenticity.ts"

const partSizeFlag = Flag.String("part-size").pipe(
  Flag.filter(
    (s) => Result.isSuccess(parseByteSize(s)) && Result.getOrThrow(parseByteSize(s)) >= minPartSize && Result.getOrThrow(parseByteSize(s)) <= 5 * 1024 ** 3,
    () => "a size from 5Mi to 5Gi, like 16Mi",
  ),
  Flag.withDefault("16Mi"),
  Flag.withDescription("Bytes per part of a multipart upload (memory used: part size x parts in flight)"),
)

export const backupUploadCommand = Command.make(
  "backup-upload",
  {
    store: Flag.String("store").pipe(Flag.withDescription("Where to keep the backup: s3://bucket[/prefix] or a directory (a mounted volume)")),
    backupDir: backupDirFlag,
    partSize: partSizeFlag,
    partsInFlight: Flag.Int("parts-in-flight").pipe(intInRange({ min: 1, max: 64 }), Flag.withDefault(4), Flag.withDescription("Parts uploaded at a time")),
    deadline: durationFlag("deadline", 1000, 3_600_000, "Give up (and abort the uploads) after this long (e.g. 1h)"),
    bandwidthLimit: bandwidthLimitFlag(
      "bandwidth-limit",
      "Send at most this many bytes a second, every part together (e.g. 50Mi or 20M/s; at least 64Ki), so that the upload leaves room on the node's link for etcd and the API server; default: no limit",
    ),
    ...storeFlags,
    ...serverSideEncryptionFlags,
    ...recipientsFlags,
    signingKey: signingKeyFlag,
    allowExposedSigningKey: allowExposedSigningKeyFlag,
    ...retentionFlags("", "After a successful upload, prune the store: "),
    trustedKeys: retentionTrustedKeysFlag,
    leftoverGrace: leftoverGraceFlag(
      "leftover-grace",
      "With a retention rule: incomplete backups and abandoned multipart uploads in the store are removed once older than this (default 24h)",
    ),
    storeName: Flag.String("store-name").pipe(
      Flag.filter(
        (s) => /^[a-z][a-z0-9+.-]*:\/\/[^\s/]+(\/[^\s]*)?$/.test(s) && !s.endsWith("/"),
        () => "a URL with no trailing slash, like pvc://backups",
      ),
      Flag.optional,
      Flag.withMetavar("URL"),
      Flag.withDescription(
        "How the printed location and the report name the store, before <prefix>/<backup-id>/ (default: s3://bucket, or the directory's absolute path); the backup pod gives pvc://<claim> for its volume",
      ),
    ),
    reportFile: Flag.String("report-file").pipe(
      Flag.optional,
      Flag.withMetavar("FILE"),
      Flag.withDescription(
        "After the upload (and the prune), write a JSON report of the stored backup there (the operator reads it from the pod's termination message: /dev/termination-log)",
      ),
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const policy = retentionPolicyOf(flags)
        yield* ruleMissing("backup-upload", policy, flags.leftoverGrace, { grace: "leftover-grace", rulePrefix: "" }, false)
        if (!hasRule(policy))
          yield* trustedKeysUnread("backup-upload", flags.trustedKeys, "a retention rule beside it: only the prune after the upload reads it")
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        yield* backupDirApartFromStore(flags.store, flags, flags.backupDir)
        // Key and recipients files that cannot be used are said before anything is uploaded.
        const recipients = yield* readUploadRecipients(flags)
        const signingKey = Option.isSome(flags.signingKey)
          ? yield* readSigningKey(flags.signingKey.value, { allowExposed: flags.allowExposedSigningKey })
          : undefined
        const partSize = Result.getOrThrow(parseByteSize(flags.partSize))
        const limit = Option.isSome(flags.bandwidthLimit) ? Result.getOrThrow(parseBandwidthLimit(flags.bandwidthLimit.value)) : undefined
        const tooSlow =
          limit === undefined || !flags.store.startsWith("s3://")
            ? undefined
            : pacedPartsProblem(partSize, flags.partsInFlight, limit, { partSize: "--part-size", partsInFlight: "--parts-in-flight" })
        if (tooSlow !== undefined)
          return yield* new CliError.ShowHelp({
            commandPath: ["cluster-backup", "backup-upload"],
            errors: [new CliError.InvalidValue({ option: "bandwidth-limit", value: Option.getOrThrow(flags.bandwidthLimit), expected: tooSlow, kind: "flag" })],
          })
        const started = Date.now()
        const onProgress = yield* transferProgress("stored")
        const { store, prefix } = yield* openStoreFromFlags(
          flags.store,
          flags,
          { command: "backup-upload", name: "store", kind: "flag" },
          {
            partSize,
            partsInFlight: flags.partsInFlight,
            onProgress,
            ...(limit === undefined ? {} : { bandwidthBytesPerSecond: limit }),
          },
          flags,
        )
        const named = Option.isSome(flags.storeName) ? { ...store, url: flags.storeName.value } : store
        const { upload: report, prune } = yield* uploadThenPrune({
          backupDir: flags.backupDir,
          prefix,
          policy,
          graceMs: leftoverGraceOf(flags.leftoverGrace),
          deadlineMs: flags.deadline,
          bandwidthBytesPerSecond: limit,
          onFile: (name, size) =>
            Effect.logInfo(
              `uploading ${name} (${formatBytes(size)}${name.endsWith(".age") ? ", age-encrypted" : ""}) to ${store.location}${limit === undefined ? "" : `, at most ${formatBytes(limit)}/s`}`,
            ),
          protection: { recipients, signingKey },
          trustedKeys,
        }).pipe(Effect.provide(Layer.merge(Layer.succeed(BackupStore, BackupStore.of(named)), DiskSpace.live)))
        const bytes = report.files.reduce((n, f) => n + f.size, 0)
        const seconds = Math.max((Date.now() - started) / 1000, 0.001)
        yield* Effect.logInfo(
          `uploaded backup ${report.id}: ${report.files.length} objects, ${formatBytes(bytes)} in ${seconds.toFixed(1)} s (${formatBytes(bytes / seconds)}/s)`,
        )
        if (Option.isSome(flags.reportFile)) yield* writePodReport(flags.reportFile.value, report, prune)
        yield* Effect.sync(() => process.stdout.write(`${report.location}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    `Copy the finished backup in --backup-dir into a store under <prefix>/<backup-id>/: the snapshot and the tarball first (multipart, Content-MD5 on every part, sizes and sha256 checked against the manifest), backup-manifest.json last. With --recipients-file (and --resources-recipients-file for the tarball), each file is age-encrypted as it is uploaded (stored as <file>.age; the manifest records both sides' sha256 and the recipients' fingerprint) and --signing-key signs the manifest as stored. Exits non-zero on any failure; a failed or interrupted upload is aborted and never leaves a complete backup; the multipart uploads of a killed run are aborted by the next upload of the backup once it is stored. At most ${maxParts} parts per file. With a retention rule (--keep-last, --keep-daily/weekly/monthly, --max-age, --max-total-size, as prune), the store is pruned after a successful upload only, never deleting the newest complete backup (into a store with no room for the backup, a full volume or a used-up quota, what the rule removes once it is stored goes first, the newest complete backup staying until then); a prune that fails is logged as a warning and the command still exits 0: the backup is stored. With --trusted-key beside the rule, a backup to upload that none of those keys signs is stored, but no room is made for it and no prune runs, and the command exits 1 (UploadedBackupUntrusted): the rule would remove it before any trusted backup.`,
  ),
)
