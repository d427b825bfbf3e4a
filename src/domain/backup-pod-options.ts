/** The backup pod's options (the operator's configuration and flags): decoded, defaulted and checked as a whole. */
import { Result, Schema } from "effect"
import { backupPodPaths } from "./backup-pod-names.ts"
import { defaultEtcdPrefix, etcdPrefixProblem } from "./etcd-prefix.ts"
import { DnsLabel, DnsSubdomain } from "./k8s-names.ts"
import { Quantity } from "./k8s-quantity.ts"
import { ProxyEnv } from "./pod-proxy-env.ts"
import { BackupStoreOptions, PositiveInt } from "./pod-store-options.ts"
import { firstKeyedProblem } from "./schema-errors.ts"
import { parseStoreLocation, storePrefix } from "./store-location.ts"

const ResourceList = Schema.Struct({
  cpu: Schema.optionalKey(Quantity),
  memory: Schema.optionalKey(Quantity),
  "ephemeral-storage": Schema.optionalKey(Quantity),
})

export const ContainerResources = Schema.Struct({
  requests: Schema.optionalKey(ResourceList),
  limits: Schema.optionalKey(ResourceList),
})
export type ContainerResources = typeof ContainerResources.Type

/** What is wrong with how the store options combine (key and problem), or undefined. */
export const storeOptionsProblem = (store: BackupStoreOptions): { readonly key: string; readonly problem: string } | undefined => {
  const s3Only = (
    ["s3Endpoint", "s3Region", "s3Addressing", "credentialsSecret", "caConfigMap", "webIdentityRoleArn", "s3ServerSideEncryption", "s3KmsKeyId"] as const
  ).filter((k) => store[k] !== undefined)
  if ((store.s3Url === undefined) === (store.claimName === undefined)) {
    return { key: "s3Url", problem: "give exactly one of an s3:// URL and a PersistentVolumeClaim" }
  }
  if (store.claimName !== undefined) {
    if (s3Only.length > 0) return { key: s3Only[0]!, problem: "applies to an s3:// store only, not to a PersistentVolumeClaim" }
  } else {
    const location = parseStoreLocation(store.s3Url!)
    if (Result.isFailure(location)) return { key: "s3Url", problem: location.failure.message }
    if (location.success._tag !== "S3")
      return { key: "s3Url", problem: `${JSON.stringify(store.s3Url)} is not an s3:// URL (a directory store in the pod is a PersistentVolumeClaim)` }
    const prefix = storePrefix(location.success, undefined, store.clusterId)
    if (Result.isFailure(prefix)) return { key: store.clusterId === undefined ? "s3Url" : "clusterId", problem: prefix.failure.message }
    if (store.s3KmsKeyId !== undefined && store.s3ServerSideEncryption === "AES256")
      return { key: "s3KmsKeyId", problem: "a KMS key goes with aws:kms (SSE-KMS), not AES256 (SSE-S3)" }
    if (store.credentialsSecret !== undefined && store.webIdentityRoleArn !== undefined) {
      return {
        key: "webIdentityRoleArn",
        problem: "give a credentials Secret or a web identity role, not both (the Secret's keys would be used and the role never assumed)",
      }
    }
    if (store.credentialsSecret === undefined && store.webIdentityRoleArn === undefined) {
      return {
        key: "credentialsSecret",
        problem:
          "an s3:// store needs a credentials Secret (key credentials: an AWS shared credentials file) or a web identity role: the pod has no other source of credentials",
      }
    }
  }
  if (store.claimName !== undefined && store.clusterId !== undefined) {
    const prefix = storePrefix({ _tag: "Directory", path: backupPodPaths.storeDir }, undefined, store.clusterId)
    if (Result.isFailure(prefix)) return { key: "clusterId", problem: prefix.failure.message }
  }
  return undefined
}

export const BackupPodOptions = Schema.Struct({
  namespace: DnsLabel,
  image: Schema.String.check(Schema.isPattern(/^[^\s]+$/, { expected: "an image reference without blanks" })),
  imagePullPolicy: Schema.Literals(["Always", "IfNotPresent", "Never"]),
  serviceAccountName: DnsSubdomain,
  /** Comma-separated https URLs of the etcd members or Service. */
  etcdEndpoints: Schema.String.check(Schema.isPattern(/^https:\/\/[^\s,]+(,https:\/\/[^\s,]+)*$/, { expected: "comma-separated https:// URLs" })),
  /** The etcd key prefix the API server stores its objects under (backup-init reads the operator CRs there). */
  etcdPrefix: Schema.String.check(
    Schema.makeFilter((s: string) => etcdPrefixProblem(s) ?? undefined, { expected: "an etcd key prefix such as /kubernetes.io" }),
  ),
  /** How long the last container keeps `/backup` available, in seconds. */
  holdSeconds: PositiveInt,
  /** Hard limit on the pod's whole life; must leave room after `holdSeconds` for the backup itself. */
  activeDeadlineSeconds: PositiveInt,
  backupVolumeSizeLimit: Quantity,
  tmpVolumeSizeLimit: Quantity,
  resources: ContainerResources,
  priorityClassName: Schema.optionalKey(DnsSubdomain),
  /** When given, the pod uploads each backup there (backup-upload, after backup-create). */
  store: Schema.optionalKey(BackupStoreOptions),
  /** A Secret whose key `signing-key` is an ed25519 private key: backup-create signs the manifest with it. */
  signingKeySecret: Schema.optionalKey(DnsSubdomain),
  /**
   * A ConfigMap whose key `trusted-keys.pem` holds the ed25519 public keys the store's retention trusts: backup-upload's
   * prune counts as trusted only backups one of them signed (`--trusted-key`), so backups planted in the store cannot
   * push the pod's own out, and backup-verify fails a backup they did not sign. Needs `signingKeySecret`: unsigned, the
   * pod's own backups would be untrusted.
   */
  trustedKeysConfigMap: Schema.optionalKey(DnsSubdomain),
  /** backup-verify checks the backup before it is uploaded: `Full` (every check), `TestRestore` (and a restore into a throwaway etcd). */
  verify: Schema.optionalKey(Schema.Literals(["Full", "TestRestore"])),
  /** backup-create's and backup-verify's `--cert-warn-days`: warn about certificates expiring within this many days (absent: their default, 30). */
  certWarnDays: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 36_500 }))),
  /**
   * The operator's `--store-leftover-grace` in seconds: every BackupPolicy's prune takes it, whether or
   * not the operator has a store or rules of its own (its own store's prune has it in `store.retention`).
   */
  storeLeftoverGraceSeconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** The operator's own proxy variables (`proxyEnvOf`): backup-upload, which talks to the store, gets them. */
  proxyEnv: Schema.optionalKey(ProxyEnv),
})
export type BackupPodOptions = typeof BackupPodOptions.Type

export const defaultPodOptions: BackupPodOptions = {
  namespace: "openshift-etcd",
  image: "localhost/cluster-backup:0.1.0",
  imagePullPolicy: "IfNotPresent",
  serviceAccountName: "cluster-backup",
  etcdEndpoints: "https://etcd.openshift-etcd.svc:2379",
  etcdPrefix: defaultEtcdPrefix,
  holdSeconds: 3600,
  activeDeadlineSeconds: 7200,
  backupVolumeSizeLimit: "20Gi",
  tmpVolumeSizeLimit: "64Mi",
  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
}

/** The least time the backup itself gets before the hold starts counting against the deadline. */
export const minBackupSeconds = 300

export class BackupPodOptionsInvalid extends Schema.TaggedError<BackupPodOptionsInvalid>()("BackupPodOptionsInvalid", {
  key: Schema.String,
  message: Schema.String,
}) {}

/**
 * Options from configuration (unknown; missing keys take `defaultPodOptions`). Refuses unknown
 * keys and a deadline that would kill the pod while it holds a finished backup (the pod would
 * then report Failed for a good backup).
 */
export const decodeBackupPodOptions = (input: unknown): Result.Result<BackupPodOptions, BackupPodOptionsInvalid> => {
  const given = input !== null && typeof input === "object" && !Array.isArray(input) ? input : {}
  const decoded = Schema.decodeUnknownResult(BackupPodOptions, { onExcessProperty: "error" })({ ...defaultPodOptions, ...given })
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return Result.fail(new BackupPodOptionsInvalid({ key, message: `backup pod option ${key} ${message}` }))
  }
  const o = decoded.success
  const storeProblem = o.store === undefined ? undefined : storeOptionsProblem(o.store)
  if (storeProblem !== undefined) {
    return Result.fail(
      new BackupPodOptionsInvalid({ key: `store.${storeProblem.key}`, message: `backup pod option store.${storeProblem.key}: ${storeProblem.problem}` }),
    )
  }
  if (o.trustedKeysConfigMap !== undefined && o.signingKeySecret === undefined) {
    return Result.fail(
      new BackupPodOptionsInvalid({
        key: "trustedKeysConfigMap",
        message:
          "backup pod option trustedKeysConfigMap needs signingKeySecret: the pod's retention trusts only signed backups, and without a signing key its own would be unsigned",
      }),
    )
  }
  const upload = o.store === undefined ? 0 : o.store.deadlineSeconds
  if (o.activeDeadlineSeconds < o.holdSeconds + upload + minBackupSeconds) {
    const uploadPart = o.store === undefined ? "" : ` + the upload's deadline (${upload})`
    return Result.fail(
      new BackupPodOptionsInvalid({
        key: "activeDeadlineSeconds",
        message: `backup pod option activeDeadlineSeconds (${o.activeDeadlineSeconds}) must be at least holdSeconds (${o.holdSeconds})${uploadPart} + ${minBackupSeconds}, or the pod is killed while holding a finished backup`,
      }),
    )
  }
  return Result.succeed(o)
}
