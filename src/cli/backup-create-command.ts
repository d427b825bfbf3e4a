import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { parseRevisionsFlag } from "../domain/revisions.ts"
import { certWarnDaysFlag } from "./cert-warn-days-flag.ts"
import { backupDirFlag } from "./common-flags.ts"
import { revisionsCheck } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"
import { operandResourcesJsonFlagDef, tableFromJson } from "./operand-resources-flags.ts"
import { allowExposedSigningKeyFlag, signingKeyFlag } from "./signature-flags.ts"
import { toolVersion } from "./version.ts"

export const backupCreateCommand = Command.make(
  "backup-create",
  {
    backupDir: backupDirFlag,
    revisions: Flag.String("revisions").pipe(
      revisionsCheck,
      Flag.withDescription("The revisions backup-resources staged, one per operand: etcd=N,kube-apiserver=N,kube-controller-manager=N,kube-scheduler=N"),
      Flag.withMetavar("etcd=N,kube-apiserver=N,kube-controller-manager=N,kube-scheduler=N"),
    ),
    operandResources: operandResourcesJsonFlagDef,
    signingKey: signingKeyFlag,
    allowExposedSigningKey: allowExposedSigningKeyFlag,
    certWarnDays: certWarnDaysFlag,
    reportFile: Flag.String("report-file").pipe(
      Flag.optional,
      Flag.withMetavar("FILE"),
      Flag.withDescription(
        "Once the backup is complete, write its ID and pairing verdict (consistent or dirty, with the reasons) there as JSON (the backup pod's /dev/termination-log, which backup-pod reads)",
      ),
    ),
  },
  ({ backupDir, revisions, operandResources, signingKey, allowExposedSigningKey, certWarnDays, reportFile }) =>
    withLogging(
      Effect.gen(function* () {
        const requested = yield* Effect.fromResult(parseRevisionsFlag(revisions))
        const operands = yield* tableFromJson(operandResources)
        // Loaded on use: the program stays out of other commands' processes.
        const [{ backupCreate }, { Tarball }, { encodeBackupManifest }] = yield* Effect.promise(() =>
          Promise.all([import("../programs/backup/backup-create.ts"), import("../services/tarball/tarball.ts"), import("../domain/backup-manifest.ts")]),
        )
        const { readSigningKey, signBackupManifest } = yield* Effect.promise(() => import("../programs/backup-dir/manifest-authenticity.ts"))
        // Read first: a key that cannot be used fails the run before any backup work.
        const key = Option.isSome(signingKey) ? yield* readSigningKey(signingKey.value, { allowExposed: allowExposedSigningKey }) : undefined
        const manifest = yield* backupCreate({ backupDir, revisions: requested, toolVersion, operands, certWarnDays }).pipe(Effect.provide(Tarball.live))
        // After the manifest: a run killed in between leaves it unsigned, and the rerun (which confirms the backup complete) signs it.
        if (key !== undefined) yield* Effect.logInfo(`signed ${backupDir}/backup-manifest.json with key ${yield* signBackupManifest(backupDir, key)}`)
        // The backup is complete: a report that cannot be written is said, and does not fail the pod (which would lose it).
        if (Option.isSome(reportFile)) {
          const [{ backupCreateReportOf, encodeBackupCreateReport }, { writeTerminationReport }] = yield* Effect.promise(() =>
            Promise.all([import("../domain/backup-create-report.ts"), import("../programs/backup-dir/termination-report-file.ts")]),
          )
          const report = encodeBackupCreateReport(backupCreateReportOf(manifest.timestamp, manifest.verdict, manifest.reasons))
          yield* writeTerminationReport(reportFile.value, report, `backup ${manifest.timestamp} is complete`).pipe(
            Effect.catch((e) => Effect.logWarning(e.message)),
          )
        }
        yield* Effect.sync(() => process.stdout.write(encodeBackupManifest(manifest)))
      }),
    ),
).pipe(
  Command.withDescription(
    "Finish the backup: check the snapshot and the four staged revisions, decide whether they pair (else name both files __POSSIBLY_DIRTY__ and say why), write static_kuberesources_<ts>.tar.gz deterministically and then backup-manifest.json (sizes and sha256 of every file; with --signing-key, then its ed25519 signature backup-manifest.json.sig), and remove the staging area (also when it fails or is interrupted). Run again after the manifest was written, it removes what is left and exits 0. Holds the backup directory's lock (.cluster-backup/run.lock) and first removes what killed runs left.",
  ),
)
