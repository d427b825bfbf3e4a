/**
 * A policy's rendered pod after backup-create, run as the pod runs it against Swift: backup-verify's
 * and backup-upload's exact commands from the rendered YAML, with only the pod's paths mapped to local
 * ones (the scripted etcdutl stands in for the image's, a file for the termination log). The report
 * the operator reads says what `list` says.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { parseBackupPodReport } from "../../src/domain/backup-pod-report.ts"
import { decodeBackupPolicy } from "../../src/domain/backup-policy.ts"
import { defaultOperands } from "../../src/domain/operands.ts"
import { backupPodYaml, type BackupContainer, type BackupPod } from "../../src/domain/pod-spec.ts"
import { backupPodPaths, storeCredentialsKey } from "../../src/domain/backup-pod-names.ts"
import { renderPolicyBackupPod } from "../../src/domain/policy-pod.ts"
import { copyBackup, fakeBackupForSuite, readManifest, writeScriptedEtcdutl } from "../support/bad-backups.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, s3Env, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { tempDir } from "../support/temp-dir.ts"
import { podEnvValue } from "../support/pod-env.ts"

const bucket = `policy-pod-${process.pid}`
const { work, backup } = fakeBackupForSuite("rendered-policy-pod")
let server: S3TestServer

beforeAll(async () => {
  server = await s3Server()
  await createBucket(server, bucket)
}, 200_000)

const noAwsVariables = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_SESSION_TOKEN: "", AWS_CA_BUNDLE: "", AWS_ENDPOINT_URL: "", AWS_REGION: "" }

/** The pod rendered for a policy storing into the test server, through its YAML (what the API server gets). */
const s3Store = () => ({
  s3: { bucket, prefix: "nightly", endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentialsSecret: { name: "keys" } },
})

const policyPod = (store: Record<string, unknown> = s3Store()): BackupPod => {
  const policy = decodeBackupPolicy({
    apiVersion: "backup.openshift.io/v1alpha1",
    kind: "BackupPolicy",
    metadata: { name: "nightly", uid: "0b7e4c1a-1111-4222-8333-444455556666" },
    spec: {
      schedule: "0 2 * * *",
      store,
      retention: { keepLast: 2 },
      verify: "Full",
    },
  })
  if (Result.isFailure(policy)) throw new Error(String(policy.failure))
  const pod = renderPolicyBackupPod({
    policy: policy.success,
    revisions: { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 },
    podOptions: {},
    table: defaultOperands,
    trigger: "Schedule",
    startedAt: Date.UTC(2026, 11, 2, 2),
    scheduledTime: Date.UTC(2026, 11, 2, 2),
  })
  if (Result.isFailure(pod)) throw new Error(pod.failure.message)
  return YAML.parse(backupPodYaml(pod.success)) as BackupPod
}

const container = (pod: BackupPod, name: string) => pod.spec.initContainers.find((c) => c.name === name)

const runAsPod = (c: BackupContainer, paths: Readonly<Record<string, string>>) => {
  const map = (s: string) => paths[s] ?? s
  expect(c.command[0]).toBe("cluster-backup")
  const podEnv = Object.fromEntries((c.env ?? []).flatMap((e) => ("value" in e ? [[e.name, podEnvValue(e.name, e.value, map)]] : [])))
  return runCli(c.command.slice(1).map(map), { env: { ...noAwsVariables, ...podEnv }, timeoutMs: 120_000 })
}

const credentialsFile = () => {
  const dir = join(work, "secret")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, storeCredentialsKey)
  writeFileSync(file, `[default]\naws_access_key_id = ${server.accessKeyId}\naws_secret_access_key = ${server.secretAccessKey}\n`, { mode: 0o600 })
  chmodSync(file, 0o400)
  return file
}

describe("a policy's rendered pod against Swift", { timeout: 300_000 }, () => {
  it("verifies, uploads the backup with verify's record, and reports it verified; list agrees", async () => {
    const pod = policyPod()
    const dir = copyBackup(backup, join(tempDir("full", work), "backup"))
    const termination = join(work, "termination-log")
    const paths = {
      [backupPodPaths.backupDir]: dir,
      [`${backupPodPaths.backupDir}/verification.json`]: join(dir, "verification.json"),
      [backupPodPaths.etcdutlBinary]: writeScriptedEtcdutl(join(work, "bin", "etcdutl")),
      [backupPodPaths.storeCredentialsFile]: credentialsFile(),
      [backupPodPaths.terminationLog]: termination,
    }
    const verify = await runAsPod(container(pod, "backup-verify")!, paths)
    expect(verify.status, verify.stderr).toBe(0)
    const upload = await runAsPod(container(pod, "backup-upload")!, paths)
    expect(upload.status, upload.stderr).toBe(0)
    const report = Result.getOrThrow(parseBackupPodReport(readFileSync(termination, "utf8")))
    const manifest = readManifest(dir)
    expect(report).toMatchObject({ id: manifest.timestamp, verified: true, verifyMode: "Full", pruned: 0, etcdRevision: manifest.etcd.revision })
    expect(report.location).toBe(`s3://${bucket}/nightly/${manifest.timestamp}/`)
    const list = await runCli(["list", `s3://${bucket}/nightly`, "--json"], { env: { ...noAwsVariables, ...s3Env(server) } })
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: report.id, complete: true, verified: true, verifyMode: "Full" })])
  })

  it("on a volume, the report names the policy's claim and subPath (pvc://claim/subPath/id/), not the pod's mount path", async () => {
    const pod = policyPod({ pvc: { claimName: "etcd-backups", subPath: "prod" } })
    const dir = copyBackup(backup, join(tempDir("pvc", work), "backup"))
    const volume = tempDir("pvc-volume", work)
    const termination = join(work, "termination-log-pvc")
    const upload = await runAsPod(container(pod, "backup-upload")!, {
      [backupPodPaths.backupDir]: dir,
      [backupPodPaths.storeDir]: volume,
      [backupPodPaths.terminationLog]: termination,
    })
    expect(upload.status, upload.stderr).toBe(0)
    const { timestamp } = readManifest(dir)
    expect(Result.getOrThrow(parseBackupPodReport(readFileSync(termination, "utf8"))).location).toBe(`pvc://etcd-backups/prod/${timestamp}/`)
    expect(upload.stdout).toBe(`pvc://etcd-backups/prod/${timestamp}/\n`)
    expect(readFileSync(join(volume, "prod", timestamp, "backup-manifest.json"), "utf8")).toBe(readFileSync(join(dir, "backup-manifest.json"), "utf8"))
  })

  it("a failing verify exits non-zero, so the kubelet never starts backup-upload", async () => {
    const pod = policyPod()
    const dir = copyBackup(backup, join(tempDir("torn", work), "backup"))
    writeFileSync(join(dir, readManifest(dir).files.snapshot.name), "truncated")
    const verify = await runAsPod(container(pod, "backup-verify")!, {
      [backupPodPaths.backupDir]: dir,
      [`${backupPodPaths.backupDir}/verification.json`]: join(dir, "verification.json"),
      [backupPodPaths.etcdutlBinary]: writeScriptedEtcdutl(join(work, "bin2", "etcdutl")),
    })
    expect(verify.status).not.toBe(0)
  })
})
