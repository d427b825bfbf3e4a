import { Flag } from "effect/cli"
import { MillisFromDurationString } from "../domain/durations.ts"
import { defaultPodOptions, type BackupPodOptions } from "../domain/pod-spec.ts"
import { etcdPrefixFlag } from "./etcd-prefix-flag.ts"
import { durationAtLeast, nonEmpty } from "./flag-checks.ts"

/** Flags that shape the rendered backup pod; shared by `operator` and `render`. */
export const podOptionFlags = {
  namespace: Flag.String("namespace").pipe(
    nonEmpty("namespace"),
    Flag.withDefault(defaultPodOptions.namespace),
    Flag.withDescription("Namespace of the backup pod and of the cluster-backup-pod / backup-status ConfigMaps"),
  ),
  image: Flag.String("image").pipe(nonEmpty("image reference"), Flag.withDefault(defaultPodOptions.image), Flag.withDescription("Image of the backup pod's containers")),
  holdDuration: Flag.String("hold-duration").pipe(
    Flag.withSchema(MillisFromDurationString),
    durationAtLeast(1000),
    Flag.withDefault(defaultPodOptions.holdSeconds * 1000),
    Flag.withDescription("How long a finished backup pod keeps /backup available for 'oc cp'"),
  ),
  backupVolumeSize: Flag.String("backup-volume-size").pipe(
    Flag.withDefault(defaultPodOptions.backupVolumeSizeLimit),
    Flag.withDescription("Size limit of the backup pod's /backup emptyDir (must hold twice the etcd database)"),
  ),
  /** Carried into the pod's backup-init (`--etcd-prefix`). */
  etcdPrefix: etcdPrefixFlag,
}

export interface PodOptionFlagValues {
  readonly namespace: string
  readonly image: string
  readonly holdDuration: number
  readonly backupVolumeSize: string
  readonly etcdPrefix: string
}

/** The pod options the flags give (validated later by `decodeBackupPodOptions`). */
export const podOptionsFromFlags = (f: PodOptionFlagValues): Partial<BackupPodOptions> => {
  const holdSeconds = Math.max(1, Math.ceil(f.holdDuration / 1000))
  return {
    namespace: f.namespace,
    image: f.image,
    holdSeconds,
    // Room for the backup itself after the hold (the domain checks the same rule).
    activeDeadlineSeconds: Math.max(defaultPodOptions.activeDeadlineSeconds, holdSeconds + 3600),
    backupVolumeSizeLimit: f.backupVolumeSize,
    etcdPrefix: f.etcdPrefix,
  }
}
