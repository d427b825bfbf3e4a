import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { followFlags, followOutput } from "./follow-flags.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { podOptionFlags } from "./pod-option-flags.ts"

export const backupPodCommand = Command.make(
  "backup-pod",
  {
    ...kubeFlags,
    namespace: podOptionFlags.namespace.pipe(
      Flag.withDescription("Namespace of the operator's ConfigMap cluster-backup-pod, where the pod runs (default openshift-etcd)"),
    ),
    ...followFlags({
      timeoutMs: 60 * 60 * 1000,
      timeoutDescription: "How long the pod is followed until its backup is held, before the command fails (default 1h)",
      timeoutExamples: ["1h", "30m", "1800s"],
      polled: "the pod",
      jsonDescription:
        "One JSON object on stdout (namespace, pod, revisions, the oc cp command that copies the backup, heldUntil once the pod holds it, and backupId); the progress goes to stderr",
    }),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { runBackupPod } = yield* Effect.promise(() => import("../programs/backup-pod/run-backup-pod.ts"))
        const { output, result } = followOutput(flags.json)
        yield* result(
          yield* runBackupPod({ namespace: flags.namespace, timeoutMs: flags.timeout, pollMs: flags.pollInterval, output }).pipe(
            Effect.provide(liveKubeLayer(flags)),
          ),
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "Take a backup without a BackupPolicy (before an upgrade, say): create the backup pod the operator rendered (ConfigMap cluster-backup-pod, as `oc create -f -` of it would) and follow its init containers until the backup is complete and held in the pod for oc cp, which it then prints. A pod of that spec still taking its backup (the command run again after a Ctrl-C) is followed instead of creating another, unless it takes revisions since rolled out. Exits non-zero when the operator has rendered no pod, when the pod failed (naming the init container and its words), was deleted, was seen only after its hold ended, did not complete within --timeout (it is then left running), or made a backup that backup-create found possibly dirty (the oc cp command is printed all the same). Needs get on configmaps and create and get on pods in --namespace (and list on pods to find one still running).",
  ),
)
