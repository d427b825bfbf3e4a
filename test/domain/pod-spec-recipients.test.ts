/**
 * The backup pod with age recipients: only backup-upload mounts the recipients Secrets (read-only)
 * and encrypts; with a signing key too, backup-upload also gets the key, to sign the manifest as
 * stored (encryption makes a new one).
 */
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { renderBackupPod, renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { decodeBackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import { backupPodPaths } from "../../src/domain/backup-pod-names.ts"
import type { BackupStoreOptions } from "../../src/domain/pod-store-options.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { k8sValidationProblems } from "../support/k8s-validate.ts"

const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const store: BackupStoreOptions = {
  s3Url: "s3://backups/cluster-a",
  credentialsSecret: "backup-store-credentials",
  partSize: "16Mi",
  partsInFlight: 4,
  deadlineSeconds: 3600,
  recipientsSecret: "backup-recipients",
  resourcesRecipientsSecret: "backup-key-bundle-recipients",
}
const options = { store, activeDeadlineSeconds: 10_800 }

interface PodYaml {
  readonly spec: {
    readonly initContainers: ReadonlyArray<{
      name: string
      command: Array<string>
      volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>
    }>
    readonly containers: ReadonlyArray<{ name: string; command: Array<string>; volumeMounts: Array<{ name: string }> }>
    readonly volumes: ReadonlyArray<{ name: string; secret?: unknown }>
  }
}

describe("renderBackupPod with recipients Secrets", () => {
  it("in the YAML, the recipients Secrets reach backup-upload only, read-only, with the files passed as its flags; a valid Pod", () => {
    const yaml = renderBackupPodYaml(revisions, options)
    const pod = YAML.parse(yaml) as PodYaml
    expect(k8sValidationProblems(pod)).toEqual([])
    const containers = [...pod.spec.initContainers, ...pod.spec.containers]
    for (const volume of ["recipients", "resources-recipients"]) {
      expect(containers.filter((c) => c.volumeMounts.some((m) => m.name === volume)).map((c) => c.name)).toEqual(["backup-upload"])
    }
    const upload = pod.spec.initContainers.find((c) => c.name === "backup-upload")!
    expect(upload.volumeMounts.filter((m) => m.name.endsWith("recipients"))).toEqual([
      { name: "recipients", mountPath: backupPodPaths.recipientsDir, readOnly: true },
      { name: "resources-recipients", mountPath: backupPodPaths.resourcesRecipientsDir, readOnly: true },
    ])
    const arg = (flag: string) => upload.command[upload.command.indexOf(flag) + 1]
    expect(arg("--recipients-file")).toBe(backupPodPaths.recipientsFile)
    expect(arg("--resources-recipients-file")).toBe(backupPodPaths.resourcesRecipientsFile)
    expect(pod.spec.volumes.filter((v) => v.name.endsWith("recipients"))).toEqual([
      { name: "recipients", secret: { secretName: "backup-recipients", items: [{ key: "recipients", path: "recipients" }], defaultMode: 0o400 } },
      {
        name: "resources-recipients",
        secret: { secretName: "backup-key-bundle-recipients", items: [{ key: "recipients", path: "recipients" }], defaultMode: 0o400 },
      },
    ])
    expect(containers.filter((c) => c.command.some((a) => a.includes("recipients"))).map((c) => c.name)).toEqual(["backup-upload"])
  })

  it("with a signing key, backup-upload also mounts it and signs the manifest it stores; backup-create still signs the local one", () => {
    const pod = renderBackupPod(revisions, { ...options, signingKeySecret: "backup-signing-key" })
    const containers = [...pod.spec.initContainers, ...pod.spec.containers]
    expect(containers.filter((c) => c.volumeMounts.some((m) => m.name === "signing-key")).map((c) => c.name)).toEqual(["backup-create", "backup-upload"])
    const upload = pod.spec.initContainers.find((c) => c.name === "backup-upload")!
    expect(upload.command[upload.command.indexOf("--signing-key") + 1]).toBe(backupPodPaths.signingKeyFile)
  })

  it("without recipients, backup-upload has no recipients and no signing key (it uploads backup-create's signature)", () => {
    const { recipientsSecret: _, resourcesRecipientsSecret: __, ...plain } = store
    const pod = renderBackupPod(revisions, { store: plain, activeDeadlineSeconds: 10_800, signingKeySecret: "backup-signing-key" })
    const upload = pod.spec.initContainers.find((c) => c.name === "backup-upload")!
    expect(upload.command.filter((a) => a.includes("recipients") || a === "--signing-key")).toEqual([])
    expect(pod.spec.volumes.map((v) => v.name).filter((n) => n.endsWith("recipients"))).toEqual([])
  })

  it("refuses a recipients Secret name that is not a Kubernetes object name", () => {
    expect(decodeBackupPodOptions({ store: { ...store, recipientsSecret: "Not_A_Name" }, activeDeadlineSeconds: 10_800 })._tag).toBe("Failure")
  })
})
