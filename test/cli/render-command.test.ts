import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { operatorTypes } from "../../src/services/kube/resources.ts"
import { kubeconfigYaml, startSimulatedApiServer } from "../../src/simulation/simulated-api-server.ts"
import { loadedCluster } from "../programs/backup/backup-resources-harness.ts"
import { runCli } from "../support/run-cli.ts"
import { tempDir } from "../support/temp-dir.ts"

const cli = (...args: Array<string>) => runCli(args)

describe("cluster-backup render", () => {
  it("prints exactly the domain's pod YAML for --revisions, without a cluster", async () => {
    const run = await cli(
      "render",
      "--revisions",
      "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7",
      "--image",
      "registry.example/cluster-backup:1",
    )
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      renderBackupPodYaml({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }, { image: "registry.example/cluster-backup:1" }),
    )
  })

  it("refuses incomplete --revisions, naming what is missing (a usage error: the help, no pod YAML)", async () => {
    const run = await cli("render", "--revisions", "etcd=3")
    expect(run.status).toBe(2)
    expect(run.stdout).not.toContain('kind: "Pod"')
    expect(run.stderr).toContain("no revision for kube-apiserver")
  })

  it("refuses a bad hold duration before rendering", async () => {
    const run = await cli("render", "--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7", "--hold-duration", "forever")
    expect(run.status).not.toBe(0)
    // The CLI shows its help with the error; no pod YAML is printed.
    expect(run.stdout).not.toContain('kind: "Pod"')
    expect(run.stdout + run.stderr).toContain('"forever" is not a duration')
  })

  it("carries --etcd-prefix into the pod's backup-init, and refuses one that is not a prefix (usage error)", async () => {
    const revisions = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
    const run = await cli("render", "--revisions", revisions, "--etcd-prefix", "/registry")
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      renderBackupPodYaml({ etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }, { etcdPrefix: "/registry" }),
    )
    expect(run.stdout).toMatch(/- "--etcd-prefix"\n\s+- "\/registry"/)
    expect((await cli("render", "--revisions", revisions)).stdout).not.toContain("--etcd-prefix")
    const bad = await cli("render", "--revisions", revisions, "--etcd-prefix", "/registry/")
    expect(bad.status).toBe(2)
    expect(bad.stdout).not.toContain('kind: "Pod"')
    expect(bad.stdout + bad.stderr).toContain("Invalid value for flag --etcd-prefix")
  })

  const revisions = "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"
  const set = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

  it("renders backup-upload for an s3:// store with its settings, credentials Secret and CA ConfigMap; the pod's deadline grows by the upload's", async () => {
    const run = await cli(
      "render",
      "--revisions",
      revisions,
      "--store",
      "s3://backups/cluster-a",
      "--store-credentials-secret",
      "cluster-backup-store",
      "--store-ca-configmap",
      "cluster-backup-store-ca",
      "--s3-endpoint",
      "https://s3.openshift-storage.svc:443",
      "--s3-region",
      "us-east-1",
      "--s3-addressing",
      "path",
      "--s3-sse-kms-key-id",
      "alias/etcd-backups",
    )
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/- "--s3-sse-kms-key-id"\n\s+- "alias\/etcd-backups"/)
    expect(run.stdout).toBe(
      renderBackupPodYaml(set, {
        activeDeadlineSeconds: 10_800,
        store: {
          s3Url: "s3://backups/cluster-a",
          credentialsSecret: "cluster-backup-store",
          caConfigMap: "cluster-backup-store-ca",
          s3Endpoint: "https://s3.openshift-storage.svc:443",
          s3Region: "us-east-1",
          s3Addressing: "path",
          s3KmsKeyId: "alias/etcd-backups",
          partSize: "16Mi",
          partsInFlight: 4,
          deadlineSeconds: 3600,
        },
      }),
    )
  })

  it("renders backup-upload to a PersistentVolumeClaim with the cluster's prefix and the upload's part size, parts in flight, deadline and bandwidth limit", async () => {
    const run = await cli(
      "render",
      "--revisions",
      revisions,
      "--store-pvc",
      "backups",
      "--cluster-id",
      "c0ffee",
      "--upload-part-size",
      "8Mi",
      "--upload-parts-in-flight",
      "2",
      "--upload-deadline",
      "10m",
      "--upload-bandwidth-limit",
      "40Mi",
    )
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain(`- "--bandwidth-limit"\n        - "40Mi"\n`)
    expect(run.stdout).toBe(
      renderBackupPodYaml(set, {
        activeDeadlineSeconds: 7800,
        store: { claimName: "backups", clusterId: "c0ffee", partSize: "8Mi", partsInFlight: 2, deadlineSeconds: 600, bandwidthLimit: "40Mi" },
      }),
    )
  })

  it.each<[string, Array<string>, string, string]>([
    ["an s3:// store without credentials", ["--store", "s3://backups/a"], "--store-credentials-secret", "needs a credentials Secret"],
    ["an s3:// store with neither a prefix nor a cluster ID", ["--store", "s3://backups", "--store-credentials-secret", "s"], "--store", "has no prefix"],
    ["a directory as --store", ["--store", "/var/backups", "--store-credentials-secret", "s"], "--store", "--store-pvc"],
    ["both --store and --store-pvc", ["--store", "s3://backups/a", "--store-pvc", "b", "--store-credentials-secret", "s"], "--store", "exactly one"],
    ["a credentials Secret for a volume", ["--store-pvc", "b", "--store-credentials-secret", "s"], "--store-credentials-secret", "s3:// store only"],
    ["store settings without a store", ["--s3-region", "eu-west-3"], "--s3-region", "give --store or --store-pvc"],
    ["server-side encryption without a store", ["--s3-sse", "AES256"], "--s3-sse", "give --store or --store-pvc"],
    ["server-side encryption for a volume", ["--store-pvc", "b", "--s3-sse", "aws:kms"], "--s3-sse", "s3:// store only"],
    [
      "a KMS key with SSE-S3",
      ["--store", "s3://backups/a", "--store-credentials-secret", "s", "--s3-sse", "AES256", "--s3-sse-kms-key-id", "k1"],
      "--s3-sse-kms-key-id",
      "goes with aws:kms",
    ],
    [
      "a KMS key with blanks",
      ["--store", "s3://backups/a", "--store-credentials-secret", "s", "--s3-sse-kms-key-id", "my key"],
      "--s3-sse-kms-key-id",
      "KMS key id",
    ],
    ["a Secret name that is not one", ["--store", "s3://backups/a", "--store-credentials-secret", "Store_Keys"], "--store-credentials-secret", "Secret"],
    ["a 4 MiB part", ["--store-pvc", "b", "--upload-part-size", "4Mi"], "--upload-part-size", "5Mi to 5Gi"],
    [
      "an endpoint that is not a URL",
      ["--store", "s3://backups/a", "--store-credentials-secret", "s", "--s3-endpoint", "s3.local"],
      "--s3-endpoint",
      "http(s)://",
    ],
  ])("refuses %s as a usage error (exit 2) naming the flag, printing no pod", async (_what, args, flag, expected) => {
    const run = await cli("render", "--revisions", revisions, ...args)
    expect(run.status, run.stdout + run.stderr).toBe(2)
    expect(run.stdout).not.toContain('kind: "Pod"')
    // A value that is wrong: "Invalid value for flag"; one that is needed and missing: "Missing value for flag".
    expect(run.stdout + run.stderr).toMatch(new RegExp(`(Invalid|Missing) value for flag ${flag}[.:]`))
    expect(run.stdout + run.stderr).toContain(expected)
  })

  it("with a cluster, warns on stderr when --backup-volume-size cannot hold a backup of etcd at its quota, and still renders", async () => {
    const { cluster } = loadedCluster()
    const cr = cluster.get(operatorTypes.etcd, undefined, "cluster")!
    Result.getOrThrow(cluster.replace(operatorTypes.etcd, { ...cr, spec: { ...(cr.spec as object), backendQuotaGiB: 16 } }))
    const server = await startSimulatedApiServer(cluster)
    try {
      const kubeconfig = join(tempDir("render-quota"), "kubeconfig")
      writeFileSync(kubeconfig, kubeconfigYaml({ url: server.url, token: server.token }), { mode: 0o600 })
      const small = await cli("render", "--kubeconfig", kubeconfig, "--backup-volume-size", "10Gi")
      expect(small.status, small.stderr).toBe(0)
      expect(small.stdout).toContain('sizeLimit: "10Gi"')
      expect(small.stderr).toMatch(/level=WARN .*cannot hold a backup of etcd at its quota of 16\.0 GiB.*at least 17Gi/)
      const enough = await cli("render", "--kubeconfig", kubeconfig)
      expect(enough.status, enough.stderr).toBe(0)
      expect(enough.stderr).not.toContain("level=WARN")
      expect(enough.stderr).toContain(`Kubernetes API ${server.url} (context simulated of ${kubeconfig})`)
    } finally {
      await server.close()
    }
  })

  it("with --revisions (no cluster), warns against the CRD's default quota: a size without its unit is bytes", async () => {
    const revisions = ["--revisions", "etcd=3,kube-apiserver=7,kube-controller-manager=7,kube-scheduler=7"]
    const bytes = await cli("render", ...revisions, "--backup-volume-size", "10")
    expect(bytes.status, bytes.stderr).toBe(0)
    expect(bytes.stdout).toContain('sizeLimit: "10"')
    expect(bytes.stderr).toMatch(
      /level=WARN .*--backup-volume-size 10\) cannot hold a backup of etcd at the default quota of 8\.0 GiB .*No backup fits in 10 B; .*at least 9Gi/,
    )
    const enough = await cli("render", ...revisions, "--backup-volume-size", "9Gi")
    expect(enough.status, enough.stderr).toBe(0)
    expect(enough.stderr).not.toContain("quota")
  })
})
