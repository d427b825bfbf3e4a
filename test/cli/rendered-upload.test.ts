/**
 * The rendered pod's backup-upload container, run as the pod runs it: its exact command and
 * environment from the YAML, with only the pod's paths mapped to local ones (like the demo's
 * local kubelet) and the mounted Secret materialised as the file the kubelet would write.
 */
import { generateKeyPairSync } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { renderBackupPodYaml, type BackupPod } from "../../src/domain/pod-spec.ts"
import { backupPodPaths, storeCredentialsKey, trustedKeysConfigMapKey } from "../../src/domain/backup-pod-names.ts"
import type { BackupPodOptions } from "../../src/domain/backup-pod-options.ts"
import { manifestFileName, parseBackupTimestamp } from "../../src/domain/archive-names.ts"
import { signatureFileName } from "../../src/domain/manifest-signature-file.ts"
import { parseSigningKey, signManifest } from "../../src/services/crypto/manifest-signature.ts"
import { storedBackup } from "../support/stored-backups.ts"
import { Result } from "effect"
import type { BackupStoreOptions } from "../../src/domain/pod-store-options.ts"
import { type ProxyEnv, proxySecretName } from "../../src/domain/pod-proxy-env.ts"
import { copyBackup, fakeBackupForSuite, readManifest } from "../support/bad-backups.ts"
import { startForwardProxy, viaProxyName } from "../support/forward-proxy.ts"
import { runCli } from "../support/run-cli.ts"
import { createBucket, s3Env, s3Server, type S3TestServer } from "../support/s3-server.ts"
import { startStsStub } from "../support/sts-stub.ts"
import { podEnvValue } from "../support/pod-env.ts"

const revisions = { etcd: 3, "kube-apiserver": 7, "kube-controller-manager": 7, "kube-scheduler": 7 }
const bucket = `rendered-${process.pid}`
const { work, backup } = fakeBackupForSuite("rendered-upload")
let server: S3TestServer

/** The backup-upload container of the pod rendered for `store`, as YAML gives it. */
const uploadContainer = (store: BackupStoreOptions, proxyEnv?: ProxyEnv, more: Partial<BackupPodOptions> = {}) => {
  const pod = YAML.parse(
    renderBackupPodYaml(revisions, { store, activeDeadlineSeconds: 10_800, ...(proxyEnv === undefined ? {} : { proxyEnv }), ...more }),
  ) as BackupPod
  const upload = pod.spec.initContainers.at(-1)!
  expect(upload.name).toBe("backup-upload")
  return upload
}

/**
 * Runs the container's command with the pod's paths replaced by `paths` and its env (mapped the
 * same way; a Secret's key from `secrets`, by `<secret>/<key>`, as the kubelet reads it).
 */
const runAsPod = (
  upload: ReturnType<typeof uploadContainer>,
  paths: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>> = {},
  secrets: Readonly<Record<string, string>> = {},
) => {
  const map = (s: string) => paths[s] ?? s
  expect(upload.command[0]).toBe("cluster-backup")
  const podEnv = Object.fromEntries(
    (upload.env ?? []).map((e) => [
      e.name,
      "value" in e ? podEnvValue(e.name, e.value, map) : secrets[`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`],
    ]),
  )
  return runCli(upload.command.slice(1).map(map), { env: { ...env, ...podEnv } })
}

// No credentials but the mounted file: the AWS variables of the test run must not help.
const noAwsVariables = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_SESSION_TOKEN: "", AWS_CA_BUNDLE: "", AWS_ENDPOINT_URL: "", AWS_REGION: "" }
/** The command's environment for listing what the test server holds. */
const listEnv = () => ({ ...noAwsVariables, ...s3Env(server) })

/** The test server's bucket under `prefix` as the pod's store, its credentials from the Secret `store-keys`. */
const s3Store = (prefix: string, deadlineSeconds: number): BackupStoreOptions => ({
  s3Url: `s3://${bucket}/${prefix}`,
  s3Endpoint: server.endpoint,
  s3Region: server.region,
  credentialsSecret: "store-keys",
  partSize: "5Mi",
  partsInFlight: 2,
  deadlineSeconds,
})

beforeAll(async () => {
  server = await s3Server()
  await createBucket(server, bucket)
}, 200_000)

describe("the rendered backup-upload container", { timeout: 150_000 }, () => {
  it("uploads to S3 with the credentials Secret's file alone (Swift), at the bandwidth limit given, and the backup is listed complete", async () => {
    const upload = uploadContainer({ ...s3Store("prod", 120), s3Addressing: "path", bandwidthLimit: "1Mi" })
    // What the kubelet writes for the Secret's key `credentials` (mode 0400).
    const secretDir = join(work, "secret")
    mkdirSync(secretDir)
    const credentials = join(secretDir, storeCredentialsKey)
    writeFileSync(credentials, `[default]\naws_access_key_id = ${server.accessKeyId}\naws_secret_access_key = ${server.secretAccessKey}\n`)
    chmodSync(credentials, 0o400)
    const run = await runAsPod(upload, { [backupPodPaths.backupDir]: backup, [backupPodPaths.storeCredentialsFile]: credentials }, noAwsVariables)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).not.toContain(server.secretAccessKey)
    expect(run.stderr).toContain(", at most 1.0 MiB/s")
    const list = await runCli(["list", `s3://${bucket}/prod`, "--json"], { env: listEnv() })
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ complete: true })])
  })

  it("the operator's proxy variables: the upload goes through the proxy, its credentials from Secret cluster-backup-proxy, never in the spec or the output", async () => {
    const proxy = await startForwardProxy({ credentials: "backup:pr0xy-Pa55word" })
    try {
      const url = new URL(proxy.url)
      url.username = "backup"
      url.password = "pr0xy-Pa55word"
      const upload = uploadContainer(
        { ...s3Store("proxied", 120), s3Endpoint: viaProxyName(server.endpoint, "swift"), s3Addressing: "path" },
        { HTTP_PROXY: url.href, NO_PROXY: ".svc,example.com" },
      )
      expect(JSON.stringify(upload)).not.toContain("pr0xy-Pa55word")
      expect(upload.env).toEqual(
        expect.arrayContaining([
          { name: "HTTP_PROXY", valueFrom: { secretKeyRef: { name: proxySecretName, key: "HTTP_PROXY" } } },
          { name: "NO_PROXY", value: ".svc,example.com" },
        ]),
      )
      const secretDir = join(work, "proxy-secret")
      mkdirSync(secretDir)
      const credentials = join(secretDir, storeCredentialsKey)
      writeFileSync(credentials, `[default]\naws_access_key_id = ${server.accessKeyId}\naws_secret_access_key = ${server.secretAccessKey}\n`)
      const run = await runAsPod(upload, { [backupPodPaths.backupDir]: backup, [backupPodPaths.storeCredentialsFile]: credentials }, noAwsVariables, {
        [`${proxySecretName}/HTTP_PROXY`]: url.href,
      })
      expect(run.status, run.stderr).toBe(0)
      expect(proxy.forwarded.length).toBeGreaterThan(0)
      expect(run.output).not.toContain("pr0xy-Pa55word")
      const list = await runCli(["list", `s3://${bucket}/proxied`, "--json"], { env: listEnv() })
      expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ complete: true })])
    } finally {
      await proxy.close()
    }
  })

  it("without the Secret's file it fails (non-zero) naming the file, and stores nothing complete", async () => {
    const upload = uploadContainer(s3Store("missing", 60))
    const absent = join(work, "absent", storeCredentialsKey)
    const run = await runAsPod(upload, { [backupPodPaths.backupDir]: backup, [backupPodPaths.storeCredentialsFile]: absent }, noAwsVariables)
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain(absent)
    const list = await runCli(["list", `s3://${bucket}/missing`, "--json"], { env: listEnv() })
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
  })

  it("web identity: exchanges the projected token with STS (stub) for Swift's keys, uploads, prunes by its rules; no token, key or session token in its output", async () => {
    const token = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.cHJvamVjdGVkLXRva2Vu"
    const sessionToken = "FwoGZXIvYXdzRENDERED0SESSION0TOKEN"
    const sts = await startStsStub(() => ({
      grant: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, sessionToken, expiresAt: Date.now() + 3_600_000 },
    }))
    try {
      const roleArn = "arn:aws:iam::123456789012:role/cluster-backup"
      const { credentialsSecret: _none, ...store } = s3Store("sts", 120)
      const upload = uploadContainer({ ...store, s3Addressing: "path", webIdentityRoleArn: roleArn, retention: { keepLast: 1 } })
      // What the kubelet projects for the pod's ServiceAccount, audience sts.amazonaws.com.
      const tokenFile = join(work, "projected-token")
      writeFileSync(tokenFile, token)
      const run = await runAsPod(
        upload,
        { [backupPodPaths.backupDir]: backup, [backupPodPaths.webIdentityTokenFile]: tokenFile },
        {
          ...noAwsVariables,
          AWS_ENDPOINT_URL_STS: sts.url,
        },
      )
      expect(run.status, run.stderr).toBe(0)
      expect(sts.requests.map((r) => [r.form.get("RoleArn"), r.form.get("WebIdentityToken")])).toEqual([[roleArn, token]])
      expect(run.stderr).toContain(`assumed role ${roleArn} through STS (web identity)`)
      expect(run.stderr).toContain("pruned the store after the upload")
      for (const secret of [token, token.split(".")[2]!, sessionToken, server.secretAccessKey]) expect(run.output).not.toContain(secret)
      const list = await runCli(["list", `s3://${bucket}/sts`, "--json"], { env: listEnv() })
      expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ complete: true })])
    } finally {
      await sts.close()
    }
  })

  it("with the trusted keys ConfigMap, its prune removes an unsigned backup planted after the pod's signed one instead of the pod's", async () => {
    const volume = join(work, "volume-trusted")
    const signed = copyBackup(backup, join(work, "signed"))
    const { privateKey, publicKey } = generateKeyPairSync("ed25519")
    const key = Result.getOrThrow(parseSigningKey(privateKey.export({ format: "pem", type: "pkcs8" }).toString()))
    writeFileSync(join(signed, signatureFileName), signManifest(readFileSync(join(signed, manifestFileName)), key))
    const keysDir = join(work, "trusted-keys")
    mkdirSync(keysDir)
    writeFileSync(join(keysDir, trustedKeysConfigMapKey), publicKey.export({ format: "pem", type: "spki" }))
    const real = readManifest(signed)
    const planted = storedBackup(real, parseBackupTimestamp(real.timestamp).getTime() + 3_600_000)
    mkdirSync(join(volume, "cluster-backup", "c0ffee", planted.id), { recursive: true })
    for (const [file, bytes] of planted.files) writeFileSync(join(volume, "cluster-backup", "c0ffee", planted.id, file), bytes)
    const upload = uploadContainer(
      { claimName: "backups", clusterId: "c0ffee", partSize: "5Mi", partsInFlight: 2, deadlineSeconds: 120, retention: { keepLast: 1 } },
      undefined,
      { signingKeySecret: "signing", trustedKeysConfigMap: "trusted-keys" },
    )
    const run = await runAsPod(upload, {
      [backupPodPaths.backupDir]: signed,
      [backupPodPaths.storeDir]: volume,
      [backupPodPaths.trustedKeysFile]: join(keysDir, trustedKeysConfigMapKey),
    })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain(`backup ${planted.id} is not trusted: its manifest is not signed`)
    const list = await runCli(["list", volume, "--cluster-id", "c0ffee", "--json"])
    expect(JSON.parse(list.stdout).map((b: { id: string }) => b.id)).toEqual([real.timestamp])
  })

  it("uploads into the PersistentVolumeClaim's mount as a directory store under cluster-backup/<cluster-id>", async () => {
    const volume = join(work, "volume")
    mkdirSync(volume)
    const upload = uploadContainer({ claimName: "backups", clusterId: "c0ffee", partSize: "5Mi", partsInFlight: 2, deadlineSeconds: 120 })
    const run = await runAsPod(upload, { [backupPodPaths.backupDir]: backup, [backupPodPaths.storeDir]: volume })
    expect(run.status, run.stderr).toBe(0)
    const list = await runCli(["list", volume, "--cluster-id", "c0ffee", "--json"])
    expect(list.status, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ complete: true })])
  })
})
