import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { dnsSubdomainProblem } from "../domain/k8s-names.ts"
import { followFlags, followOutput } from "./follow-flags.ts"
import { checkedWith } from "./flag-checks.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { podOptionFlags } from "./pod-option-flags.ts"

export const backupNowCommand = Command.make(
  "backup-now",
  {
    policy: Argument.String("policy").pipe(
      checkedWith((name) => {
        const problem = dnsSubdomainProblem(name)
        return problem === undefined ? undefined : `a BackupPolicy's name, which ${problem}`
      }),
      Argument.withDescription("The BackupPolicy whose store, retention and verification the backup takes (oc get backuppolicies)"),
    ),
    ...kubeFlags,
    namespace: podOptionFlags.namespace.pipe(
      Flag.withDescription("Namespace of the operator and of the pods it creates for policies (default openshift-etcd): each pod's step is read there"),
    ),
    noWait: Flag.Boolean("no-wait").pipe(
      Flag.withoutNegation,
      Flag.withDefault(false),
      Flag.withDescription("Ask for the backup and exit, instead of waiting until it is stored"),
    ),
    ...followFlags({
      timeoutMs: 2 * 60 * 60 * 1000,
      timeoutDescription: "How long the backup may take, from the request to its end, before the command fails (default 2h)",
      timeoutExamples: ["2h", "90m", "3600s"],
      polled: "the policy's status",
      jsonDescription:
        "One JSON object on stdout (policy, request, and once stored, pod and backup: id, location, time, revisions, sizes, verdict, verified); the progress goes to stderr",
    }),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { backupNow } = yield* Effect.promise(() => import("../programs/backup-now/backup-now.ts"))
        const { output, result } = followOutput(flags.json)
        yield* result(
          yield* backupNow({
            policy: flags.policy,
            namespace: flags.namespace,
            wait: !flags.noWait,
            timeoutMs: flags.timeout,
            pollMs: flags.pollInterval,
            output,
          }).pipe(Effect.provide(liveKubeLayer(flags))),
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "Ask a BackupPolicy's operator for a backup now (before an upgrade, say) and wait until it is stored: the policy's annotation backup.openshift.io/backup-requested gets a new value, the operator starts a pod for it as soon as no backup of the policy runs (suspended or not, whatever its schedule and minInterval), and the policy's status.lastRequest names that pod. Exits 0 once the backup is stored, and non-zero when it failed, when the policy cannot start one (an invalid spec, its proxy Secret missing: the request then stands), or when it did not end within --timeout. Needs get and patch on backuppolicies (list to name those there when POLICY is not; get on pods in --namespace to show the pod's steps).",
  ),
)
