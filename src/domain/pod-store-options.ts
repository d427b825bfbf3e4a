/**
 * Where and how the backup pod's backup-upload stores each backup: the store's options as the operator
 * renders them (an S3 URL or a PersistentVolumeClaim, transfer settings, retention, encryption), and the
 * container memory those settings need.
 */
import { Result, Schema } from "effect"
import { parseBandwidthLimit } from "./bandwidth-limit.ts"
import { parseByteSize } from "./byte-size.ts"
import { DnsSubdomain } from "./k8s-names.ts"
import { KmsKeyId, SseAlgorithm } from "./server-side-encryption.ts"
import { hasRule, type RetentionPolicy } from "./retention.ts"

export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

const mebibyte = 2 ** 20
const PartSize = Schema.String.check(
  Schema.makeFilter(
    (s: string) => {
      const bytes = parseByteSize(s)
      return Result.isSuccess(bytes) && bytes.success >= 5 * mebibyte && bytes.success <= 5 * 2 ** 30 ? undefined : "a size from 5Mi to 5Gi, like 16Mi"
    },
    { expected: "a size from 5Mi to 5Gi" },
  ),
)

/** A bandwidth limit as backup-upload's --bandwidth-limit takes it (`50Mi`, `20M/s`). */
const BandwidthLimit = Schema.String.check(
  Schema.makeFilter((s: string) => (Result.isSuccess(parseBandwidthLimit(s)) ? undefined : "a rate of at least 64Ki a second, like 50Mi"), {
    expected: "a rate like 50Mi (bytes a second)",
  }),
)

/** An IAM role ARN (`arn:aws:iam::<account>:role/<name>`, other partitions too). */
export const roleArnPattern = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/
const Count = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))

/** prune's rules for the store, as backup-upload's flags take them (durations in seconds, sizes in bytes). */
export const StoreRetention = Schema.Struct({
  keepLast: Schema.optionalKey(Count),
  keepDaily: Schema.optionalKey(Count),
  keepWeekly: Schema.optionalKey(Count),
  keepMonthly: Schema.optionalKey(Count),
  maxAgeSeconds: Schema.optionalKey(PositiveInt),
  maxTotalBytes: Schema.optionalKey(PositiveInt),
  leftoverGraceSeconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
})
export type StoreRetention = typeof StoreRetention.Type

/** A retention policy as backup-upload's flags take it (whole seconds, at least 1; bytes); undefined when it has no rule. */
export const storeRetentionOf = (policy: RetentionPolicy, leftoverGraceMs?: number): StoreRetention | undefined => {
  if (!hasRule(policy)) return undefined
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.max(1, Math.ceil(ms / 1000)))
  const given = {
    keepLast: policy.keepLast,
    keepDaily: policy.keepDaily,
    keepWeekly: policy.keepWeekly,
    keepMonthly: policy.keepMonthly,
    maxAgeSeconds: seconds(policy.maxAgeMs),
    maxTotalBytes: policy.maxTotalBytes,
    leftoverGraceSeconds: leftoverGraceMs === undefined ? undefined : Math.ceil(leftoverGraceMs / 1000),
  }
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as StoreRetention
}

/** The audience and lifetime of the projected token STS takes (OpenShift's STS convention). */
export const webIdentityToken = { audience: "sts.amazonaws.com", expirationSeconds: 3600 } as const

/**
 * Where `backup-upload` keeps each backup: an S3 URL (with its endpoint, region, addressing, a
 * credentials Secret and a CA ConfigMap) or a PersistentVolumeClaim used as a directory store.
 * Exactly one of `s3Url` and `claimName`; `storeOptionsProblem` checks how they combine.
 */
export const BackupStoreOptions = Schema.Struct({
  s3Url: Schema.optionalKey(Schema.String),
  claimName: Schema.optionalKey(DnsSubdomain),
  /** ClusterVersion spec.clusterID: the default prefix cluster-backup/<cluster-id>. */
  clusterId: Schema.optionalKey(Schema.String),
  s3Endpoint: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^https?:\/\/[^\s/?#]+\/?$/, { expected: "an http(s)://host[:port] URL" }))),
  s3Region: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[a-z0-9-]{1,64}$/, { expected: "a region such as us-east-1" }))),
  s3Addressing: Schema.optionalKey(Schema.Literals(["path", "virtual"])),
  /** A Secret in the pod's namespace whose key `credentials` is an AWS shared credentials file. */
  credentialsSecret: Schema.optionalKey(DnsSubdomain),
  /** A ConfigMap in the pod's namespace whose key `ca-bundle.crt` holds the CAs of an https endpoint. */
  caConfigMap: Schema.optionalKey(DnsSubdomain),
  /** Web identity (OpenShift on AWS with STS): the role backup-upload assumes with the pod's projected ServiceAccount token. */
  webIdentityRoleArn: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(roleArnPattern, { expected: "an IAM role ARN such as arn:aws:iam::123456789012:role/name" })),
  ),
  partSize: PartSize,
  partsInFlight: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })),
  deadlineSeconds: PositiveInt,
  /** backup-upload's --bandwidth-limit (`50Mi`: bytes a second); none when absent. */
  bandwidthLimit: Schema.optionalKey(BandwidthLimit),
  /** Retention of the store, applied by backup-upload after a successful upload (prune's rules). */
  retention: Schema.optionalKey(StoreRetention),
  /** The path inside the store (backup-upload's --prefix); default: the s3:// URL's path, else cluster-backup/<cluster-id>. */
  prefix: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._~+=@/-]{1,512}$/, { expected: "a store prefix" }))),
  /** S3 server-side encryption each object asks for (backup-upload's --s3-sse), and its KMS key (--s3-sse-kms-key-id). */
  s3ServerSideEncryption: Schema.optionalKey(SseAlgorithm),
  s3KmsKeyId: Schema.optionalKey(KmsKeyId),
  /** A Secret whose key `recipients` lists age recipients: backup-upload encrypts the backup's files to them. */
  recipientsSecret: Schema.optionalKey(DnsSubdomain),
  /** The same for the resources tarball alone (it holds the cluster's private keys); default: `recipientsSecret`. */
  resourcesRecipientsSecret: Schema.optionalKey(DnsSubdomain),
  /** Where backup-upload writes its report (backup-pod-report.ts) after the upload and prune: the termination log. */
  reportFile: Schema.optionalKey(Schema.Literal("/dev/termination-log")),
})
export type BackupStoreOptions = typeof BackupStoreOptions.Type

/** The upload's transfer settings when only the store is given (backup-upload's own defaults). */
export const defaultUploadTransfer = { partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 3600 } as const

/** Bytes of part buffers the upload holds at once: part size x parts in flight. */
const partBufferBytes = (store: BackupStoreOptions): number => Result.getOrThrow(parseByteSize(store.partSize)) * store.partsInFlight

/**
 * backup-upload's memory: Node and the program (~120 MiB measured, bench/STORE-CLIENT.md) plus
 * its part buffers, requested; the limit leaves as much again for the HTTP layer's copies. The
 * upload's memory is bounded by construction, so the limit can follow its flags.
 */
export const uploadMemoryMi = (store: BackupStoreOptions): { readonly request: number; readonly limit: number } => {
  const parts = Math.ceil(partBufferBytes(store) / mebibyte)
  return { request: 128 + parts, limit: 256 + parts }
}
