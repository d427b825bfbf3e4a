import { Effect, Option, Result } from "effect"
import { CliError, Flag } from "effect/cli"
import { parseByteSize } from "../domain/byte-size.ts"
import { MillisFromDurationString } from "../domain/durations.ts"
import { dnsSubdomainProblem } from "../domain/k8s-names.ts"
import { defaultPodOptions, defaultUploadTransfer, storeOptionsProblem, type BackupPodOptions, type BackupStoreOptions } from "../domain/pod-spec.ts"
import { parseStoreLocation } from "../domain/store-location.ts"
import { etcdPrefixFlag } from "./etcd-prefix-flag.ts"
import { checkedWith, durationAtLeast, intInRange, nonEmpty } from "./flag-checks.ts"

const s3UrlProblem = (raw: string): string | undefined => {
  const location = parseStoreLocation(raw)
  if (Result.isFailure(location)) return location.failure.message
  return location.success._tag === "S3" ? undefined : "an s3://bucket[/prefix] URL (a volume: --store-pvc)"
}
const partSizeProblem = (raw: string): string | undefined => {
  const bytes = parseByteSize(raw)
  return Result.isSuccess(bytes) && bytes.success >= 5 * 2 ** 20 && bytes.success <= 5 * 2 ** 30 ? undefined : "a size from 5Mi to 5Gi, like 16Mi"
}
const objectName = (what: string) => (raw: string): string | undefined => {
  const problem = dnsSubdomainProblem(raw)
  return problem === undefined ? undefined : `the name of a ${what} (${problem})`
}

/**
 * Where the backup pod's `backup-upload` keeps each backup, and how (shared by `operator` and
 * `render`). Without `--store` or `--store-pvc` the pod has no upload container.
 */
export const storeOptionFlags = {
  store: Flag.String("store").pipe(
    checkedWith(s3UrlProblem),
    Flag.optional,
    Flag.withDescription("Upload each backup to s3://bucket[/prefix] (the pod's backup-upload container); without a prefix in the URL, --cluster-id gives cluster-backup/<cluster-id>"),
  ),
  storePvc: Flag.String("store-pvc").pipe(
    checkedWith(objectName("PersistentVolumeClaim")),
    Flag.optional,
    Flag.withDescription("Upload each backup to this PersistentVolumeClaim (in --namespace), mounted into backup-upload only and used as a directory store"),
  ),
  clusterId: Flag.String("cluster-id").pipe(
    nonEmpty("cluster ID"),
    Flag.optional,
    Flag.withDescription("The cluster's ID (oc get clusterversion version -o jsonpath='{.spec.clusterID}'): the store prefix is cluster-backup/<cluster-id> unless the s3:// URL has one"),
  ),
  storeCredentialsSecret: Flag.String("store-credentials-secret").pipe(
    checkedWith(objectName("Secret")),
    Flag.optional,
    Flag.withDescription("Secret (in --namespace) whose key 'credentials' is an AWS shared credentials file ([default] aws_access_key_id, aws_secret_access_key); mounted into backup-upload only. Required with --store"),
  ),
  storeCaConfigmap: Flag.String("store-ca-configmap").pipe(
    checkedWith(objectName("ConfigMap")),
    Flag.optional,
    Flag.withDescription("ConfigMap (in --namespace) whose key 'ca-bundle.crt' holds the CAs of the S3 endpoint (ODF, RGW, a private MinIO); mounted into backup-upload only"),
  ),
  s3Endpoint: Flag.String("s3-endpoint").pipe(
    checkedWith((raw) => (/^https?:\/\/[^\s/?#]+\/?$/.test(raw) ? undefined : "an http(s)://host[:port] URL")),
    Flag.optional,
    Flag.withDescription("S3 endpoint for backup-upload (default: AWS S3 of the region)"),
  ),
  s3Region: Flag.String("s3-region").pipe(
    checkedWith((raw) => (/^[a-z0-9-]{1,64}$/.test(raw) ? undefined : "a region such as us-east-1")),
    Flag.optional,
    Flag.withDescription("S3 region for backup-upload (default: us-east-1)"),
  ),
  s3Addressing: Flag.Literals("s3-addressing", ["path", "virtual"]).pipe(
    Flag.optional,
    Flag.withDescription("path (host/bucket/key) or virtual (bucket.host/key) for backup-upload; default: path with --s3-endpoint, else virtual"),
  ),
  uploadPartSize: Flag.String("upload-part-size").pipe(
    checkedWith(partSizeProblem),
    Flag.withDefault(defaultUploadTransfer.partSize),
    Flag.withDescription("backup-upload's multipart part size; its memory request and limit grow by part size x parts in flight"),
  ),
  uploadPartsInFlight: Flag.Int("upload-parts-in-flight").pipe(
    intInRange({ min: 1, max: 64 }),
    Flag.withDefault(defaultUploadTransfer.partsInFlight),
    Flag.withDescription("backup-upload's parts uploaded at a time"),
  ),
  uploadDeadline: Flag.String("upload-deadline").pipe(
    Flag.withSchema(MillisFromDurationString),
    durationAtLeast(1000),
    Flag.withDefault(defaultUploadTransfer.deadlineSeconds * 1000),
    Flag.withDescription("backup-upload gives up (aborting its uploads) after this long; the pod's deadline grows by it"),
  ),
}

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
  ...storeOptionFlags,
}

export interface PodOptionFlagValues {
  readonly namespace: string
  readonly image: string
  readonly holdDuration: number
  readonly backupVolumeSize: string
  readonly etcdPrefix: string
  readonly store: Option.Option<string>
  readonly storePvc: Option.Option<string>
  readonly clusterId: Option.Option<string>
  readonly storeCredentialsSecret: Option.Option<string>
  readonly storeCaConfigmap: Option.Option<string>
  readonly s3Endpoint: Option.Option<string>
  readonly s3Region: Option.Option<string>
  readonly s3Addressing: Option.Option<"path" | "virtual">
  readonly uploadPartSize: string
  readonly uploadPartsInFlight: number
  readonly uploadDeadline: number
}

/** Each store option's flag, to name it in a usage error. */
const storeFlagNames: Readonly<Record<keyof BackupStoreOptions, string>> = {
  s3Url: "store",
  claimName: "store-pvc",
  clusterId: "cluster-id",
  s3Endpoint: "s3-endpoint",
  s3Region: "s3-region",
  s3Addressing: "s3-addressing",
  credentialsSecret: "store-credentials-secret",
  caConfigMap: "store-ca-configmap",
  partSize: "upload-part-size",
  partsInFlight: "upload-parts-in-flight",
  deadlineSeconds: "upload-deadline",
}

const storeOptionsFromFlags = (f: PodOptionFlagValues): BackupStoreOptions | undefined => {
  if (Option.isNone(f.store) && Option.isNone(f.storePvc)) return undefined
  const given = {
    s3Url: Option.getOrUndefined(f.store),
    claimName: Option.getOrUndefined(f.storePvc),
    clusterId: Option.getOrUndefined(f.clusterId),
    s3Endpoint: Option.getOrUndefined(f.s3Endpoint),
    s3Region: Option.getOrUndefined(f.s3Region),
    s3Addressing: Option.getOrUndefined(f.s3Addressing),
    credentialsSecret: Option.getOrUndefined(f.storeCredentialsSecret),
    caConfigMap: Option.getOrUndefined(f.storeCaConfigmap),
  }
  return {
    ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
    partSize: f.uploadPartSize,
    partsInFlight: f.uploadPartsInFlight,
    deadlineSeconds: Math.max(1, Math.ceil(f.uploadDeadline / 1000)),
  }
}

/** The pod options the flags give (validated later by `decodeBackupPodOptions`). */
export const podOptionsFromFlags = (f: PodOptionFlagValues): Partial<BackupPodOptions> => {
  const holdSeconds = Math.max(1, Math.ceil(f.holdDuration / 1000))
  const store = storeOptionsFromFlags(f)
  return {
    namespace: f.namespace,
    image: f.image,
    holdSeconds,
    // Room for the backup itself (and its upload) after the hold (the domain checks the same rule).
    activeDeadlineSeconds: Math.max(defaultPodOptions.activeDeadlineSeconds, holdSeconds + 3600 + (store?.deadlineSeconds ?? 0)),
    backupVolumeSizeLimit: f.backupVolumeSize,
    etcdPrefix: f.etcdPrefix,
    ...(store === undefined ? {} : { store }),
  }
}

/**
 * `podOptionsFromFlags`, with store flags that do not fit together (a Secret for a volume, an
 * s3:// store without credentials or a prefix, store settings without a store) refused as a
 * usage error (exit 2) naming the flag.
 */
export const podOptionsFromFlagsChecked = (f: PodOptionFlagValues, command: string): Effect.Effect<Partial<BackupPodOptions>, CliError.ShowHelp> => {
  const options = podOptionsFromFlags(f)
  const usage = (flag: string, value: string, expected: string) =>
    Effect.fail(
      new CliError.ShowHelp({
        commandPath: ["cluster-backup", command],
        errors: [new CliError.InvalidValue({ option: flag, value, expected, kind: "flag" })],
      }),
    )
  if (options.store === undefined) {
    const stray = (["clusterId", "storeCredentialsSecret", "storeCaConfigmap", "s3Endpoint", "s3Region", "s3Addressing"] as const).find((k) => Option.isSome(f[k]))
    if (stray === undefined) return Effect.succeed(options)
    const flag = { clusterId: "cluster-id", storeCredentialsSecret: "store-credentials-secret", storeCaConfigmap: "store-ca-configmap", s3Endpoint: "s3-endpoint", s3Region: "s3-region", s3Addressing: "s3-addressing" }[stray]
    return usage(flag, String(Option.getOrUndefined(f[stray])), "a setting of the backup store: give --store or --store-pvc too")
  }
  const problem = storeOptionsProblem(options.store)
  if (problem === undefined) return Effect.succeed(options)
  const key = problem.key as keyof BackupStoreOptions
  return usage(storeFlagNames[key], String(options.store[key] ?? ""), problem.problem)
}
