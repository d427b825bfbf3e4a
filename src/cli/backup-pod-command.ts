import { resolve } from "node:path"
import { Effect, Layer, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { DiskSpace } from "../services/disk-space.ts"
import { keptWorkDir } from "../services/owned-work-dir.ts"
import { followFlags, followOutput } from "./follow-flags.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { checkedWith, nonEmpty } from "./flag-checks.ts"
import { dnsSubdomainProblem } from "../domain/k8s-names.ts"
import { transferProgress } from "./transfer-progress.ts"
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
        "One JSON object on stdout (namespace, pod, revisions, the oc cp command that copies the backup, heldUntil once the pod holds it, backupId, and copiedTo with --copy-to); the progress goes to stderr",
    }),
    pod: Flag.String("pod").pipe(
      checkedWith((raw) => {
        const problem = dnsSubdomainProblem(raw)
        return problem === undefined ? undefined : `a pod's name (${problem})`
      }),
      Flag.optional,
      Flag.withMetavar("NAME"),
      Flag.withDescription(
        "Follow this pod, a backup pod made from cluster-backup-pod earlier (by oc create, or a run of revisions since rolled out), rather than the rendered spec's: to copy its backup with --copy-to, say",
      ),
    ),
    copyTo: Flag.String("copy-to").pipe(
      nonEmpty("directory"),
      Flag.optional,
      Flag.withMetavar("DIR"),
      Flag.withDescription(
        "Once the pod holds the backup, copy it into this directory (created if missing; a directory holding another backup is refused), as download does: each file through .download, kept only with its manifest's size and sha256, the manifest last. Run again after an interruption, it keeps the files already copied whole. Needs get and create on pods/exec (cat in the pod's backup-hold container)",
      ),
    ),
    deleteAfterCopy: Flag.Boolean("delete-after-copy").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "With --copy-to: once the backup is copied and every file checked, delete the pod, giving the node's disk back at once (its hold would keep it for --hold-duration). Needs delete on pods",
      ),
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const { runBackupPod } = yield* Effect.promise(() => import("../programs/backup-pod/run-backup-pod.ts"))
        if (flags.deleteAfterCopy && Option.isNone(flags.copyTo))
          return yield* new CliError.ShowHelp({
            commandPath: ["cluster-backup", "backup-pod"],
            errors: [
              new CliError.InvalidValue({
                option: "delete-after-copy",
                value: "true",
                expected: "--copy-to DIR with it: the pod is deleted only once its backup is copied off it and checked",
                kind: "flag",
              }),
            ],
          })
        const { output, result } = followOutput(flags.json)
        // Two copies into one directory would remove and rename each other's partial files: the second is refused.
        const copyTo = Option.isSome(flags.copyTo) ? yield* keptWorkDir(resolve(flags.copyTo.value), "backup-pod", false) : undefined
        yield* result(
          yield* runBackupPod({
            namespace: flags.namespace,
            timeoutMs: flags.timeout,
            pollMs: flags.pollInterval,
            output,
            pod: Option.getOrUndefined(flags.pod),
            copyTo,
            onCopyProgress: yield* transferProgress("copied"),
            deleteAfterCopy: flags.deleteAfterCopy,
          }).pipe(Effect.provide(Layer.merge(liveKubeLayer(flags), DiskSpace.live))),
        )
      }).pipe(Effect.scoped),
    ),
).pipe(
  Command.withDescription(
    "Take a backup without a BackupPolicy (before an upgrade, say): create the backup pod the operator rendered (ConfigMap cluster-backup-pod, as `oc create -f -` of it would) and follow its init containers until the backup is complete and held in the pod for oc cp, which it then prints. A pod of that spec still taking its backup (the command run again after a Ctrl-C) is followed instead of creating another, unless it takes revisions since rolled out. Exits non-zero when the operator has rendered no pod, when the pod failed (naming the init container and its words), was deleted, was seen only after its hold ended, did not complete within --timeout (it is then left running), or made a backup that backup-create found possibly dirty (the oc cp command is printed all the same). With --pod, it follows a backup pod made earlier instead. With --copy-to, it copies the held backup off the pod itself, each file checked against the manifest, and with --delete-after-copy then deletes the pod. Needs get on configmaps and create and get on pods in --namespace (and list on pods to find one still running; get and create on pods/exec for --copy-to, delete on pods for --delete-after-copy).",
  ),
)
