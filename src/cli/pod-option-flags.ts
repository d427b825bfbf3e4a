import { Effect, Option, Result, Schema } from "effect"
import { CliError, Flag } from "effect/cli"
import { pacedPartsProblem, parseBandwidthLimit } from "../domain/bandwidth-limit.ts"
import { parseByteSize } from "../domain/byte-size.ts"
import { dnsLabelProblem, dnsSubdomainProblem } from "../domain/k8s-names.ts"
import { defaultPodOptions, storeOptionsProblem, type BackupPodOptions } from "../domain/backup-pod-options.ts"
import { Quantity } from "../domain/k8s-quantity.ts"
import { defaultUploadTransfer, storeRetentionOf, type BackupStoreOptions, roleArnPattern, type StoreRetention } from "../domain/pod-store-options.ts"
import type { PolicyUploadSettings } from "../domain/policy-pod.ts"
import { parseStoreLocation, storePrefix } from "../domain/store-location.ts"
import { KmsKeyId, type SseAlgorithm } from "../domain/server-side-encryption.ts"
import { bandwidthLimitFlag } from "./bandwidth-limit-flag.ts"
import { etcdPrefixFlag } from "./etcd-prefix-flag.ts"
import { durationFlag } from "./duration-flag.ts"
import { checkedWith, intInRange, nonEmpty } from "./flag-checks.ts"
import { leftoverGraceFlag, leftoverGraceOf, type RetentionFlagValues, retentionFlags, retentionPolicyOf, ruleMissing } from "./retention-flags.ts"

const s3UrlProblem = (raw: string): string | undefined => {
  const location = parseStoreLocation(raw)
  if (Result.isFailure(location)) return location.failure.message
  return location.success._tag === "S3" ? undefined : "an s3://bucket[/prefix] URL (a volume: --store-pvc)"
}
const partSizeProblem = (raw: string): string | undefined => {
  const bytes = parseByteSize(raw)
  return Result.isSuccess(bytes) && bytes.success >= 5 * 2 ** 20 && bytes.success <= 5 * 2 ** 30 ? undefined : "a size from 5Mi to 5Gi, like 16Mi"
}
const objectName =
  (what: string) =>
  (raw: string): string | undefined => {
    const problem = dnsSubdomainProblem(raw)
    return problem === undefined ? undefined : `the name of a ${what} (${problem})`
  }
/** An optional text flag, its value checked while the command line is parsed. */
const optionalText = (name: string, check: (flag: Flag.Flag<string>) => Flag.Flag<string>, description: string) =>
  Flag.String(name).pipe(check, Flag.optional, Flag.withDescription(description))

/**
 * Where the backup pod's `backup-upload` keeps each backup, and how (shared by `operator` and
 * `render`). Without `--store` or `--store-pvc` the pod has no upload container.
 */
export const storeOptionFlags = {
  store: optionalText(
    "store",
    checkedWith(s3UrlProblem),
    "Upload each backup to s3://bucket[/prefix] (the pod's backup-upload container); without a prefix in the URL, --cluster-id gives cluster-backup/<cluster-id>",
  ),
  storePvc: optionalText(
    "store-pvc",
    checkedWith(objectName("PersistentVolumeClaim")),
    "Upload each backup to this PersistentVolumeClaim (in --namespace), mounted into backup-upload only and used as a directory store",
  ),
  clusterId: optionalText(
    "cluster-id",
    nonEmpty("cluster ID"),
    "The cluster's ID (oc get clusterversion version -o jsonpath='{.spec.clusterID}'): the store prefix is cluster-backup/<cluster-id> unless the s3:// URL has one",
  ),
  storeCredentialsSecret: optionalText(
    "store-credentials-secret",
    checkedWith(objectName("Secret")),
    "Secret (in --namespace) whose key 'credentials' is an AWS shared credentials file ([default] aws_access_key_id, aws_secret_access_key); mounted into backup-upload only. Required with --store",
  ),
  storeCaConfigmap: optionalText(
    "store-ca-configmap",
    checkedWith(objectName("ConfigMap")),
    "ConfigMap (in --namespace) whose key 'ca-bundle.crt' holds the CAs of the S3 endpoint (ODF, RGW, a private MinIO); mounted into backup-upload only",
  ),
  s3Endpoint: optionalText(
    "s3-endpoint",
    checkedWith((raw) => (/^https?:\/\/[^\s/?#]+\/?$/.test(raw) ? undefined : "an http(s)://host[:port] URL")),
    "S3 endpoint for backup-upload (default: AWS S3 of the region)",
  ),
  s3Region: optionalText(
    "s3-region",
    checkedWith((raw) => (/^[a-z0-9-]{1,64}$/.test(raw) ? undefined : "a region such as us-east-1")),
    "S3 region for backup-upload (default: us-east-1)",
  ),
  s3Addressing: Flag.Literals("s3-addressing", ["path", "virtual"]).pipe(
    Flag.optional,
    Flag.withDescription(
      "path (host/bucket/key) or virtual (bucket.host/key) for backup-upload; default: path with --s3-endpoint or for a bucket name with dots, else virtual",
    ),
  ),
  s3Sse: Flag.Literals("s3-sse", ["AES256", "aws:kms"]).pipe(
    Flag.optional,
    Flag.withDescription(
      "backup-upload asks S3 to encrypt each object it stores: AES256 (SSE-S3) or aws:kms (SSE-KMS), and fails unless the store confirms it",
    ),
  ),
  s3SseKmsKeyId: optionalText(
    "s3-sse-kms-key-id",
    checkedWith((raw) => (Schema.is(KmsKeyId)(raw) ? undefined : "a KMS key id, key ARN, alias/<name> or alias ARN")),
    "The KMS key of backup-upload's SSE-KMS (implies --s3-sse aws:kms; default: the account's aws/s3 key)",
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
  uploadBandwidthLimit: bandwidthLimitFlag(
    "upload-bandwidth-limit",
    "backup-upload's --bandwidth-limit: at most this many bytes a second sent to the store (e.g. 50Mi), so that a backup leaving a control-plane node leaves room on its link for etcd and the API server; default: no limit",
  ),
  // "30" meant as minutes would fail every backup's upload after 30 seconds: no copy would leave the cluster.
  uploadDeadline: durationFlag(
    "upload-deadline",
    1000,
    defaultUploadTransfer.deadlineSeconds * 1000,
    "backup-upload gives up (aborting its uploads) after this long, with its unit (e.g. 30m); the pod's deadline grows by it",
    { unitRequired: ["30m", "1h", "2h"] },
  ),
  storeWebIdentityRoleArn: optionalText(
    "store-web-identity-role-arn",
    checkedWith((raw) => (roleArnPattern.test(raw) ? undefined : "an IAM role ARN such as arn:aws:iam::123456789012:role/name")),
    "Web identity (OpenShift on AWS with STS): backup-upload assumes this role with the pod's ServiceAccount token, projected for the audience sts.amazonaws.com into backup-upload only (instead of --store-credentials-secret)",
  ),
  storeRecipientsSecret: optionalText(
    "store-recipients-secret",
    checkedWith(objectName("Secret")),
    "Secret (in --namespace) whose key 'recipients' lists age recipients (one age1... per line): backup-upload encrypts the backup's files to them before they leave the pod (mounted into backup-upload only)",
  ),
  storeResourcesRecipientsSecret: optionalText(
    "store-resources-recipients-secret",
    checkedWith(objectName("Secret")),
    "Secret (in --namespace) whose key 'recipients' lists the resources tarball's own age recipients (it holds the cluster's private keys); default: --store-recipients-secret's",
  ),
  ...retentionFlags("store-", "Prune the store after each successful upload (backup-upload), as prune does: "),
  storeLeftoverGrace: leftoverGraceFlag(
    "store-leftover-grace",
    "With a --store-keep-*/--store-max-* rule (operator: or a BackupPolicy's retention): incomplete backups and abandoned uploads in the store are removed once older than this (default 24h)",
  ),
}

/** Flags that shape the rendered backup pod; shared by `operator` and `render`. */
export const podOptionFlags = {
  namespace: Flag.String("namespace").pipe(
    nonEmpty("namespace"),
    checkedWith((raw) => {
      const problem = dnsLabelProblem(raw)
      return problem === undefined ? undefined : `a namespace (${problem})`
    }),
    Flag.withDefault(defaultPodOptions.namespace),
    Flag.withDescription("Namespace of the backup pod and of the cluster-backup-pod / backup-status ConfigMaps"),
  ),
  image: Flag.String("image").pipe(
    nonEmpty("image reference"),
    Flag.withDefault(defaultPodOptions.image),
    Flag.withDescription("Image of the backup pod's containers"),
  ),
  // Without a store, the hold is the only way to the backup: "1" meant as an hour would end it after a second.
  holdDuration: durationFlag(
    "hold-duration",
    1000,
    defaultPodOptions.holdSeconds * 1000,
    "How long a finished backup pod keeps /backup available for 'oc cp' (e.g. 1h; with its unit)",
    {
      unitRequired: ["1h", "30m", "90s"],
    },
  ),
  backupVolumeSize: Flag.String("backup-volume-size").pipe(
    checkedWith((raw) => (Schema.is(Quantity)(raw) ? undefined : "a Kubernetes quantity such as 20Gi")),
    Flag.withDefault(defaultPodOptions.backupVolumeSizeLimit),
    Flag.withDescription(
      "Size limit of the backup pod's /backup emptyDir: the etcd database and 64 MiB, twice the database to encrypt to a PersistentVolumeClaim (a Warning when it cannot hold a database at etcd's quota)",
    ),
  ),
  /** Carried into the pod's backup-init (`--etcd-prefix`). */
  etcdPrefix: etcdPrefixFlag,
  signingKeySecret: optionalText(
    "signing-key-secret",
    checkedWith(objectName("Secret")),
    "Secret (in --namespace) whose key 'signing-key' is an ed25519 private key (openssl genpkey -algorithm ed25519): backup-create signs backup-manifest.json with it (mounted into backup-create only, read-only, mode 0400)",
  ),
  trustedKeysConfigMap: optionalText(
    "trusted-keys-configmap",
    checkedWith(objectName("ConfigMap")),
    "ConfigMap (in --namespace) whose key 'trusted-keys.pem' holds the ed25519 public keys (openssl pkey -pubout, one after another) the store's retention trusts: backup-upload's prune then counts as trusted only backups one of them signed, so backups planted in the store cannot push the pod's own out, and backup-verify fails a backup none of them signed (needs --signing-key-secret; mounted into backup-upload where a retention rule is given, and into backup-verify)",
  ),
  certWarnDays: Flag.Int("cert-warn-days").pipe(
    intInRange({ min: 0, max: 36_500 }),
    Flag.optional,
    Flag.withMetavar("N"),
    Flag.withDescription("The pod's backup-create (and backup-verify) warn about every certificate that expires within N days (default 30)"),
  ),
  ...storeOptionFlags,
}

export interface PodOptionFlagValues extends RetentionFlagValues {
  readonly namespace: string
  readonly image: string
  readonly holdDuration: number
  readonly backupVolumeSize: string
  readonly etcdPrefix: string
  readonly signingKeySecret: Option.Option<string>
  readonly trustedKeysConfigMap: Option.Option<string>
  readonly certWarnDays: Option.Option<number>
  readonly store: Option.Option<string>
  readonly storePvc: Option.Option<string>
  readonly clusterId: Option.Option<string>
  readonly storeCredentialsSecret: Option.Option<string>
  readonly storeCaConfigmap: Option.Option<string>
  readonly s3Endpoint: Option.Option<string>
  readonly s3Region: Option.Option<string>
  readonly s3Addressing: Option.Option<"path" | "virtual">
  readonly s3Sse: Option.Option<SseAlgorithm>
  readonly s3SseKmsKeyId: Option.Option<string>
  readonly uploadPartSize: string
  readonly uploadPartsInFlight: number
  readonly uploadBandwidthLimit: Option.Option<string>
  readonly uploadDeadline: number
  readonly storeWebIdentityRoleArn: Option.Option<string>
  readonly storeRecipientsSecret: Option.Option<string>
  readonly storeResourcesRecipientsSecret: Option.Option<string>
  readonly storeLeftoverGrace: Option.Option<number>
}

/** Each store option's flag, to name it in a usage error. */
const storeFlagNames: Readonly<Record<keyof BackupStoreOptions, string>> = {
  s3Url: "store",
  claimName: "store-pvc",
  clusterId: "cluster-id",
  s3Endpoint: "s3-endpoint",
  s3Region: "s3-region",
  s3Addressing: "s3-addressing",
  s3ServerSideEncryption: "s3-sse",
  s3KmsKeyId: "s3-sse-kms-key-id",
  credentialsSecret: "store-credentials-secret",
  caConfigMap: "store-ca-configmap",
  partSize: "upload-part-size",
  partsInFlight: "upload-parts-in-flight",
  deadlineSeconds: "upload-deadline",
  bandwidthLimit: "upload-bandwidth-limit",
  webIdentityRoleArn: "store-web-identity-role-arn",
  retention: "store-keep-last",
  recipientsSecret: "store-recipients-secret",
  resourcesRecipientsSecret: "store-resources-recipients-secret",
  // Set only for a policy's pod (policy-pod.ts), never from a flag.
  prefix: "store",
  reportFile: "store",
}

/** The store's location and settings the flags give (undefined: flag absent). */
const givenStoreOptions = (f: PodOptionFlagValues) => ({
  s3Url: Option.getOrUndefined(f.store),
  claimName: Option.getOrUndefined(f.storePvc),
  clusterId: Option.getOrUndefined(f.clusterId),
  s3Endpoint: Option.getOrUndefined(f.s3Endpoint),
  s3Region: Option.getOrUndefined(f.s3Region),
  s3Addressing: Option.getOrUndefined(f.s3Addressing),
  s3ServerSideEncryption: Option.getOrUndefined(f.s3Sse),
  s3KmsKeyId: Option.getOrUndefined(f.s3SseKmsKeyId),
  credentialsSecret: Option.getOrUndefined(f.storeCredentialsSecret),
  caConfigMap: Option.getOrUndefined(f.storeCaConfigmap),
  webIdentityRoleArn: Option.getOrUndefined(f.storeWebIdentityRoleArn),
  recipientsSecret: Option.getOrUndefined(f.storeRecipientsSecret),
  resourcesRecipientsSecret: Option.getOrUndefined(f.storeResourcesRecipientsSecret),
  retention: storeRetentionFromFlags(f),
})

/** The store's retention, as backup-upload's flags take it; undefined without a rule. */
const storeRetentionFromFlags = (f: PodOptionFlagValues): StoreRetention | undefined =>
  storeRetentionOf(retentionPolicyOf(f), leftoverGraceOf(f.storeLeftoverGrace))

/** The upload flags (and --cluster-id): the operator's store's, and every BackupPolicy pod's whatever the operator's store. */
export const policyUploadFromFlags = (f: PodOptionFlagValues): PolicyUploadSettings => ({
  partSize: f.uploadPartSize,
  partsInFlight: f.uploadPartsInFlight,
  deadlineSeconds: Math.max(1, Math.ceil(f.uploadDeadline / 1000)),
  ...(Option.isSome(f.uploadBandwidthLimit) ? { bandwidthLimit: f.uploadBandwidthLimit.value } : {}),
  ...(Option.isSome(f.clusterId) ? { clusterId: f.clusterId.value } : {}),
})

const storeOptionsFromFlags = (f: PodOptionFlagValues): BackupStoreOptions | undefined => {
  if (Option.isNone(f.store) && Option.isNone(f.storePvc)) return undefined
  const { partSize, partsInFlight, deadlineSeconds, bandwidthLimit } = policyUploadFromFlags(f)
  return {
    ...Object.fromEntries(Object.entries(givenStoreOptions(f)).filter(([, v]) => v !== undefined)),
    partSize,
    partsInFlight,
    deadlineSeconds,
    ...(bandwidthLimit === undefined ? {} : { bandwidthLimit }),
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
    ...(Option.isSome(f.signingKeySecret) ? { signingKeySecret: f.signingKeySecret.value } : {}),
    ...(Option.isSome(f.trustedKeysConfigMap) ? { trustedKeysConfigMap: f.trustedKeysConfigMap.value } : {}),
    ...(Option.isSome(f.certWarnDays) ? { certWarnDays: f.certWarnDays.value } : {}),
    ...(Option.isSome(f.storeLeftoverGrace) ? { storeLeftoverGraceSeconds: Math.ceil(f.storeLeftoverGrace.value / 1000) } : {}),
  }
}

/**
 * `podOptionsFromFlags`, with store flags that do not fit together (a Secret for a volume, an
 * s3:// store without credentials or a prefix, store settings without a store) refused as a
 * usage error (exit 2) naming the flag. The operator's `--store-leftover-grace` needs no rule of its
 * own: every BackupPolicy's prune takes it.
 */
export const podOptionsFromFlagsChecked = (f: PodOptionFlagValues, command: string): Effect.Effect<Partial<BackupPodOptions>, CliError.ShowHelp> =>
  Effect.andThen(
    ruleMissing(
      command,
      retentionPolicyOf(f),
      command === "operator" ? Option.none() : f.storeLeftoverGrace,
      { grace: "store-leftover-grace", rulePrefix: "store-" },
      false,
    ),
    checkedStoreOptions(f, command),
  )

const checkedStoreOptions = (f: PodOptionFlagValues, command: string): Effect.Effect<Partial<BackupPodOptions>, CliError.ShowHelp> => {
  const options = podOptionsFromFlags(f)
  const usage = (flag: string, value: string, expected: string) =>
    Effect.fail(
      new CliError.ShowHelp({
        commandPath: ["cluster-backup", command],
        errors: [new CliError.InvalidValue({ option: flag, value, expected, kind: "flag" })],
      }),
    )
  // Its pods' stores may be S3 (every BackupPolicy's is its own): their parts must not go slower than prune allows.
  const upload = policyUploadFromFlags(f)
  const rate = upload.bandwidthLimit === undefined ? undefined : Result.getOrThrow(parseBandwidthLimit(upload.bandwidthLimit))
  const tooSlow =
    rate === undefined
      ? undefined
      : pacedPartsProblem(Result.getOrThrow(parseByteSize(upload.partSize)), upload.partsInFlight, rate, {
          partSize: "--upload-part-size",
          partsInFlight: "--upload-parts-in-flight",
        })
  if (tooSlow !== undefined) return usage("upload-bandwidth-limit", upload.bandwidthLimit!, tooSlow)
  if (options.trustedKeysConfigMap !== undefined && options.signingKeySecret === undefined)
    return usage(
      "trusted-keys-configmap",
      options.trustedKeysConfigMap,
      "--signing-key-secret beside it: the retention trusts only signed backups, and without a signing key the pod's own would be unsigned",
    )
  if (options.store === undefined) {
    const given = givenStoreOptions(f)
    // The operator's --cluster-id is also its BackupPolicies' (their default prefix), with or without a store of its own.
    const stray = (
      [
        ...(command === "operator" ? [] : (["clusterId"] as const)),
        "credentialsSecret",
        "caConfigMap",
        "s3Endpoint",
        "s3Region",
        "s3Addressing",
        "s3ServerSideEncryption",
        "s3KmsKeyId",
        "webIdentityRoleArn",
        "retention",
        "recipientsSecret",
        "resourcesRecipientsSecret",
      ] as const
    ).find((k) => given[k] !== undefined)
    if (stray === undefined) {
      const prefix = given.clusterId === undefined ? undefined : storePrefix({ _tag: "Directory", path: "/" }, undefined, given.clusterId)
      return prefix !== undefined && Result.isFailure(prefix) ? usage("cluster-id", given.clusterId!, prefix.failure.message) : Effect.succeed(options)
    }
    const value = given[stray]
    return usage(
      storeFlagNames[stray],
      typeof value === "object" ? JSON.stringify(value) : String(value),
      "a setting of the backup store: give --store or --store-pvc too",
    )
  }
  const problem = storeOptionsProblem(options.store)
  if (problem === undefined) return Effect.succeed(options)
  const key = problem.key as keyof BackupStoreOptions
  return usage(storeFlagNames[key], String(options.store[key] ?? ""), problem.problem)
}
