/**
 * The BackupPolicy custom resource (deploy/backup-policy-crd.yaml) as a Schema: the operator decodes
 * what the API server hands it (defaults already applied there, so they are optional here too) and
 * encodes the status it writes. A test keeps the field names in step with the CRD's openAPIV3Schema.
 */
import { Schema } from "effect"
import { Rfc3339Utc } from "./rfc3339.ts"
import { SseAlgorithm } from "./server-side-encryption.ts"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const DurationText = Schema.String.check(Schema.isPattern(/^(\d+(ms|s|m|h|d))+$/))
const ObjectName = Schema.Struct({ name: Schema.NonEmptyString })

/** age recipients Secrets (key `recipients`, one age1... per line): the backup's files, and the resources tarball's own. */
const RecipientsSecrets = {
  recipientsSecret: Schema.optionalKey(ObjectName),
  resourcesRecipientsSecret: Schema.optionalKey(ObjectName),
}

export const S3Store = Schema.Struct({
  bucket: Schema.String.check(Schema.isPattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)),
  prefix: Schema.optionalKey(Schema.String),
  endpoint: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^https?:\/\//))),
  region: Schema.optionalKey(Schema.String),
  forcePathStyle: Schema.optionalKey(Schema.Boolean),
  credentialsSecret: Schema.optionalKey(ObjectName),
  caBundleConfigMap: Schema.optionalKey(ObjectName),
  webIdentityRoleARN: Schema.optionalKey(Schema.String),
  serverSideEncryption: Schema.optionalKey(SseAlgorithm),
  kmsKeyId: Schema.optionalKey(Schema.String),
  ...RecipientsSecrets,
})

export const PvcStore = Schema.Struct({
  claimName: Schema.NonEmptyString,
  subPath: Schema.optionalKey(Schema.String),
  ...RecipientsSecrets,
})

export const PolicyStore = Schema.Struct({
  s3: Schema.optionalKey(S3Store),
  pvc: Schema.optionalKey(PvcStore),
  /** backup-upload's --bandwidth-limit (`50Mi`: bytes a second). */
  bandwidthLimit: Schema.optionalKey(Schema.String),
})

export const PolicyRetention = Schema.Struct({
  keepLast: Schema.optionalKey(PositiveInt),
  keepDaily: Schema.optionalKey(PositiveInt),
  keepWeekly: Schema.optionalKey(PositiveInt),
  keepMonthly: Schema.optionalKey(PositiveInt),
  maxAge: Schema.optionalKey(DurationText),
  maxTotalSize: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$/))),
})

export const VerifyMode = Schema.Literals(["None", "Full", "TestRestore"])
export type VerifyMode = typeof VerifyMode.Type

export const BackupPolicySpec = Schema.Struct({
  schedule: Schema.optionalKey(Schema.String),
  timeZone: Schema.optionalKey(Schema.NonEmptyString),
  onRevisionChange: Schema.optionalKey(Schema.Boolean),
  minInterval: Schema.optionalKey(DurationText),
  suspend: Schema.optionalKey(Schema.Boolean),
  store: PolicyStore,
  retention: Schema.optionalKey(PolicyRetention),
  verify: Schema.optionalKey(VerifyMode),
  successfulPodsHistoryLimit: Schema.optionalKey(NonNegativeInt),
  failedPodsHistoryLimit: Schema.optionalKey(NonNegativeInt),
  activeDeadlineSeconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(60))),
})
export type BackupPolicySpec = typeof BackupPolicySpec.Type

export const PolicyConditionType = Schema.Literals(["Ready", "Progressing", "Degraded"])

/** metav1.Condition. */
export const PolicyCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  observedGeneration: Schema.optionalKey(NonNegativeInt),
  lastTransitionTime: Rfc3339Utc,
  reason: Schema.String.check(Schema.isPattern(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)),
  message: Schema.String,
})

export const SuccessfulBackup = Schema.Struct({
  id: Schema.String,
  location: Schema.optionalKey(Schema.String),
  time: Rfc3339Utc,
  pod: Schema.optionalKey(Schema.String),
  revisions: Schema.optionalKey(Schema.Record(Schema.String, NonNegativeInt)),
  etcdRevision: Schema.optionalKey(NonNegativeInt),
  snapshotBytes: Schema.optionalKey(NonNegativeInt),
  resourcesBytes: Schema.optionalKey(NonNegativeInt),
  totalBytes: Schema.optionalKey(NonNegativeInt),
  verdict: Schema.optionalKey(Schema.Literals(["consistent", "dirty"])),
  verified: Schema.optionalKey(Schema.Boolean),
})

export const BackupFailure = Schema.Struct({
  time: Rfc3339Utc,
  pod: Schema.optionalKey(Schema.String),
  reason: Schema.String,
  message: Schema.optionalKey(Schema.String),
})

/** The pod of a run in flight (CronJob's `status.active`), so that a pod deleted before a sync saw it end is known to have vanished. */
export const ActiveRun = Schema.Struct({
  kind: Schema.Literal("Pod"),
  name: Schema.String,
})

/**
 * The operands' revisions as the operator last saw them, and since when they have not changed: the settle clock of a
 * revision change, kept in the status so that a restarted operator does not start it again.
 */
export const ObservedRevisions = Schema.Struct({
  revisions: Schema.Record(Schema.String, NonNegativeInt),
  since: Rfc3339Utc,
})

/**
 * The newest request for a backup (the policy's request annotation) that a run was started for, its pod, and once that
 * pod ended, what it came to: kept here because later backups replace `lastSuccessfulBackup` and `lastFailure`.
 */
export const HandledRequest = Schema.Struct({
  id: Schema.String,
  pod: Schema.String,
  time: Rfc3339Utc,
  backup: Schema.optionalKey(SuccessfulBackup),
  failure: Schema.optionalKey(BackupFailure),
})

export const BackupPolicyStatus = Schema.Struct({
  observedGeneration: Schema.optionalKey(NonNegativeInt),
  active: Schema.optionalKey(Schema.Array(ActiveRun)),
  conditions: Schema.optionalKey(Schema.Array(PolicyCondition)),
  lastScheduleTime: Schema.optionalKey(Rfc3339Utc),
  nextScheduleTime: Schema.optionalKey(Rfc3339Utc),
  lastSuccessfulBackup: Schema.optionalKey(SuccessfulBackup),
  lastFailure: Schema.optionalKey(BackupFailure),
  observedRevisions: Schema.optionalKey(ObservedRevisions),
  lastRequest: Schema.optionalKey(HandledRequest),
})
export type BackupPolicyStatus = typeof BackupPolicyStatus.Type

export const BackupPolicy = Schema.Struct({
  apiVersion: Schema.Literal("backup.openshift.io/v1alpha1"),
  kind: Schema.Literal("BackupPolicy"),
  metadata: Schema.Struct({
    name: Schema.String,
    generation: Schema.optionalKey(Schema.Int),
    creationTimestamp: Schema.optionalKey(Rfc3339Utc),
    resourceVersion: Schema.optionalKey(Schema.String),
    uid: Schema.optionalKey(Schema.String),
  }),
  spec: BackupPolicySpec,
  status: Schema.optionalKey(BackupPolicyStatus),
})
export type BackupPolicy = typeof BackupPolicy.Type

/** Decodes a BackupPolicy as read from the API, reporting every bad field; unknown keys (metadata beyond these) are dropped. */
export const decodeBackupPolicy = Schema.decodeUnknownResult(BackupPolicy, { errors: "all" })
