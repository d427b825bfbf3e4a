/**
 * The `cluster-backup` pod, rendered from the revisions to back up: init containers take the etcd
 * snapshot, rebuild each operand's revision from its `<name>-<N>` ConfigMaps and Secrets, and
 * write the tarball and manifest; the last container keeps `/backup` available for `oc cp` for a
 * bounded time. The pod is unprivileged (no host access, read-only root, all capabilities
 * dropped). Rendering is deterministic: the same input gives the same bytes, and the
 * `spec-hash` annotation detects any change.
 */
import { createHash } from "node:crypto"
import { Result, Schema } from "effect"
import { defaultEtcdPrefix, etcdPrefixProblem } from "./etcd-prefix.ts"
import { dnsLabelProblem, dnsSubdomainProblem } from "./k8s-names.ts"
import { defaultOperands, encodeResourceOverrides, operandList, operandNames, resourceOverridesOf, type OperandName, type OperandTable } from "./operands.ts"
import { formatRevisionSet, parseRevisionsFlag, type RevisionSet } from "./revisions.ts"
import { firstKeyedProblem } from "./schema-errors.ts"
import { canonicalYaml } from "./yaml-text.ts"

/** The binary every container runs (the image's entrypoint). */
export const backupBinary = "cluster-backup"

/**
 * The snapshot container's environment. A small V8 young generation keeps the streaming
 * process's peak memory near its floor whatever the database size (bench/README.md); V8 fixes
 * it at start-up, so it can only be set from outside the process.
 */
export const backupInitEnv: ReadonlyArray<{ readonly name: string; readonly value: string }> = [
  { name: "NODE_OPTIONS", value: "--max-semi-space-size=4" },
]

/** The flag carrying replaced resource lists (`encodeResourceOverrides`) to the pod's commands. */
export const operandResourcesJsonFlag = "--operand-resources-json"

/** Paths inside the pod; the CLI subcommands' defaults must agree. */
export const backupPodPaths = {
  backupDir: "/backup",
  etcdClientDir: "/var/run/secrets/etcd-client",
  etcdCert: "/var/run/secrets/etcd-client/tls.crt",
  etcdKey: "/var/run/secrets/etcd-client/tls.key",
  etcdCaDir: "/var/run/configmaps/etcd-ca",
  etcdCaBundle: "/var/run/configmaps/etcd-ca/ca-bundle.crt",
  tmpDir: "/tmp",
} as const

/** Where the etcd client credentials come from (in the pod's namespace). */
export const etcdClientSecretName = "etcd-client"
export const etcdCaConfigMapName = "etcd-ca-bundle"

export const backupPodGenerateName = "cluster-backup-"
export const nameLabel = "app.kubernetes.io/name"
export const managedByLabel = "app.kubernetes.io/managed-by"
export const backupPodLabelValues = { [nameLabel]: "cluster-backup", [managedByLabel]: "cluster-backup-operator" } as const
/** `backup.openshift.io/<operand>-revision`: selects backup pods by revision. */
export const revisionLabel = (operand: OperandName): string => `backup.openshift.io/${operand}-revision`
/** `etcd=3,kube-apiserver=7,...` (see `formatRevisionSet`). */
export const revisionsAnnotation = "backup.openshift.io/revisions"
/** sha256 (hex) of the pod's canonical YAML without this annotation. */
export const specHashAnnotation = "backup.openshift.io/spec-hash"

/** Init container names in run order, then the holding container. */
export const backupInitContainerName = "backup-init"
export const resourcesContainerName = (short: string): string => `backup-${short}-resources`
export const backupCreateContainerName = "backup-create"
export const backupHoldContainerName = "backup-hold"

// ---------------------------------------------------------------------------------------------
// Options

const quantityPattern = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/
/** A Kubernetes resource quantity (`20Gi`, `100m`, `1.5`). */
export const Quantity = Schema.String.check(Schema.isPattern(quantityPattern, { expected: "a Kubernetes quantity such as 20Gi or 100m" }))

const DnsLabel = Schema.String.check(Schema.makeFilter((s: string) => dnsLabelProblem(s) ?? undefined, { expected: "a DNS-1123 label" }))
const DnsSubdomain = Schema.String.check(
  Schema.makeFilter((s: string) => dnsSubdomainProblem(s) ?? undefined, { expected: "a DNS-1123 subdomain" }),
)
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
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

export const BackupPodOptions = Schema.Struct({
  namespace: DnsLabel,
  image: Schema.String.check(Schema.isPattern(/^[^\s]+$/, { expected: "an image reference without blanks" })),
  imagePullPolicy: Schema.Literals(["Always", "IfNotPresent", "Never"]),
  serviceAccountName: DnsSubdomain,
  /** Comma-separated https URLs of the etcd members or Service. */
  etcdEndpoints: Schema.String.check(
    Schema.isPattern(/^https:\/\/[^\s,]+(,https:\/\/[^\s,]+)*$/, { expected: "comma-separated https:// URLs" }),
  ),
  /** The etcd key prefix the API server stores its objects under (backup-init reads the operator CRs there). */
  etcdPrefix: Schema.String.check(Schema.makeFilter((s: string) => etcdPrefixProblem(s) ?? undefined, { expected: "an etcd key prefix such as /kubernetes.io" })),
  /** How long the last container keeps `/backup` available, in seconds. */
  holdSeconds: PositiveInt,
  /** Hard limit on the pod's whole life; must leave room after `holdSeconds` for the backup itself. */
  activeDeadlineSeconds: PositiveInt,
  backupVolumeSizeLimit: Quantity,
  tmpVolumeSizeLimit: Quantity,
  resources: ContainerResources,
  priorityClassName: Schema.optionalKey(DnsSubdomain),
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
  if (o.activeDeadlineSeconds < o.holdSeconds + minBackupSeconds) {
    return Result.fail(
      new BackupPodOptionsInvalid({
        key: "activeDeadlineSeconds",
        message: `backup pod option activeDeadlineSeconds (${o.activeDeadlineSeconds}) must be at least holdSeconds (${o.holdSeconds}) + ${minBackupSeconds}, or the pod is killed while holding a finished backup`,
      }),
    )
  }
  return Result.succeed(o)
}

// ---------------------------------------------------------------------------------------------
// The pod

export interface VolumeMount {
  readonly name: string
  readonly mountPath: string
  readonly readOnly?: boolean
}

export interface BackupContainer {
  readonly name: string
  readonly image: string
  readonly imagePullPolicy: string
  readonly command: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly resources: ContainerResources
  readonly securityContext: {
    readonly allowPrivilegeEscalation: false
    readonly capabilities: { readonly drop: ReadonlyArray<"ALL"> }
    readonly readOnlyRootFilesystem: true
    readonly runAsNonRoot: true
    readonly seccompProfile: { readonly type: "RuntimeDefault" }
  }
  readonly terminationMessagePolicy: "FallbackToLogsOnError"
  readonly volumeMounts: ReadonlyArray<VolumeMount>
}

export type BackupVolume =
  | { readonly name: string; readonly emptyDir: { readonly sizeLimit: string } }
  | { readonly name: string; readonly secret: { readonly secretName: string } }
  | { readonly name: string; readonly configMap: { readonly name: string } }

export interface BackupPod {
  readonly apiVersion: "v1"
  readonly kind: "Pod"
  readonly metadata: {
    readonly generateName: string
    readonly namespace: string
    readonly labels: Readonly<Record<string, string>>
    readonly annotations: Readonly<Record<string, string>>
  }
  readonly spec: {
    readonly activeDeadlineSeconds: number
    readonly initContainers: ReadonlyArray<BackupContainer>
    readonly containers: ReadonlyArray<BackupContainer>
    readonly priorityClassName?: string
    readonly restartPolicy: "Never"
    readonly securityContext: { readonly runAsNonRoot: true; readonly seccompProfile: { readonly type: "RuntimeDefault" } }
    readonly serviceAccountName: string
    readonly volumes: ReadonlyArray<BackupVolume>
  }
}

const volumes = { backup: "backup", etcdClient: "etcd-client", etcdCa: "etcd-ca", tmp: "tmp" } as const

const commonMounts: ReadonlyArray<VolumeMount> = [
  { name: volumes.backup, mountPath: backupPodPaths.backupDir },
  { name: volumes.tmp, mountPath: backupPodPaths.tmpDir },
]

const container = (
  options: BackupPodOptions,
  name: string,
  args: ReadonlyArray<string>,
  extraMounts: ReadonlyArray<VolumeMount> = [],
  env: ReadonlyArray<{ readonly name: string; readonly value: string }> = [],
): BackupContainer => ({
  name,
  image: options.image,
  imagePullPolicy: options.imagePullPolicy,
  command: [backupBinary, ...args],
  ...(env.length === 0 ? {} : { env }),
  resources: options.resources,
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  },
  terminationMessagePolicy: "FallbackToLogsOnError",
  volumeMounts: [...commonMounts, ...extraMounts],
})

const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

const withoutSpecHash = (pod: BackupPod): BackupPod => {
  const { [specHashAnnotation]: _omitted, ...annotations } = pod.metadata.annotations
  return { ...pod, metadata: { ...pod.metadata, annotations } }
}

/** The canonical YAML of a pod (sorted keys, quoted strings): what `oc create -f -` reads. */
export const backupPodYaml = (pod: BackupPod): string => canonicalYaml(pod)

/** sha256 (hex) of the pod's canonical YAML with the `spec-hash` annotation left out. */
export const backupPodSpecHash = (pod: BackupPod): string => sha256Hex(backupPodYaml(withoutSpecHash(pod)))

/**
 * The backup pod for `revisions`. Options not given take `defaultPodOptions`; they are trusted
 * (decode untrusted ones with `decodeBackupPodOptions`). The pod has `generateName`, so
 * `oc create -f -` can create it again and again.
 */
export const renderBackupPod = (
  revisions: RevisionSet,
  options: Partial<BackupPodOptions> = {},
  table: OperandTable = defaultOperands,
): BackupPod => {
  const o: BackupPodOptions = { ...defaultPodOptions, ...options }
  const dir = ["--backup-dir", backupPodPaths.backupDir]
  // A replaced resource list travels with the pod: its containers back up what it was rendered for.
  const overrides = resourceOverridesOf(table)
  const lists = overrides === undefined ? [] : [operandResourcesJsonFlag, encodeResourceOverrides(overrides)]
  const pod: BackupPod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: backupPodGenerateName,
      namespace: o.namespace,
      labels: {
        ...backupPodLabelValues,
        ...Object.fromEntries(operandNames.map((name) => [revisionLabel(name), String(revisions[name])])),
      },
      annotations: { [revisionsAnnotation]: formatRevisionSet(revisions) },
    },
    spec: {
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      initContainers: [
        container(
          o,
          backupInitContainerName,
          [
            "backup-init", ...dir,
            "--etcd-endpoints", o.etcdEndpoints,
            "--etcd-cert", backupPodPaths.etcdCert,
            "--etcd-key", backupPodPaths.etcdKey,
            "--etcd-cacert", backupPodPaths.etcdCaBundle,
            // Only when it differs, so pods rendered for OpenShift's prefix keep their bytes (and spec hash).
            ...(o.etcdPrefix === defaultEtcdPrefix ? [] : ["--etcd-prefix", o.etcdPrefix]),
          ],
          [
            { name: volumes.etcdClient, mountPath: backupPodPaths.etcdClientDir, readOnly: true },
            { name: volumes.etcdCa, mountPath: backupPodPaths.etcdCaDir, readOnly: true },
          ],
          backupInitEnv,
        ),
        ...operandList(table).map((operand) =>
          container(o, resourcesContainerName(operand.short), [
            "backup-resources", ...dir, "--operand", operand.name, "--revision", String(revisions[operand.name]), ...lists,
          ]),
        ),
        container(o, backupCreateContainerName, ["backup-create", ...dir, "--revisions", formatRevisionSet(revisions), ...lists]),
      ],
      containers: [container(o, backupHoldContainerName, ["hold", ...dir, "--duration", `${o.holdSeconds}s`])],
      ...(o.priorityClassName === undefined ? {} : { priorityClassName: o.priorityClassName }),
      restartPolicy: "Never",
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      serviceAccountName: o.serviceAccountName,
      volumes: [
        { name: volumes.backup, emptyDir: { sizeLimit: o.backupVolumeSizeLimit } },
        { name: volumes.etcdClient, secret: { secretName: etcdClientSecretName } },
        { name: volumes.etcdCa, configMap: { name: etcdCaConfigMapName } },
        { name: volumes.tmp, emptyDir: { sizeLimit: o.tmpVolumeSizeLimit } },
      ],
    },
  }
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [specHashAnnotation]: backupPodSpecHash(pod) } },
  }
}

/** `renderBackupPod` then `backupPodYaml`. */
export const renderBackupPodYaml = (
  revisions: RevisionSet,
  options: Partial<BackupPodOptions> = {},
  table: OperandTable = defaultOperands,
): string => backupPodYaml(renderBackupPod(revisions, options, table))

/** The revisions a pod (as read from the API: unknown) was rendered for, from its annotation; `undefined` when it names none. */
export const revisionsOfBackupPod = (pod: unknown): RevisionSet | undefined => {
  const metadata = pod !== null && typeof pod === "object" ? (pod as { metadata?: unknown }).metadata : undefined
  const annotations = metadata !== null && typeof metadata === "object" ? (metadata as { annotations?: unknown }).annotations : undefined
  const value = annotations !== null && typeof annotations === "object" ? (annotations as Record<string, unknown>)[revisionsAnnotation] : undefined
  if (typeof value !== "string") return undefined
  const parsed = parseRevisionsFlag(value)
  return Result.isSuccess(parsed) ? parsed.success : undefined
}
