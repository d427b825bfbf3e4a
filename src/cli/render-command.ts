import { Effect, Result } from "effect"
import { Command, Flag } from "effect/cli"
import type { OperandTable } from "../domain/operands.ts"
import { defaultEtcdQuotaGiB, podQuotaRoom } from "../domain/etcd-quota-room.ts"
import { renderBackupPodYaml } from "../domain/pod-spec.ts"
import { decodeBackupPodOptions } from "../domain/backup-pod-options.ts"
import { parseRevisionsFlag } from "../domain/revisions.ts"
import { revisionsCheck } from "./flag-checks.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { operandResourcesFileFlag, tableFromFile } from "./operand-resources-flags.ts"
import { podOptionFlags, podOptionsFromFlagsChecked } from "./pod-option-flags.ts"

/** The observed revisions of the cluster's four operator CRs (the first problem, if any), and etcd's quota. */
const clusterFacts = (table: OperandTable) =>
  Effect.promise(() => import("../programs/operator/api-revisions.ts")).pipe(
    Effect.flatMap(({ readOperatorFacts }) => readOperatorFacts(table)),
    Effect.flatMap((facts) =>
      Effect.map(Effect.fromResult(Result.mapError(facts.revisions, (errors) => errors[0]!)), (revisions) => ({
        revisions,
        etcdQuotaBytes: facts.etcdQuotaBytes,
      })),
    ),
  )

export const renderCommand = Command.make(
  "render",
  {
    revisions: Flag.String("revisions").pipe(
      revisionsCheck,
      Flag.optional,
      Flag.withDescription("etcd=N,kube-apiserver=N,kube-controller-manager=N,kube-scheduler=N: render for these without contacting a cluster"),
    ),
    ...kubeFlags,
    operandResources: operandResourcesFileFlag,
    ...podOptionFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const options = yield* Effect.fromResult(decodeBackupPodOptions(yield* podOptionsFromFlagsChecked(flags, "render")))
        const table = yield* tableFromFile(flags.operandResources)
        const { revisions, etcdQuotaBytes } =
          flags.revisions._tag === "Some"
            ? { revisions: yield* Effect.fromResult(parseRevisionsFlag(flags.revisions.value)), etcdQuotaBytes: undefined }
            : yield* clusterFacts(table).pipe(Effect.provide(liveKubeLayer(flags)))
        // Without a cluster, etcd's quota is taken at the CRD's default: a volume too small for it (a unit left out of 20Gi) still warns.
        const volume = (
          etcdQuotaBytes === undefined && flags.revisions._tag === "Some"
            ? podQuotaRoom(defaultEtcdQuotaGiB * 2 ** 30, options.backupVolumeSizeLimit, options.store, "default")
            : podQuotaRoom(etcdQuotaBytes, options.backupVolumeSizeLimit, options.store)
        )?.warning
        if (volume !== undefined) yield* Effect.logWarning(volume)
        yield* Effect.sync(() => process.stdout.write(renderBackupPodYaml(revisions, options, table)))
      }),
    ),
).pipe(
  Command.withDescription(
    "Print the cluster-backup pod's YAML for the cluster's current revisions (or for --revisions, without a cluster). Pipe it to 'oc create -f -' to take a backup.",
  ),
)
