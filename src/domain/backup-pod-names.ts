/** The names the backup pod is made of, which the CLI, the operator and the tests share: paths inside the pod, Secret keys, labels, annotations and container names. */
import type { OperandName } from "./operands.ts"

/** The binary every container runs (the image's entrypoint). */
export const backupBinary = "cluster-backup"

/**
 * The snapshot container's environment. A small V8 young generation keeps the streaming
 * process's peak memory near its floor whatever the database size (bench/README.md); V8 fixes
 * it at start-up, so it can only be set from outside the process.
 */
export const backupInitEnv: ReadonlyArray<{ readonly name: string; readonly value: string }> = [{ name: "NODE_OPTIONS", value: "--max-semi-space-size=4" }]

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
  /** A PersistentVolumeClaim store, mounted into backup-upload only. */
  storeDir: "/var/lib/cluster-backup/store",
  storeCredentialsDir: "/var/run/secrets/cluster-backup-store",
  storeCredentialsFile: "/var/run/secrets/cluster-backup-store/credentials",
  storeCaDir: "/var/run/configmaps/cluster-backup-store-ca",
  storeCaBundle: "/var/run/configmaps/cluster-backup-store-ca/ca-bundle.crt",
  /** Web identity (STS): the ServiceAccount token projected for the audience sts.amazonaws.com, into backup-upload only. */
  webIdentityTokenDir: "/var/run/secrets/openshift/serviceaccount",
  webIdentityTokenFile: "/var/run/secrets/openshift/serviceaccount/token",
  /** Where the kubelet would put the ServiceAccount token; backup-upload gets an empty directory there. */
  serviceAccountTokenDir: "/var/run/secrets/kubernetes.io/serviceaccount",
  /** The manifest's ed25519 signing key, into backup-create only. */
  signingKeyDir: "/var/run/secrets/cluster-backup-signing",
  signingKeyFile: "/var/run/secrets/cluster-backup-signing/signing-key",
  /** The public keys the store's retention trusts (`--trusted-key`), into backup-upload only. */
  trustedKeysDir: "/var/run/configmaps/cluster-backup-trusted-keys",
  trustedKeysFile: "/var/run/configmaps/cluster-backup-trusted-keys/trusted-keys.pem",
  /** The keys of Secret cluster-backup-proxy that backup-upload's env takes, into backup-upload only: the pod's start gate. */
  proxyCredentialsDir: "/var/run/secrets/cluster-backup-proxy",
  /** age recipients of the backup's files (and the tarball's own), into backup-upload only. */
  recipientsDir: "/var/run/secrets/cluster-backup-recipients",
  recipientsFile: "/var/run/secrets/cluster-backup-recipients/recipients",
  resourcesRecipientsDir: "/var/run/secrets/cluster-backup-resources-recipients",
  resourcesRecipientsFile: "/var/run/secrets/cluster-backup-resources-recipients/recipients",
  /** backup-verify's throwaway etcd data directory (--test-restore), a volume of its own. */
  verifyScratchDir: "/var/lib/cluster-backup/verify-scratch",
  /** etcd 3.5's binaries in the image (deploy/Containerfile copies them there). */
  etcdBinary: "/usr/local/bin/etcd",
  etcdutlBinary: "/usr/local/bin/etcdutl",
  /** Where the kubelet reads a container's termination message from. */
  terminationLog: "/dev/termination-log",
} as const

/** The key of a recipients Secret: age recipients, one `age1...` per line (`age -R`'s format). */
export const recipientsSecretKey = "recipients"

/**
 * The pod's fsGroup: the image's group (deploy/Containerfile's `USER 65532:65532`). openshift-etcd is a
 * run-level 0 namespace, where no SCC admission runs and so none sets an fsGroup: without one the kubelet
 * leaves Secret volumes root's (0400: unreadable by the non-root user) and a PersistentVolumeClaim's root
 * unwritable. With it, the kubelet gives them this group (Secret files 0440) and the containers this group.
 */
export const backupPodFsGroup = 65532

/** The key of the trusted keys ConfigMap: ed25519 public keys, PEM one after another (`openssl pkey -pubout`). */
export const trustedKeysConfigMapKey = "trusted-keys.pem"

/** The key of the signing key Secret: a PKCS#8 PEM ed25519 private key (`openssl genpkey -algorithm ed25519`). */
export const signingKeySecretKey = "signing-key"

/**
 * The key of the store credentials Secret: an AWS shared credentials file (profile `default`:
 * `aws_access_key_id`, `aws_secret_access_key`, optionally `aws_session_token`), mounted as a file
 * (`AWS_SHARED_CREDENTIALS_FILE`) so no key reaches the pod spec, its environment or `oc describe`.
 */
export const storeCredentialsKey = "credentials"
/** The key of the store CA ConfigMap (OpenShift's trusted-CA-bundle convention). */
export const storeCaKey = "ca-bundle.crt"
/** Owner read only; the kubelet adds group read for the pod's fsGroup (`backupPodFsGroup`). */
export const storeCredentialsMode = 0o400

/** Where the etcd client credentials come from (in the pod's namespace). */
export const etcdClientSecretName = "etcd-client"
export const etcdCaConfigMapName = "etcd-ca-bundle"

export const backupPodGenerateName = "cluster-backup-"
export const nameLabel = "app.kubernetes.io/name"
export const managedByLabel = "app.kubernetes.io/managed-by"
export const backupPodLabelValues = { [nameLabel]: "cluster-backup", [managedByLabel]: "cluster-backup-operator" } as const
/** The label selector of the backup pods (the operator lists and watches them with it). */
export const backupPodSelector = `${nameLabel}=${backupPodLabelValues[nameLabel]},${managedByLabel}=${backupPodLabelValues[managedByLabel]}`
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
/** Runs after backup-create when a store is configured: the backup is done only when it exits 0. */
export const backupUploadContainerName = "backup-upload"
/** Runs after backup-create and before backup-upload when the pod verifies its backup: a failed check fails the pod. */
export const backupVerifyContainerName = "backup-verify"
export const backupHoldContainerName = "backup-hold"
