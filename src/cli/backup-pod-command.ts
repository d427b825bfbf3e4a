import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { durationFlag } from "./duration-flag.ts"
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
    timeout: durationFlag(
      "timeout",
      1000,
      60 * 60 * 1000,
      "How long the backup may take, from the pod's creation until it is held, before the command fails (default 1h)",
      {
        unitRequired: ["1h", "30m", "1800s"],
      },
    ),
    pollInterval: durationFlag("poll-interval", 100, 5_000, "How often the pod is read (default 5s)"),
    json: Flag.Boolean("json").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "One JSON object on stdout (namespace, pod, revisions, the oc cp command that copies the backup, and heldUntil once the pod holds it); the progress goes to stderr",
      ),
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { runBackupPod } = yield* Effect.promise(() => import("../programs/backup-pod/run-backup-pod.ts"))
        const progress = flags.json ? process.stderr : process.stdout
        const result = yield* runBackupPod({
          namespace: flags.namespace,
          timeoutMs: flags.timeout,
          pollMs: flags.pollInterval,
          output: (line) => Effect.sync(() => void progress.write(`${line}\n`)),
        }).pipe(Effect.provide(liveKubeLayer(flags)))
        if (flags.json) yield* Effect.sync(() => void process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "Take a backup without a BackupPolicy (before an upgrade, say): create the backup pod the operator rendered (ConfigMap cluster-backup-pod, as `oc create -f -` of it would) and follow its init containers until the backup is complete and held in the pod for oc cp, which it then prints. Exits non-zero when the operator has rendered no pod, when the pod failed (naming the init container and its words), was deleted, or did not complete within --timeout (it is then left running). Needs get on configmaps and create and get on pods in --namespace.",
  ),
)
