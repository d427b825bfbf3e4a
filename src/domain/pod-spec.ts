/**
 * The `cluster-backup` pod, rendered from the revisions to back up: init containers take the etcd
 * snapshot, rebuild each operand's revision from its `<name>-<N>` ConfigMaps and Secrets, and
 * write the tarball and manifest, and (when a store is configured) `backup-upload` copies the
 * backup into the store; the last container keeps `/backup` available for `oc cp` for a bounded
 * time. Store credentials reach only `backup-upload`, as a mounted file. The pod is unprivileged (no host access, read-only root, all capabilities
 * dropped). Rendering is deterministic: the same input gives the same bytes, and the
 * `spec-hash` annotation detects any change.
 */
import { createHash } from "node:crypto"
import { Result } from "effect"
import { formatExactSize } from "./byte-size.ts"
import {
  backupBinary,
  backupCreateContainerName,
  backupHoldContainerName,
  backupInitContainerName,
  backupInitEnv,
  backupPodFsGroup,
  backupPodGenerateName,
  backupPodLabelValues,
  backupPodPaths,
  backupUploadContainerName,
  backupVerifyContainerName,
  etcdCaConfigMapName,
  etcdClientSecretName,
  operandResourcesJsonFlag,
  recipientsSecretKey,
  resourcesContainerName,
  revisionLabel,
  revisionsAnnotation,
  signingKeySecretKey,
  trustedKeysConfigMapKey,
  specHashAnnotation,
  storeCaKey,
  storeCredentialsKey,
  storeCredentialsMode,
} from "./backup-pod-names.ts"
import { type BackupPodOptions, type ContainerResources, defaultPodOptions } from "./backup-pod-options.ts"
import { defaultEtcdPrefix } from "./etcd-prefix.ts"
import { defaultOperands, encodeResourceOverrides, operandList, operandNames, resourceOverridesOf, type OperandTable } from "./operands.ts"
import { formatRevisionSet, parseRevisionsFlag, type RevisionSet } from "./revisions.ts"
import { verificationFileName } from "./verification-file.ts"
import { canonicalYaml } from "./yaml-text.ts"
import { type EnvVar, proxyContainerEnv, proxySecretKeys, proxySecretName } from "./pod-proxy-env.ts"
import { type BackupStoreOptions, type StoreRetention, uploadMemoryMi, webIdentityToken } from "./pod-store-options.ts"
import { encodeVolumeSizeLimits, volumeSizeLimitsEnv } from "./volume-size-limits.ts"
import { type Quantity, quantityBytes } from "./k8s-quantity.ts"

/**
 * With the fsGroup the kubelet makes a Secret volume's files group-readable (0440): the signing key's
 * permission check is overridden for the mount, which only the pod sees.
 */
const allowExposedSigningKeyArg = "--allow-exposed-signing-key"

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
  readonly env?: ReadonlyArray<EnvVar>
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

interface KeyToPath {
  readonly key: string
  readonly path: string
}

export type BackupVolume =
  | { readonly name: string; readonly emptyDir: { readonly sizeLimit: string } }
  | {
      readonly name: string
      readonly secret: { readonly secretName: string; readonly items?: ReadonlyArray<KeyToPath>; readonly defaultMode?: number }
    }
  | { readonly name: string; readonly configMap: { readonly name: string; readonly items?: ReadonlyArray<KeyToPath> } }
  | { readonly name: string; readonly persistentVolumeClaim: { readonly claimName: string } }
  | {
      readonly name: string
      readonly projected: {
        readonly sources: ReadonlyArray<{
          readonly serviceAccountToken: { readonly audience: string; readonly expirationSeconds: number; readonly path: string }
        }>
      }
    }

export interface BackupPod {
  readonly apiVersion: "v1"
  readonly kind: "Pod"
  readonly metadata: {
    /** A policy's pod has a fixed `name` instead (policy-pod.ts). */
    readonly generateName?: string
    readonly name?: string
    readonly namespace: string
    readonly labels: Readonly<Record<string, string>>
    readonly annotations: Readonly<Record<string, string>>
    readonly ownerReferences?: ReadonlyArray<{
      readonly apiVersion: string
      readonly kind: string
      readonly name: string
      readonly uid: string
      readonly controller: true
    }>
  }
  readonly spec: {
    readonly activeDeadlineSeconds: number
    readonly initContainers: ReadonlyArray<BackupContainer>
    readonly containers: ReadonlyArray<BackupContainer>
    readonly priorityClassName?: string
    readonly restartPolicy: "Never"
    readonly securityContext: { readonly fsGroup: number; readonly runAsNonRoot: true; readonly seccompProfile: { readonly type: "RuntimeDefault" } }
    readonly serviceAccountName: string
    readonly volumes: ReadonlyArray<BackupVolume>
  }
}

const volumes = {
  backup: "backup",
  etcdClient: "etcd-client",
  etcdCa: "etcd-ca",
  tmp: "tmp",
  store: "store",
  storeCredentials: "store-credentials",
  storeCa: "store-ca",
  noApiToken: "no-api-token",
  webIdentityToken: "store-web-identity-token",
  signingKey: "signing-key",
  recipients: "recipients",
  resourcesRecipients: "resources-recipients",
  verifyScratch: "verify-scratch",
  proxyCredentials: "proxy-credentials",
  trustedKeys: "trusted-keys",
} as const

const trustedKeysMount: VolumeMount = { name: volumes.trustedKeys, mountPath: backupPodPaths.trustedKeysDir, readOnly: true }

const commonMounts: ReadonlyArray<VolumeMount> = [
  { name: volumes.backup, mountPath: backupPodPaths.backupDir },
  { name: volumes.tmp, mountPath: backupPodPaths.tmpDir },
]

/** The emptyDir volumes a container writes to, by name, and their size limits. */
const emptyDirSizeLimits = (o: BackupPodOptions): Readonly<Record<string, Quantity>> => ({
  [volumes.backup]: o.backupVolumeSizeLimit,
  [volumes.tmp]: o.tmpVolumeSizeLimit,
  [volumes.verifyScratch]: o.backupVolumeSizeLimit,
})

/** The env variable telling a container its writable emptyDir mounts' size limits, which statfs there does not show. */
const volumeSizeLimitsVar = (o: BackupPodOptions, mounts: ReadonlyArray<VolumeMount>): EnvVar => {
  const limits = emptyDirSizeLimits(o)
  const entries = mounts.flatMap((m) => {
    const bytes = m.readOnly === true || limits[m.name] === undefined ? undefined : quantityBytes(limits[m.name]!)
    return bytes === undefined ? [] : [[m.mountPath, bytes] as const]
  })
  return { name: volumeSizeLimitsEnv, value: encodeVolumeSizeLimits(Object.fromEntries(entries)) }
}

const container = (
  options: BackupPodOptions,
  name: string,
  args: ReadonlyArray<string>,
  extraMounts: ReadonlyArray<VolumeMount> = [],
  env: ReadonlyArray<EnvVar> = [],
  resources: ContainerResources = options.resources,
): BackupContainer => ({
  name,
  image: options.image,
  imagePullPolicy: options.imagePullPolicy,
  command: [backupBinary, ...args],
  env: [...env, volumeSizeLimitsVar(options, [...commonMounts, ...extraMounts])],
  resources,
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

/** backup-upload's retention flags (prune's), in a fixed order. */
const retentionArgs = (r: StoreRetention | undefined): ReadonlyArray<string> => {
  if (r === undefined) return []
  const arg = (flag: string, value: number | undefined, format = (n: number) => `${n}`) => (value === undefined ? [] : [flag, format(value)])
  return [
    ...arg("--keep-last", r.keepLast),
    ...arg("--keep-daily", r.keepDaily),
    ...arg("--keep-weekly", r.keepWeekly),
    ...arg("--keep-monthly", r.keepMonthly),
    ...arg("--max-age", r.maxAgeSeconds, (n) => `${n}s`),
    // With its unit: backup-upload refuses a bare number, which would be bytes.
    ...arg("--max-total-size", r.maxTotalBytes, formatExactSize),
    ...arg("--leftover-grace", r.leftoverGraceSeconds, (n) => `${n}s`),
  ]
}

/** Whether backup-upload encrypts (some of) the backup's files. */
const encrypts = (store: BackupStoreOptions): boolean => store.recipientsSecret !== undefined || store.resourcesRecipientsSecret !== undefined

/**
 * The upload container and the volumes only it mounts. Credentials arrive as a mounted shared
 * credentials file (never an env value: `oc describe` and the pod spec show env), the CA bundle
 * as a mounted ConfigMap key; the Secret's and ConfigMap's keys are named, so a missing one stops
 * the pod from starting with a message naming it instead of uploading without it.
 */
const uploadContainer = (
  o: BackupPodOptions,
  store: BackupStoreOptions,
): { readonly container: BackupContainer; readonly volumes: ReadonlyArray<BackupVolume> } => {
  const s3 = store.s3Url !== undefined
  const optional = (flag: string, value: string | undefined) => (value === undefined ? [] : [flag, value])
  // Only a prune reads the trusted keys: an upload without retention takes no --trusted-key (it refuses one).
  const trustsKeys = o.trustedKeysConfigMap !== undefined && retentionArgs(store.retention).length > 0
  const args = [
    "backup-upload",
    "--backup-dir",
    backupPodPaths.backupDir,
    "--store",
    s3 ? store.s3Url! : backupPodPaths.storeDir,
    ...optional("--cluster-id", store.clusterId),
    ...optional("--s3-endpoint", store.s3Endpoint),
    ...optional("--s3-region", store.s3Region),
    ...optional("--s3-addressing", store.s3Addressing),
    ...optional("--s3-ca-bundle", store.caConfigMap === undefined ? undefined : backupPodPaths.storeCaBundle),
    ...optional("--s3-sse", store.s3ServerSideEncryption),
    ...optional("--s3-sse-kms-key-id", store.s3KmsKeyId),
    ...optional("--prefix", store.prefix),
    "--part-size",
    store.partSize,
    "--parts-in-flight",
    String(store.partsInFlight),
    "--deadline",
    `${store.deadlineSeconds}s`,
    ...optional("--bandwidth-limit", store.bandwidthLimit),
    ...retentionArgs(store.retention),
    ...optional("--report-file", store.reportFile),
    // The report names the volume as the policy does, not by where this pod mounts it.
    ...optional("--store-name", store.claimName === undefined ? undefined : `pvc://${store.claimName}`),
    ...optional("--recipients-file", store.recipientsSecret === undefined ? undefined : backupPodPaths.recipientsFile),
    ...optional("--resources-recipients-file", store.resourcesRecipientsSecret === undefined ? undefined : backupPodPaths.resourcesRecipientsFile),
    // Encrypting makes the stored manifest a new one: it is signed here, not by backup-create's signature.
    ...(encrypts(store) && o.signingKeySecret !== undefined ? [allowExposedSigningKeyArg] : []),
    ...optional("--signing-key", encrypts(store) && o.signingKeySecret !== undefined ? backupPodPaths.signingKeyFile : undefined),
    ...optional("--trusted-key", trustsKeys ? backupPodPaths.trustedKeysFile : undefined),
  ]
  const mounts: Array<VolumeMount> = []
  const storeVolumes: Array<BackupVolume> = []
  if (store.claimName !== undefined) {
    mounts.push({ name: volumes.store, mountPath: backupPodPaths.storeDir })
    storeVolumes.push({ name: volumes.store, persistentVolumeClaim: { claimName: store.claimName } })
  }
  if (store.credentialsSecret !== undefined) {
    mounts.push({ name: volumes.storeCredentials, mountPath: backupPodPaths.storeCredentialsDir, readOnly: true })
    storeVolumes.push({
      name: volumes.storeCredentials,
      secret: { secretName: store.credentialsSecret, items: [{ key: storeCredentialsKey, path: storeCredentialsKey }], defaultMode: storeCredentialsMode },
    })
  }
  if (store.caConfigMap !== undefined) {
    mounts.push({ name: volumes.storeCa, mountPath: backupPodPaths.storeCaDir, readOnly: true })
    storeVolumes.push({ name: volumes.storeCa, configMap: { name: store.caConfigMap, items: [{ key: storeCaKey, path: storeCaKey }] } })
  }
  if (store.webIdentityRoleArn !== undefined) {
    // Only this container gets a token STS takes; its audience makes it useless to the API server.
    mounts.push({ name: volumes.webIdentityToken, mountPath: backupPodPaths.webIdentityTokenDir, readOnly: true })
    storeVolumes.push({
      name: volumes.webIdentityToken,
      projected: {
        sources: [{ serviceAccountToken: { audience: webIdentityToken.audience, expirationSeconds: webIdentityToken.expirationSeconds, path: "token" } }],
      },
    })
  }
  for (const [secretName, volume, mountPath] of [
    [store.recipientsSecret, volumes.recipients, backupPodPaths.recipientsDir],
    [store.resourcesRecipientsSecret, volumes.resourcesRecipients, backupPodPaths.resourcesRecipientsDir],
  ] as const) {
    if (secretName === undefined) continue
    mounts.push({ name: volume, mountPath, readOnly: true })
    storeVolumes.push({
      name: volume,
      secret: { secretName, items: [{ key: recipientsSecretKey, path: recipientsSecretKey }], defaultMode: storeCredentialsMode },
    })
  }
  const proxyKeys = proxySecretKeys(o.proxyEnv)
  if (proxyKeys.length > 0) {
    // Nothing reads these files: the env below takes the same keys by secretKeyRef, which the kubelet resolves only
    // when it starts this container, after the snapshot was taken. A volume is mounted before the pod's first
    // container starts, so without the Secret or one of these keys the pod does not start at all.
    mounts.push({ name: volumes.proxyCredentials, mountPath: backupPodPaths.proxyCredentialsDir, readOnly: true })
    storeVolumes.push({
      name: volumes.proxyCredentials,
      secret: { secretName: proxySecretName, items: proxyKeys.map((key) => ({ key, path: key })), defaultMode: storeCredentialsMode },
    })
  }
  if (encrypts(store) && o.signingKeySecret !== undefined) mounts.push({ name: volumes.signingKey, mountPath: backupPodPaths.signingKeyDir, readOnly: true })
  if (trustsKeys) mounts.push(trustedKeysMount)
  // The one container that holds third-party credentials and talks to the outside needs no API
  // access: the ServiceAccount admission adds its token to every container without a mount there.
  mounts.push({ name: volumes.noApiToken, mountPath: backupPodPaths.serviceAccountTokenDir, readOnly: true })
  storeVolumes.push({ name: volumes.noApiToken, emptyDir: { sizeLimit: "1Mi" } })
  const env = [
    ...(store.credentialsSecret === undefined ? [] : [{ name: "AWS_SHARED_CREDENTIALS_FILE", value: backupPodPaths.storeCredentialsFile }]),
    ...(store.webIdentityRoleArn === undefined
      ? []
      : [
          { name: "AWS_ROLE_ARN", value: store.webIdentityRoleArn },
          { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: backupPodPaths.webIdentityTokenFile },
        ]),
    ...proxyContainerEnv(o.proxyEnv),
  ]
  const memory = uploadMemoryMi(store)
  const resources: ContainerResources = {
    requests: { ...o.resources.requests, memory: `${memory.request}Mi` },
    limits: { ...o.resources.limits, memory: `${memory.limit}Mi` },
  }
  return { container: container(o, backupUploadContainerName, args, mounts, env, resources), volumes: storeVolumes }
}

/**
 * etcd's own footprint on a small database plus verify's: a test restore starts a throwaway member,
 * which the default limit would kill (OOM) before it served the snapshot.
 */
export const testRestoreResources: ContainerResources = { requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: "2Gi" } }

/**
 * backup-verify and the scratch volume only it mounts: it checks the finished backup and leaves its
 * report in `/backup/verification.json` (uploaded beside the manifest); a failed check exits non-zero,
 * so backup-upload never runs for a backup that did not pass.
 */
/** `--etcd-prefix P` only when it differs from OpenShift's, so pods rendered for OpenShift's prefix keep their bytes (and spec hash). */
const etcdPrefixArgs = (o: BackupPodOptions): ReadonlyArray<string> => (o.etcdPrefix === defaultEtcdPrefix ? [] : ["--etcd-prefix", o.etcdPrefix])

/** `--cert-warn-days N` when the options set it; nothing otherwise (the commands' default then holds). */
const certWarnDaysArgs = (o: BackupPodOptions): ReadonlyArray<string> => (o.certWarnDays === undefined ? [] : ["--cert-warn-days", String(o.certWarnDays)])

const verifyContainer = (
  o: BackupPodOptions,
  mode: "Full" | "TestRestore",
): { readonly container: BackupContainer; readonly volumes: ReadonlyArray<BackupVolume> } => {
  const testRestore = mode === "TestRestore"
  const args = [
    "verify",
    "--report-out",
    `${backupPodPaths.backupDir}/${verificationFileName}`,
    "--etcdutl",
    backupPodPaths.etcdutlBinary,
    // The test restore reads the operator CRs and counts the keys under the prefix backup-init read them under.
    ...(testRestore ? ["--test-restore", "--etcd", backupPodPaths.etcdBinary, "--scratch-dir", backupPodPaths.verifyScratchDir, ...etcdPrefixArgs(o)] : []),
    ...certWarnDaysArgs(o),
    // backup-create's signature checked against the keys the retention trusts: a signing key missing from them fails here, not silently later.
    ...(o.trustedKeysConfigMap === undefined ? [] : ["--trusted-key", backupPodPaths.trustedKeysFile]),
    backupPodPaths.backupDir,
  ]
  const mounts = [
    ...(testRestore ? [{ name: volumes.verifyScratch, mountPath: backupPodPaths.verifyScratchDir }] : []),
    ...(o.trustedKeysConfigMap === undefined ? [] : [trustedKeysMount]),
  ]
  const scratch: ReadonlyArray<BackupVolume> = testRestore
    ? [{ name: volumes.verifyScratch, emptyDir: { sizeLimit: emptyDirSizeLimits(o)[volumes.verifyScratch]! } }]
    : []
  const resources = testRestore ? testRestoreResources : o.resources
  return { container: container(o, backupVerifyContainerName, args, mounts, [], resources), volumes: scratch }
}

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
export const renderBackupPod = (revisions: RevisionSet, options: Partial<BackupPodOptions> = {}, table: OperandTable = defaultOperands): BackupPod => {
  const o: BackupPodOptions = { ...defaultPodOptions, ...options }
  const dir = ["--backup-dir", backupPodPaths.backupDir]
  // A replaced resource list travels with the pod: its containers back up what it was rendered for.
  const overrides = resourceOverridesOf(table)
  const lists = overrides === undefined ? [] : [operandResourcesJsonFlag, encodeResourceOverrides(overrides)]
  const upload = o.store === undefined ? undefined : uploadContainer(o, o.store)
  const verify = o.verify === undefined ? undefined : verifyContainer(o, o.verify)
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
            "backup-init",
            ...dir,
            "--etcd-endpoints",
            o.etcdEndpoints,
            "--etcd-cert",
            backupPodPaths.etcdCert,
            "--etcd-key",
            backupPodPaths.etcdKey,
            "--etcd-cacert",
            backupPodPaths.etcdCaBundle,
            ...etcdPrefixArgs(o),
          ],
          [
            { name: volumes.etcdClient, mountPath: backupPodPaths.etcdClientDir, readOnly: true },
            { name: volumes.etcdCa, mountPath: backupPodPaths.etcdCaDir, readOnly: true },
          ],
          backupInitEnv,
        ),
        ...operandList(table).map((operand) =>
          container(o, resourcesContainerName(operand.short), [
            "backup-resources",
            ...dir,
            "--operand",
            operand.name,
            "--revision",
            String(revisions[operand.name]),
            ...lists,
          ]),
        ),
        container(
          o,
          backupCreateContainerName,
          [
            "backup-create",
            ...dir,
            "--revisions",
            formatRevisionSet(revisions),
            ...lists,
            ...(o.signingKeySecret === undefined ? [] : [allowExposedSigningKeyArg, "--signing-key", backupPodPaths.signingKeyFile]),
            ...certWarnDaysArgs(o),
            // Its verdict, for backup-pod to read from the pod's status.
            "--report-file",
            backupPodPaths.terminationLog,
          ],
          o.signingKeySecret === undefined ? [] : [{ name: volumes.signingKey, mountPath: backupPodPaths.signingKeyDir, readOnly: true }],
        ),
        ...(verify === undefined ? [] : [verify.container]),
        ...(upload === undefined ? [] : [upload.container]),
      ],
      containers: [container(o, backupHoldContainerName, ["hold", ...dir, "--duration", `${o.holdSeconds}s`])],
      ...(o.priorityClassName === undefined ? {} : { priorityClassName: o.priorityClassName }),
      restartPolicy: "Never",
      securityContext: { fsGroup: backupPodFsGroup, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      serviceAccountName: o.serviceAccountName,
      volumes: [
        { name: volumes.backup, emptyDir: { sizeLimit: emptyDirSizeLimits(o)[volumes.backup]! } },
        { name: volumes.etcdClient, secret: { secretName: etcdClientSecretName } },
        { name: volumes.etcdCa, configMap: { name: etcdCaConfigMapName } },
        { name: volumes.tmp, emptyDir: { sizeLimit: emptyDirSizeLimits(o)[volumes.tmp]! } },
        ...(upload === undefined ? [] : upload.volumes),
        ...(verify === undefined ? [] : verify.volumes),
        ...(o.signingKeySecret === undefined
          ? []
          : [
              {
                name: volumes.signingKey,
                secret: { secretName: o.signingKeySecret, items: [{ key: signingKeySecretKey, path: signingKeySecretKey }], defaultMode: storeCredentialsMode },
              },
            ]),
        ...([upload?.container, verify?.container].some((c) => c?.volumeMounts.some((m) => m.name === volumes.trustedKeys))
          ? [
              {
                name: volumes.trustedKeys,
                configMap: { name: o.trustedKeysConfigMap!, items: [{ key: trustedKeysConfigMapKey, path: trustedKeysConfigMapKey }] },
              },
            ]
          : []),
      ],
    },
  }
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [specHashAnnotation]: backupPodSpecHash(pod) } },
  }
}

/** `renderBackupPod` then `backupPodYaml`. */
export const renderBackupPodYaml = (revisions: RevisionSet, options: Partial<BackupPodOptions> = {}, table: OperandTable = defaultOperands): string =>
  backupPodYaml(renderBackupPod(revisions, options, table))

/** The revisions a pod (as read from the API: unknown) was rendered for, from its annotation; `undefined` when it names none. */
export const revisionsOfBackupPod = (pod: unknown): RevisionSet | undefined => {
  const metadata = pod !== null && typeof pod === "object" ? (pod as { metadata?: unknown }).metadata : undefined
  const annotations = metadata !== null && typeof metadata === "object" ? (metadata as { annotations?: unknown }).annotations : undefined
  const value = annotations !== null && typeof annotations === "object" ? (annotations as Record<string, unknown>)[revisionsAnnotation] : undefined
  if (typeof value !== "string") return undefined
  const parsed = parseRevisionsFlag(value)
  return Result.isSuccess(parsed) ? parsed.success : undefined
}
