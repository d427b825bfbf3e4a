/** A well-formed backup manifest (format 2) for tests that need one that decodes. */
import type { BackupManifest } from "../../src/domain/backup-manifest.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"

export const sha = (c: string) => c.repeat(64)
export const requested: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }

export const exampleManifest: BackupManifest = {
  formatVersion: 2,
  tool: { name: "cluster-backup", version: "0.1.0" },
  timestamp: "2024-05-01_120000",
  createdAt: "2024-05-01T12:00:07Z",
  revisions: { requested, inSnapshot: { ...requested } },
  etcd: { revision: 123456, memberDbSize: 104857600 },
  files: {
    snapshot: { name: "snapshot_2024-05-01_120000.db", size: 104857632, sha256: sha("a") },
    resources: { name: "static_kuberesources_2024-05-01_120000.tar.gz", size: 40960, sha256: sha("b") },
  },
  entries: [
    { path: "static-pod-resources/etcd-pod-3/configmaps/etcd-pod/pod.yaml", size: 10, mode: 0o600, sha256: sha("c") },
    { path: "static-pod-resources/etcd-pod-3/configmaps/etcd-scripts/etcd.sh", size: 11, mode: 0o755, sha256: sha("d") },
    { path: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", size: 10, mode: 0o600, sha256: sha("c") },
  ],
  skippedOptional: [{ operand: "kube-apiserver", kind: "secret", name: "encryption-config" }],
  verdict: "consistent",
  reasons: [],
}
