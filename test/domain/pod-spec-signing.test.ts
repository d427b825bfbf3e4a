/**
 * The backup pod with a signing key: only backup-create mounts the Secret (read-only, mode 0400)
 * and signs the manifest; no other container sees it, and without the option nothing changes.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { renderBackupPod, renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { decodeBackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import { backupPodPaths } from "../../src/domain/backup-pod-names.ts"
import type { BackupStoreOptions } from "../../src/domain/pod-store-options.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { k8sValidationProblems } from "../support/k8s-validate.ts"

const goldenPath = join(import.meta.dirname, "golden", "signed-s3-backup-pod.yaml")
const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const store: BackupStoreOptions = {
  s3Url: "s3://backups/cluster-a",
  credentialsSecret: "backup-store-credentials",
  partSize: "16Mi",
  partsInFlight: 4,
  deadlineSeconds: 3600,
}
const options = { store, activeDeadlineSeconds: 10_800, signingKeySecret: "backup-signing-key" }

describe("renderBackupPod with a signing key Secret", () => {
  it("matches the golden pod byte for byte, and it is a valid Kubernetes Pod", () => {
    const yaml = renderBackupPodYaml(revisions, options)
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenPath, yaml)
    expect(yaml).toBe(readFileSync(goldenPath, "utf8"))
    expect(k8sValidationProblems(YAML.parse(yaml))).toEqual([])
  })

  it("backup-create alone mounts the Secret read-only and signs with the mounted key file", () => {
    const pod = renderBackupPod(revisions, options)
    const containers = [...pod.spec.initContainers, ...pod.spec.containers]
    const withKey = containers.filter((c) => c.volumeMounts.some((m) => m.name === "signing-key"))
    expect(withKey.map((c) => c.name)).toEqual(["backup-create"])
    expect(withKey[0]!.volumeMounts.find((m) => m.name === "signing-key")).toEqual({
      name: "signing-key",
      mountPath: backupPodPaths.signingKeyDir,
      readOnly: true,
    })
    const command = withKey[0]!.command
    expect(command.slice(command.indexOf("--signing-key"), command.indexOf("--signing-key") + 2)).toEqual([
      "--signing-key",
      "/var/run/secrets/cluster-backup-signing/signing-key",
    ])
    expect(containers.filter((c) => c.command.includes("--signing-key")).map((c) => c.name)).toEqual(["backup-create"])
    expect(pod.spec.volumes.find((v) => v.name === "signing-key")).toEqual({
      name: "signing-key",
      secret: { secretName: "backup-signing-key", items: [{ key: "signing-key", path: "signing-key" }], defaultMode: 0o400 },
    })
  })

  it("without the option the pod has no signing key volume and backup-create no --signing-key", () => {
    const pod = renderBackupPod(revisions, { store, activeDeadlineSeconds: 10_800 })
    expect(pod.spec.volumes.map((v) => v.name)).not.toContain("signing-key")
    expect(pod.spec.initContainers.find((c) => c.name === "backup-create")!.command).not.toContain("--signing-key")
  })

  it("refuses a Secret name that is not a Kubernetes object name", () => {
    const decoded = decodeBackupPodOptions({ signingKeySecret: "Not_A_Name" })
    expect(decoded._tag).toBe("Failure")
  })
})

describe("renderBackupPod with a trusted keys ConfigMap", () => {
  const retained = { ...store, retention: { keepLast: 3 } }
  const trusting = { store: retained, activeDeadlineSeconds: 10_800, signingKeySecret: "backup-signing-key", trustedKeysConfigMap: "backup-trusted-keys" }

  it("backup-upload alone mounts it read-only, and its prune trusts the mounted keys; the pod is a valid Kubernetes Pod", () => {
    const pod = renderBackupPod(revisions, trusting)
    const containers = [...pod.spec.initContainers, ...pod.spec.containers]
    expect(containers.filter((c) => c.volumeMounts.some((m) => m.name === "trusted-keys")).map((c) => c.name)).toEqual(["backup-upload"])
    const upload = containers.find((c) => c.name === "backup-upload")!
    expect(upload.volumeMounts.find((m) => m.name === "trusted-keys")).toEqual({
      name: "trusted-keys",
      mountPath: backupPodPaths.trustedKeysDir,
      readOnly: true,
    })
    const at = upload.command.indexOf("--trusted-key")
    expect(upload.command[at + 1]).toBe(backupPodPaths.trustedKeysFile)
    expect(upload.command).toContain("--keep-last")
    expect(pod.spec.volumes.find((v) => v.name === "trusted-keys")).toEqual({
      name: "trusted-keys",
      configMap: { name: "backup-trusted-keys", items: [{ key: "trusted-keys.pem", path: "trusted-keys.pem" }] },
    })
    expect(k8sValidationProblems(YAML.parse(renderBackupPodYaml(revisions, trusting)))).toEqual([])
  })

  it("backup-verify checks backup-create's signature against them too (a signing key missing from them fails the backup there); the volume is there once", () => {
    for (const verify of ["Full", "TestRestore"] as const) {
      const pod = renderBackupPod(revisions, { ...trusting, verify })
      const check = pod.spec.initContainers.find((c) => c.name === "backup-verify")!
      expect(check.command.slice(-3)).toEqual(["--trusted-key", backupPodPaths.trustedKeysFile, backupPodPaths.backupDir])
      expect(check.volumeMounts).toContainEqual({ name: "trusted-keys", mountPath: backupPodPaths.trustedKeysDir, readOnly: true })
      expect(pod.spec.volumes.filter((v) => v.name === "trusted-keys")).toHaveLength(1)
      expect(k8sValidationProblems(YAML.parse(renderBackupPodYaml(revisions, { ...trusting, verify })))).toEqual([])
    }
    const verifyOnly = renderBackupPod(revisions, { ...trusting, store, verify: "Full" })
    expect(verifyOnly.spec.volumes.filter((v) => v.name === "trusted-keys")).toHaveLength(1)
    expect(verifyOnly.spec.initContainers.find((c) => c.name === "backup-upload")!.command).not.toContain("--trusted-key")
  })

  it("without a retention rule nothing reads the keys: no --trusted-key (backup-upload refuses one) and no volume", () => {
    const pod = renderBackupPod(revisions, { ...trusting, store })
    expect(pod.spec.volumes.map((v) => v.name)).not.toContain("trusted-keys")
    expect(pod.spec.initContainers.find((c) => c.name === "backup-upload")!.command).not.toContain("--trusted-key")
  })

  it("refuses it without a signing key: the pod's own backups would be unsigned, so untrusted by its retention", () => {
    const decoded = decodeBackupPodOptions({ store: retained, activeDeadlineSeconds: 10_800, trustedKeysConfigMap: "backup-trusted-keys" })
    expect(decoded._tag).toBe("Failure")
    if (decoded._tag === "Failure") expect(decoded.failure.message).toContain("trustedKeysConfigMap needs signingKeySecret")
    expect(decodeBackupPodOptions(trusting)._tag).toBe("Success")
  })
})
