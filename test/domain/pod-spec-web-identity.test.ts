/**
 * The backup pod with web identity (OpenShift on AWS with STS) and the store's retention: only
 * backup-upload gets the role, the projected token (audience sts.amazonaws.com, one hour) and
 * the prune flags; no other container sees any of it.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { renderBackupPod, renderBackupPodYaml } from "../../src/domain/pod-spec.ts"
import { decodeBackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import type { BackupStoreOptions } from "../../src/domain/pod-store-options.ts"
import type { RevisionSet } from "../../src/domain/revisions.ts"
import { k8sValidationProblems } from "../support/k8s-validate.ts"

const goldenPath = join(import.meta.dirname, "golden", "s3-web-identity-backup-pod.yaml")
const revisions: RevisionSet = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const roleArn = "arn:aws:iam::123456789012:role/cluster-backup"
const store: BackupStoreOptions = {
  s3Url: "s3://backups",
  clusterId: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
  s3Region: "eu-west-1",
  webIdentityRoleArn: roleArn,
  partSize: "16Mi",
  partsInFlight: 4,
  deadlineSeconds: 3600,
  retention: { keepLast: 7, keepDaily: 14, maxAgeSeconds: 90 * 86_400, leftoverGraceSeconds: 86_400 },
}
const options = { store, activeDeadlineSeconds: 10_800 }

describe("renderBackupPod with web identity and the store's retention", () => {
  it("matches the golden pod byte for byte, and it is a valid Kubernetes Pod", () => {
    const yaml = renderBackupPodYaml(revisions, options)
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenPath, yaml)
    expect(yaml).toBe(readFileSync(goldenPath, "utf8"))
    expect(k8sValidationProblems(YAML.parse(yaml))).toEqual([])
  })

  it("backup-upload alone gets the role, the token file and the projected token volume; it prunes with the rules after uploading", () => {
    const pod = renderBackupPod(revisions, options)
    const upload = pod.spec.initContainers.at(-1)!
    expect(upload.name).toBe("backup-upload")
    expect(upload.env).toEqual([
      { name: "AWS_ROLE_ARN", value: roleArn },
      { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/openshift/serviceaccount/token" },
      { name: "CLUSTER_BACKUP_VOLUME_SIZE_LIMITS", value: '{"/backup":21474836480,"/tmp":67108864}' },
    ])
    expect(upload.volumeMounts).toContainEqual({ name: "store-web-identity-token", mountPath: "/var/run/secrets/openshift/serviceaccount", readOnly: true })
    expect(pod.spec.volumes).toContainEqual({
      name: "store-web-identity-token",
      projected: { sources: [{ serviceAccountToken: { audience: "sts.amazonaws.com", expirationSeconds: 3600, path: "token" } }] },
    })
    expect(upload.command.join(" ")).toContain("--keep-last 7 --keep-daily 14 --max-age 7776000s --leftover-grace 86400s")
    for (const c of [...pod.spec.initContainers.slice(0, -1), ...pod.spec.containers]) {
      expect(c.volumeMounts.map((m) => m.name)).not.toContain("store-web-identity-token")
      expect(JSON.stringify(c)).not.toContain("AWS_")
      expect(c.command).not.toContain("--keep-last")
    }
  })

  it("a role with a credentials Secret, a role for a claim, or a malformed ARN is refused naming the option", () => {
    const decode = (s: object) =>
      decodeBackupPodOptions({ store: { partSize: "16Mi", partsInFlight: 4, deadlineSeconds: 60, ...s }, activeDeadlineSeconds: 10_800 })
    const problem = (s: object) => {
      const r = decode(s)
      return r._tag === "Failure" ? r.failure.message : "accepted"
    }
    expect(problem({ s3Url: "s3://b-1/p", webIdentityRoleArn: roleArn })).toBe("accepted")
    expect(problem({ s3Url: "s3://b-1/p", webIdentityRoleArn: roleArn, credentialsSecret: "s" })).toContain("store.webIdentityRoleArn")
    expect(problem({ claimName: "c", webIdentityRoleArn: roleArn })).toContain("store.webIdentityRoleArn")
    expect(problem({ s3Url: "s3://b-1/p", webIdentityRoleArn: "arn:aws:iam::1:user/x" })).toContain("IAM role ARN")
    expect(problem({ s3Url: "s3://b-1/p" })).toContain("or a web identity role")
  })
})
