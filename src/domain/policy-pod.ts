/**
 * The backup pod a BackupPolicy's run creates: the same rendered spec as `cluster-backup-pod`
 * (renderBackupPod, with its labels, so the manual flow's status counts it too) with the policy's
 * store, retention and verify step, a fixed name (a restarted operator re-creating it gets
 * AlreadyExists instead of a second backup), an owner reference to the policy (deleting the policy
 * deletes its pods), and the policy's deadline. backup-upload writes its report (backup-pod-report.ts)
 * as the termination message.
 */
import { createHash } from "node:crypto"
import { Result, Schema } from "effect"
import type { BackupPolicy } from "./backup-policy.ts"
import type { Trigger } from "./backup-schedule.ts"
import { pacedPartsProblem, parseBandwidthLimit } from "./bandwidth-limit.ts"
import { parseByteSize, parseSizeWithUnit } from "./byte-size.ts"
import { parseDuration } from "./durations.ts"
import { dnsLabelMaxLength, dnsSubdomainProblem } from "./k8s-names.ts"
import type { OperandTable } from "./operands.ts"
import { backupPodSpecHash, renderBackupPod, type BackupPod } from "./pod-spec.ts"
import { BackupPodOptions, defaultPodOptions, storeOptionsProblem } from "./backup-pod-options.ts"
import { backupPodPaths, specHashAnnotation } from "./backup-pod-names.ts"
import { defaultUploadTransfer, storeRetentionOf, type BackupStoreOptions, type StoreRetention } from "./pod-store-options.ts"
import type { RevisionSet } from "./revisions.ts"
import { formatRfc3339Utc, isRfc3339Millis } from "./rfc3339.ts"
import { firstKeyedProblem } from "./schema-errors.ts"

/** On every pod a policy created: the policy's name (`policyLabelValue`). */
export const policyNameLabel = "backup.openshift.io/policy"
/** Why the run started: Schedule | CatchUp | RevisionChange | Retry | Requested. */
export const backupTriggerAnnotation = "backup.openshift.io/trigger"
/** The due time a Schedule or CatchUp run stands for (RFC 3339). */
export const scheduledTimeAnnotation = "backup.openshift.io/scheduled-time"
/**
 * On a BackupPolicy: a person asks for a backup now (`cluster-backup backup-now`, or by hand with `oc annotate
 * --overwrite`); each new value is one request. On the pod started for it: that value.
 */
export const backupRequestAnnotation = "backup.openshift.io/backup-requested"

/** The request an object's annotations carry (`backupRequestAnnotation`); none when absent or blank. */
export const requestIn = (annotations: Readonly<Record<string, string>> | undefined): string | undefined =>
  annotations?.[backupRequestAnnotation]?.trim() || undefined

export const policyApiVersion = "backup.openshift.io/v1alpha1"
export const policyKind = "BackupPolicy"

/**
 * How long a policy's pod keeps `/backup` after the upload: a policy's backup is done once it is in
 * the store, so the pod ends (Succeeded) right away instead of holding it for `oc cp`.
 */
export const policyPodHoldSeconds = 1
/** The policy's deadline when it gives none (the CRD's default). */
export const defaultPolicyDeadlineSeconds = 3600

/**
 * The operator's upload settings and cluster ID for its policies' pods, given whether or not the operator has a store
 * of its own (`--upload-part-size`, `--upload-parts-in-flight`, `--upload-deadline`, `--cluster-id`).
 */
export interface PolicyUploadSettings {
  readonly partSize: string
  readonly partsInFlight: number
  readonly deadlineSeconds: number
  readonly bandwidthLimit?: string | undefined
  readonly clusterId?: string | undefined
}

export interface PolicyPodInput {
  readonly policy: BackupPolicy
  readonly revisions: RevisionSet
  /** The operator's own flags (image, resources, namespace, transfer settings and cluster ID of `store`, ...). */
  readonly podOptions: Partial<BackupPodOptions>
  /** The operator's upload settings; without them, those of the operator's own store, else the defaults. */
  readonly upload?: PolicyUploadSettings | undefined
  readonly table: OperandTable
  readonly trigger: Trigger
  /** Epoch ms, from Clock. */
  readonly startedAt: number
  readonly scheduledTime: number | undefined
}

export class PolicyPodInvalid extends Schema.TaggedError<PolicyPodInvalid>()("PolicyPodInvalid", {
  policy: Schema.String,
  key: Schema.String,
  message: Schema.String,
}) {}

const shortHash = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex").slice(0, 8)

/** `text` cut to `max` characters, ending on a letter or digit; a hash of the whole keeps cut names apart. */
const fitted = (text: string, max: number, exact: boolean): string => {
  if (exact && text.length <= max) return text
  const head = text.slice(0, max - 9).replace(/[^A-Za-z0-9]+$/, "")
  return `${head === "" ? "p" : head}-${shortHash(text)}`
}

/** The policy's name as a label value (at most 63 characters; a longer name is cut and hashed). */
export const policyLabelValue = (policyName: string): string =>
  fitted(policyName.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, ""), dnsLabelMaxLength, dnsSubdomainProblem(policyName) === undefined)

/** `20261202-151400`, the second `ms` falls in (UTC); an instant outside years 0000-9999 by its number. */
const compactTime = (ms: number): string =>
  isRfc3339Millis(ms)
    ? new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-")
    : `t${Math.abs(Math.trunc(Number.isFinite(ms) ? ms / 1000 : 0)).toString(36)}`

/**
 * `backup-<policy>-<YYYYMMDD-HHMMSS>` for a run started at `startedAt`: a DNS-1123 label of at most
 * 63 characters, the same for the same policy and second, different for different ones (a name that
 * had to be cut or changed, dots included, carries a hash of the whole).
 */
export const policyPodName = (policyName: string, startedAt: number): string => {
  const stamp = compactTime(startedAt)
  const lowered = policyName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
  const exact = lowered === policyName && dnsSubdomainProblem(policyName) === undefined
  return `backup-${fitted(lowered, dnsLabelMaxLength - "backup-".length - stamp.length - 1, exact)}-${stamp}`
}

type Invalid = (key: string, message: string) => PolicyPodInvalid

/**
 * The policy's retention as backup-upload's prune flags take it (seconds, bytes), with the operator's
 * leftover grace when it set one (given with or without rules of the operator's own).
 */
const storeRetention = (
  policy: BackupPolicy,
  operatorGraceSeconds: number | undefined,
  invalid: Invalid,
): Result.Result<StoreRetention | undefined, PolicyPodInvalid> => {
  const r = policy.spec.retention
  if (r === undefined) return Result.succeed(undefined)
  const maxAge = r.maxAge === undefined ? undefined : parseDuration(r.maxAge)
  if (maxAge !== undefined && Result.isFailure(maxAge)) return Result.fail(invalid("spec.retention.maxAge", maxAge.failure.message))
  const maxTotal = r.maxTotalSize === undefined ? undefined : parseSizeWithUnit(r.maxTotalSize)
  if (maxTotal !== undefined && Result.isFailure(maxTotal)) return Result.fail(invalid("spec.retention.maxTotalSize", maxTotal.failure.message))
  const rules = { ...r, maxAgeMs: maxAge?.success, maxTotalBytes: maxTotal?.success }
  const graceMs = operatorGraceSeconds === undefined ? undefined : operatorGraceSeconds * 1000
  return Result.succeed(storeRetentionOf(rules, graceMs))
}

/** A policy's upload settings and cluster ID: the operator's upload settings, else those of its own store, else backup-upload's defaults. */
export const policyUploadSettings = (upload: PolicyUploadSettings | undefined, operatorStore: BackupStoreOptions | undefined): PolicyUploadSettings => {
  const operator = upload ?? operatorStore
  return {
    partSize: operator?.partSize ?? defaultUploadTransfer.partSize,
    partsInFlight: operator?.partsInFlight ?? defaultUploadTransfer.partsInFlight,
    deadlineSeconds: operator?.deadlineSeconds ?? defaultUploadTransfer.deadlineSeconds,
    ...(operator?.bandwidthLimit === undefined ? {} : { bandwidthLimit: operator.bandwidthLimit }),
    ...(operator?.clusterId === undefined ? {} : { clusterId: operator.clusterId }),
  }
}

/**
 * The policy's bandwidth limit, else the operator's (its upload settings as `policyUploadSettings` gives them): one the
 * upload cannot take, or (to S3) at which the operator's parts in flight are too slow for prune's patience, is refused,
 * naming the field. The operator checks it as it reads the policy, before a backup is due.
 */
export const policyBandwidthLimit = (
  policy: BackupPolicy,
  operator: PolicyUploadSettings,
): Result.Result<string | undefined, { readonly key: string; readonly problem: string }> => {
  const own = policy.spec.store.bandwidthLimit
  const given = own ?? operator.bandwidthLimit
  if (given === undefined) return Result.succeed(undefined)
  const key = own === undefined ? "the operator's --upload-bandwidth-limit" : "spec.store.bandwidthLimit"
  const rate = parseBandwidthLimit(given)
  if (Result.isFailure(rate)) return Result.fail({ key, problem: rate.failure.message })
  const tooSlow =
    policy.spec.store.s3 === undefined
      ? undefined
      : pacedPartsProblem(Result.getOrThrow(parseByteSize(operator.partSize)), operator.partsInFlight, rate.success, {
          partSize: "the operator's --upload-part-size",
          partsInFlight: "--upload-parts-in-flight",
        })
  return tooSlow === undefined ? Result.succeed(given) : Result.fail({ key, problem: `is too slow for an S3 store: ${tooSlow}` })
}

/** The policy's store as backup-upload's options; the transfer settings and cluster ID are the operator's. */
const storeOptions = (input: PolicyPodInput, deadlineSeconds: number, invalid: Invalid): Result.Result<BackupStoreOptions, PolicyPodInvalid> => {
  const { s3, pvc } = input.policy.spec.store
  if ((s3 === undefined) === (pvc === undefined)) return Result.fail(invalid("spec.store", "give exactly one of s3 and pvc"))
  const operator = policyUploadSettings(input.upload, input.podOptions.store)
  const retention = storeRetention(input.policy, input.podOptions.storeLeftoverGraceSeconds, invalid)
  if (Result.isFailure(retention)) return Result.fail(retention.failure)
  const limit = policyBandwidthLimit(input.policy, operator)
  if (Result.isFailure(limit)) return Result.fail(invalid(limit.failure.key, limit.failure.problem))
  // A policy that encrypts must never store in the clear: its Secrets go with either store kind.
  const { recipientsSecret, resourcesRecipientsSecret } = s3 ?? pvc!
  const common = {
    ...(recipientsSecret === undefined ? {} : { recipientsSecret: recipientsSecret.name }),
    ...(resourcesRecipientsSecret === undefined ? {} : { resourcesRecipientsSecret: resourcesRecipientsSecret.name }),
    ...(operator.clusterId === undefined ? {} : { clusterId: operator.clusterId }),
    partSize: operator.partSize,
    partsInFlight: operator.partsInFlight,
    ...(limit.success === undefined ? {} : { bandwidthLimit: limit.success }),
    // The upload cannot outlive the pod.
    deadlineSeconds: Math.min(operator.deadlineSeconds, deadlineSeconds),
    ...(retention.success === undefined ? {} : { retention: retention.success }),
    reportFile: backupPodPaths.terminationLog,
  } as const
  if (pvc !== undefined) {
    return Result.succeed({ claimName: pvc.claimName, ...(pvc.subPath === undefined || pvc.subPath === "" ? {} : { prefix: pvc.subPath }), ...common })
  }
  const s = s3!
  const prefix = s.prefix === undefined ? "" : `/${s.prefix.replace(/^\/+/, "")}`
  return Result.succeed({
    s3Url: `s3://${s.bucket}${prefix}`,
    ...(s.endpoint === undefined ? {} : { s3Endpoint: s.endpoint }),
    ...(s.region === undefined ? {} : { s3Region: s.region }),
    ...(s.forcePathStyle === undefined ? {} : { s3Addressing: s.forcePathStyle ? "path" : "virtual" }),
    ...(s.credentialsSecret === undefined ? {} : { credentialsSecret: s.credentialsSecret.name }),
    ...(s.caBundleConfigMap === undefined ? {} : { caConfigMap: s.caBundleConfigMap.name }),
    ...(s.webIdentityRoleARN === undefined ? {} : { webIdentityRoleArn: s.webIdentityRoleARN }),
    ...(s.serverSideEncryption === undefined ? {} : { s3ServerSideEncryption: s.serverSideEncryption }),
    ...(s.kmsKeyId === undefined ? {} : { s3KmsKeyId: s.kmsKeyId }),
    ...common,
  })
}

const decodeOptions = Schema.decodeUnknownResult(BackupPodOptions, { onExcessProperty: "error" })

/**
 * The pod of one run of `input.policy`. Refuses (naming the policy's field) a policy without a uid
 * (it could not own the pod), a store that is not exactly one of s3 and pvc or whose settings do not
 * combine, and retention values backup-upload cannot take.
 */
export const renderPolicyBackupPod = (input: PolicyPodInput): Result.Result<BackupPod, PolicyPodInvalid> => {
  const { policy } = input
  const name = policy.metadata.name
  const invalid: Invalid = (key, message) => new PolicyPodInvalid({ policy: name, key, message: `BackupPolicy ${name}: ${key} ${message}` })
  const uid = policy.metadata.uid
  if (uid === undefined || uid === "") return Result.fail(invalid("metadata.uid", "is missing: a pod can only be owned by a policy read from the API server"))
  const deadline = policy.spec.activeDeadlineSeconds ?? defaultPolicyDeadlineSeconds
  const store = storeOptions(input, deadline, invalid)
  if (Result.isFailure(store)) return Result.fail(store.failure)
  const verify = policy.spec.verify === undefined || policy.spec.verify === "None" ? undefined : policy.spec.verify
  const decoded = decodeOptions({
    ...defaultPodOptions,
    ...input.podOptions,
    holdSeconds: policyPodHoldSeconds,
    activeDeadlineSeconds: deadline,
    store: store.success,
    ...(verify === undefined ? {} : { verify }),
  })
  if (Result.isFailure(decoded)) {
    const { key, message } = firstKeyedProblem(decoded.failure)
    return Result.fail(invalid(key.startsWith("store") ? `spec.${key}` : `operator option ${key}`, message))
  }
  const problem = storeOptionsProblem(store.success)
  if (problem !== undefined) return Result.fail(invalid(`spec.store (${problem.key})`, problem.problem))
  const rendered = renderBackupPod(input.revisions, decoded.success, input.table)
  const { generateName: _generated, ...metadata } = rendered.metadata
  const { [specHashAnnotation]: _hash, ...annotations } = metadata.annotations
  const pod: BackupPod = {
    ...rendered,
    metadata: {
      ...metadata,
      name: policyPodName(name, input.startedAt),
      labels: { ...metadata.labels, [policyNameLabel]: policyLabelValue(name) },
      annotations: {
        ...annotations,
        [backupTriggerAnnotation]: input.trigger,
        ...(input.scheduledTime === undefined || !isRfc3339Millis(input.scheduledTime)
          ? {}
          : { [scheduledTimeAnnotation]: formatRfc3339Utc(input.scheduledTime) }),
      },
      // No blockOwnerDeletion: OpenShift's OwnerReferencesPermissionEnforcement refuses it unless the creator may update
      // backuppolicies/finalizers, which the operator neither needs nor is granted; the collector deletes the pods anyway.
      ownerReferences: [{ apiVersion: policyApiVersion, kind: policyKind, name, uid, controller: true }],
    },
  }
  return Result.succeed({ ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [specHashAnnotation]: backupPodSpecHash(pod) } } })
}
