import { Effect, Result } from "effect"
import { Command, Flag } from "effect/cli"
import { operandNames, type OperandName } from "../domain/operands.ts"
import { decodeBackupPodOptions, renderBackupPodYaml } from "../domain/pod-spec.ts"
import { decodeObservedRevisions, parseRevisionsFlag } from "../domain/revisions.ts"
import { Kube } from "../services/kube/kube.ts"
import { kubeconfigFlag, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { podOptionFlags, podOptionsFromFlags } from "./pod-option-flags.ts"

/** The observed revisions of the cluster's four operator CRs. */
const clusterRevisions = Effect.gen(function* () {
  const kube = yield* Kube
  const crs = {} as Record<OperandName, unknown>
  for (const name of operandNames) {
    crs[name] = yield* kube.operators.get(name).pipe(
      Effect.map((cr): unknown => cr),
      Effect.catchIf((e) => e._tag === "NotFound", () => Effect.succeed(undefined)),
    )
  }
  return yield* Effect.fromResult(Result.mapError(decodeObservedRevisions(crs), (errors) => errors[0]!))
})

export const renderCommand = Command.make(
  "render",
  {
    revisions: Flag.String("revisions").pipe(
      Flag.optional,
      Flag.withDescription("etcd=N,kube-apiserver=N,kube-controller-manager=N,kube-scheduler=N: render for these without contacting a cluster"),
    ),
    kubeconfig: kubeconfigFlag,
    ...podOptionFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const options = yield* Effect.fromResult(decodeBackupPodOptions(podOptionsFromFlags(flags)))
        const revisions =
          flags.revisions._tag === "Some"
            ? yield* Effect.fromResult(parseRevisionsFlag(flags.revisions.value))
            : yield* clusterRevisions.pipe(Effect.provide(liveKubeLayer(flags.kubeconfig)))
        yield* Effect.sync(() => process.stdout.write(renderBackupPodYaml(revisions, options)))
      }),
    ),
).pipe(
  Command.withDescription(
    "Print the cluster-backup pod's YAML for the cluster's current revisions (or for --revisions, without a cluster). Pipe it to 'oc create -f -' to take a backup.",
  ),
)
