/**
 * The Kubernetes objects the project reads and writes, as Schemas of their JSON wire form.
 *
 * Stored objects (what the API returns) require `metadata.name`; `New*` variants are what a
 * create sends (`name` or `generateName`). Fields the project does not interpret are kept as
 * `unknown` (pod spec, operator CR spec/status) so the domain decodes them with its own Schemas.
 * Secret values decode to `Redacted<Uint8Array>`: printing or JSON-encoding a Secret shows
 * `<redacted>`, never the value.
 */
import { Redacted, Schema } from "effect"

const StringMap = Schema.Record(Schema.String, Schema.String)
/** RFC 3339 time; the API writes `null` for an unset `metav1.Time`. */
const Time = Schema.NullOr(Schema.String)
const opt = Schema.optionalKey

export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: opt(Schema.Boolean),
  blockOwnerDeletion: opt(Schema.Boolean),
})
export type OwnerReference = typeof OwnerReference.Type

const metaFields = {
  namespace: opt(Schema.String),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  ownerReferences: opt(Schema.Array(OwnerReference)),
  finalizers: opt(Schema.Array(Schema.String)),
}

/** Metadata of a stored object. Server-assigned fields are optional, as in the API types. */
export const ObjectMeta = Schema.Struct({
  name: Schema.String,
  generateName: opt(Schema.String),
  ...metaFields,
  uid: opt(Schema.String),
  resourceVersion: opt(Schema.String),
  generation: opt(Schema.Number),
  creationTimestamp: opt(Time),
  deletionTimestamp: opt(Time),
})
export type ObjectMeta = typeof ObjectMeta.Type

/** Metadata of an object to create: `name`, or `generateName` for a server-chosen suffix. */
export const NewObjectMeta = Schema.Struct({
  name: opt(Schema.String),
  generateName: opt(Schema.String),
  ...metaFields,
})
export type NewObjectMeta = typeof NewObjectMeta.Type

const typeFields = { apiVersion: opt(Schema.String), kind: opt(Schema.String) }

const configMapFields = {
  ...typeFields,
  data: opt(StringMap),
  /** Base64 on the wire, bytes here. */
  binaryData: opt(Schema.Record(Schema.String, Schema.Uint8ArrayFromBase64)),
  immutable: opt(Schema.Boolean),
}
export const ConfigMap = Schema.Struct({ metadata: ObjectMeta, ...configMapFields })
export type ConfigMap = typeof ConfigMap.Type
export const NewConfigMap = Schema.Struct({ metadata: NewObjectMeta, ...configMapFields })
export type NewConfigMap = typeof NewConfigMap.Type

/** A Secret value: base64 on the wire, redacted bytes here. */
export const SecretValue = Schema.RedactedFromValue(Schema.Uint8ArrayFromBase64)
const secretFields = {
  ...typeFields,
  type: opt(Schema.String),
  data: opt(Schema.Record(Schema.String, SecretValue)),
  immutable: opt(Schema.Boolean),
}
export const Secret = Schema.Struct({ metadata: ObjectMeta, ...secretFields })
export type Secret = typeof Secret.Type
export const NewSecret = Schema.Struct({ metadata: NewObjectMeta, ...secretFields })
export type NewSecret = typeof NewSecret.Type

export const ContainerStateTerminated = Schema.Struct({
  exitCode: Schema.Int,
  signal: opt(Schema.Int),
  reason: opt(Schema.String),
  /** The container's termination message (`terminationMessagePath`). */
  message: opt(Schema.String),
  startedAt: opt(Time),
  finishedAt: opt(Time),
  containerID: opt(Schema.String),
})
export const ContainerState = Schema.Struct({
  waiting: opt(Schema.Struct({ reason: opt(Schema.String), message: opt(Schema.String) })),
  running: opt(Schema.Struct({ startedAt: opt(Time) })),
  terminated: opt(ContainerStateTerminated),
})
export type ContainerState = typeof ContainerState.Type
export const ContainerStatus = Schema.Struct({
  name: Schema.String,
  ready: opt(Schema.Boolean),
  started: opt(Schema.Boolean),
  restartCount: opt(Schema.Int),
  image: opt(Schema.String),
  imageID: opt(Schema.String),
  containerID: opt(Schema.String),
  state: opt(ContainerState),
  lastState: opt(ContainerState),
})
export type ContainerStatus = typeof ContainerStatus.Type
export const PodPhase = Schema.Literals(["Pending", "Running", "Succeeded", "Failed", "Unknown"])
export type PodPhase = typeof PodPhase.Type
export const PodStatus = Schema.Struct({
  phase: opt(PodPhase),
  reason: opt(Schema.String),
  message: opt(Schema.String),
  startTime: opt(Time),
  conditions: opt(
    Schema.Array(
      Schema.Struct({
        type: Schema.String,
        status: Schema.String,
        reason: opt(Schema.String),
        message: opt(Schema.String),
        lastTransitionTime: opt(Time),
      }),
    ),
  ),
  initContainerStatuses: opt(Schema.Array(ContainerStatus)),
  containerStatuses: opt(Schema.Array(ContainerStatus)),
})
export type PodStatus = typeof PodStatus.Type
/** The pod spec is the domain's (rendered and checked there); here it is opaque JSON. */
export const PodSpec = Schema.Record(Schema.String, Schema.Unknown)
export const Pod = Schema.Struct({ ...typeFields, metadata: ObjectMeta, spec: PodSpec, status: opt(PodStatus) })
export type Pod = typeof Pod.Type
export const NewPod = Schema.Struct({ ...typeFields, metadata: NewObjectMeta, spec: PodSpec })
export type NewPod = typeof NewPod.Type

/**
 * An `operator.openshift.io/v1` operator CR. `status` stays unknown-valued: the domain decodes
 * `latestAvailableRevision`, `nodeStatuses` and `conditions` with its own Schemas.
 */
export const OperatorCr = Schema.Struct({
  ...typeFields,
  metadata: ObjectMeta,
  spec: opt(Schema.Record(Schema.String, Schema.Unknown)),
  status: opt(Schema.Record(Schema.String, Schema.Unknown)),
})
export type OperatorCr = typeof OperatorCr.Type

/**
 * A `backup.openshift.io/v1alpha1` BackupPolicy, deliberately loose: `spec` and `status` stay unknown so one
 * malformed policy does not fail a list; the operator decodes each with the domain's `decodeBackupPolicy`.
 */
export const BackupPolicyObject = Schema.Struct({
  ...typeFields,
  metadata: ObjectMeta,
  spec: Schema.Unknown,
  status: opt(Schema.Unknown),
})
export type BackupPolicyObject = typeof BackupPolicyObject.Type

export const LeaseSpec = Schema.Struct({
  holderIdentity: opt(Schema.String),
  leaseDurationSeconds: opt(Schema.Int),
  /** MicroTime (RFC 3339 with microseconds). */
  acquireTime: opt(Time),
  renewTime: opt(Time),
  leaseTransitions: opt(Schema.Int),
  // Coordinated leader election fields: kept so an update does not clear them.
  strategy: opt(Schema.String),
  preferredHolder: opt(Schema.String),
})
export type LeaseSpec = typeof LeaseSpec.Type
export const Lease = Schema.Struct({ ...typeFields, metadata: ObjectMeta, spec: opt(LeaseSpec) })
export type Lease = typeof Lease.Type
export const NewLease = Schema.Struct({ ...typeFields, metadata: NewObjectMeta, spec: opt(LeaseSpec) })
export type NewLease = typeof NewLease.Type

export const ObjectReference = Schema.Struct({
  apiVersion: opt(Schema.String),
  kind: opt(Schema.String),
  name: opt(Schema.String),
  namespace: opt(Schema.String),
  uid: opt(Schema.String),
  resourceVersion: opt(Schema.String),
  fieldPath: opt(Schema.String),
})
export type ObjectReference = typeof ObjectReference.Type
export const EventSource = Schema.Struct({ component: opt(Schema.String), host: opt(Schema.String) })
const eventFields = {
  ...typeFields,
  involvedObject: ObjectReference,
  source: opt(EventSource),
  firstTimestamp: opt(Time),
  lastTimestamp: opt(Time),
  eventTime: opt(Time),
  count: opt(Schema.Int),
  action: opt(Schema.String),
  reportingComponent: opt(Schema.String),
  reportingInstance: opt(Schema.String),
}
/** A core/v1 Event as stored. */
export const Event = Schema.Struct({
  metadata: ObjectMeta,
  ...eventFields,
  reason: opt(Schema.String),
  message: opt(Schema.String),
  type: opt(Schema.String),
})
export type Event = typeof Event.Type
/** A core/v1 Event to record: reason, message and type are required. */
export const NewEvent = Schema.Struct({
  metadata: NewObjectMeta,
  ...eventFields,
  reason: Schema.String,
  message: Schema.String,
  type: Schema.Literals(["Normal", "Warning"]),
})
export type NewEvent = typeof NewEvent.Type

/** The wire form of a list response. */
export const ListBody = <S extends Schema.Top>(item: S) =>
  Schema.Struct({
    metadata: opt(Schema.Struct({ resourceVersion: opt(Schema.String) })),
    items: Schema.NullOr(Schema.Array(item)),
  })

/** Just enough of any object to track its resourceVersion (watch bookmarks, raw events). */
export const MetaOnly = Schema.Struct({
  metadata: Schema.Struct({ resourceVersion: opt(Schema.String), name: opt(Schema.String), namespace: opt(Schema.String) }),
})

// ---------------------------------------------------------------------------------------------
// Byte helpers

const utf8 = new TextEncoder()

/** An own entry of a record: data keys such as `toString` or `constructor` are valid in Kubernetes. */
const own = <A>(record: Readonly<Record<string, A>> | undefined, key: string): A | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

/** The bytes of a ConfigMap key, from `data` (UTF-8) or `binaryData`; undefined when absent. */
export const configMapBytes = (cm: Pick<ConfigMap, "data" | "binaryData">, key: string): Uint8Array | undefined => {
  const text = own(cm.data, key)
  if (text !== undefined) return utf8.encode(text)
  return own(cm.binaryData, key)
}

/** The decoded bytes of a Secret key; undefined when absent. Keep them out of logs. */
export const secretBytes = (secret: Pick<Secret, "data">, key: string): Uint8Array | undefined => {
  const value = own(secret.data, key)
  return value === undefined ? undefined : Redacted.value(value)
}

/** Every key of a Secret with its decoded bytes, sorted by key. */
export const secretEntries = (secret: Pick<Secret, "data">): ReadonlyArray<readonly [string, Uint8Array]> =>
  Object.keys(secret.data ?? {})
    .sort()
    .map((key) => [key, secretBytes(secret, key) ?? new Uint8Array()] as const)

/** Secret `data` from plain values (strings are UTF-8 encoded), for creating or updating one. */
export const secretData = (values: Readonly<Record<string, Uint8Array | string>>): Record<string, Redacted.Redacted<Uint8Array>> =>
  Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Redacted.make(typeof value === "string" ? utf8.encode(value) : value)]))
