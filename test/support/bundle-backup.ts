/**
 * A backup whose snapshot holds encrypted values made by openssl and Python's cryptography (never
 * by the project's code), under a per-test etcd key prefix of the shared TestEtcd member:
 * backup-init, the fixture's revisions staged with a chosen encryption-config, backup-create.
 */
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert } from "@effect/vitest"
import { Effect, Result } from "effect"
import { decodeBackupManifest } from "../../src/domain/backup-manifest.ts"
import { operandList } from "../../src/domain/operands.ts"
import { backupCreate } from "../../src/programs/backup/backup-create.ts"
import { backupInit } from "../../src/programs/backup/backup-init.ts"
import { clusterVersionKey } from "../../src/programs/backup/bundle-facts.ts"
import { operatorCrKeyUnder } from "../../src/programs/backup/etcd-operator-revisions.ts"
import { DiskSpace } from "../../src/services/disk-space.ts"
import { configMapType, secretType } from "../../src/services/kube/resources.ts"
import { Tarball } from "../../src/services/tarball/tarball.ts"
import { loadedCluster, revisions, stageAll } from "../programs/backup/backup-resources-harness.ts"
import { opensslAesCbcValue, protobufObject, pythonAesGcmValue } from "./encrypted-fixtures.ts"
import { etcd3Client, operatorCrJson, TestEtcd } from "./etcd-fixture.ts"

export const oldKey = new Uint8Array(randomBytes(32))
export const newKey = new Uint8Array(randomBytes(32))
export const gcmKey = new Uint8Array(randomBytes(32))

/** kube-apiserver's EncryptionConfiguration holding `keys` (aescbc, newest first) and the aesgcm key for configmaps. */
export const encryptionConfig = (keys: ReadonlyArray<{ name: string; secret: Uint8Array }>) =>
  JSON.stringify({
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "EncryptionConfiguration",
    resources: [
      {
        resources: ["secrets"],
        providers: [{ aescbc: { keys: keys.map((k) => ({ name: k.name, secret: Buffer.from(k.secret).toString("base64") })) } }, { identity: {} }],
      },
      { resources: ["configmaps"], providers: [{ aesgcm: { keys: [{ name: "g1", secret: Buffer.from(gcmKey).toString("base64") }] } }, { identity: {} }] },
    ],
  })

export const rightKeys = [
  { name: "2", secret: newKey },
  { name: "1", secret: oldKey },
]

const clusterVersionJson = JSON.stringify({
  apiVersion: "config.openshift.io/v1",
  kind: "ClusterVersion",
  metadata: { name: "version" },
  spec: { clusterID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" },
  status: {
    desired: { version: "4.16.4" },
    history: [
      { state: "Partial", version: "4.16.4" },
      { state: "Completed", version: "4.16.3" },
    ],
  },
})

/**
 * Writes, under `prefix`, the operator CRs of the fixture's revisions, a ClusterVersion and
 * encrypted secrets and configmaps; `plainConfigMapsFirst` plain configmaps sort before the
 * encrypted one (as a migration to encryption leaves them).
 */
export const seed = (prefix: string, options: { readonly cutShort?: boolean; readonly plainConfigMapsFirst?: number } = {}) =>
  Effect.gen(function* () {
    const { member } = yield* TestEtcd
    const client = yield* etcd3Client(member.connection)
    const secret = (name: string) => protobufObject("v1", "Secret", Buffer.from(name))
    const values: Array<[string, Uint8Array | string]> = [
      ...operandList().map((o): [string, string] => [operatorCrKeyUnder(prefix)(o), operatorCrJson(o, revisions[o.name])]),
      [clusterVersionKey(prefix), clusterVersionJson],
      [`${prefix}/secrets/ns/a`, opensslAesCbcValue({ keyName: "1", key: oldKey, plaintext: secret("a") })],
      [`${prefix}/secrets/ns/b`, opensslAesCbcValue({ keyName: "2", key: newKey, plaintext: secret("b") })],
      [`${prefix}/secrets/ns/c`, opensslAesCbcValue({ keyName: "2", key: newKey, plaintext: secret("c") })],
      [`${prefix}/namespaces/ns`, JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ns" } })],
    ]
    const cmKey = `${prefix}/configmaps/ns/d`
    values.push([cmKey, pythonAesGcmValue({ keyName: "g1", key: gcmKey, etcdKey: cmKey, plaintext: protobufObject("v1", "ConfigMap") })])
    for (let i = 0; i < (options.plainConfigMapsFirst ?? 0); i++) {
      values.push([`${prefix}/configmaps/aa/${String(i).padStart(3, "0")}`, protobufObject("v1", "ConfigMap", Buffer.from(`plain ${i}`))])
    }
    if (options.cutShort === true) {
      const whole = opensslAesCbcValue({ keyName: "1", key: oldKey, plaintext: secret("short") })
      values.push([`${prefix}/secrets/ns/short`, whole.subarray(0, whole.length - 5)])
    }
    for (const [key, value] of values) yield* Effect.promise(() => client.put(key).value(Buffer.from(value)))
  })

export interface BackUpOptions {
  /** Replaces the data of kube-apiserver's revisioned Secrets (by name without the revision; values as text). */
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Replaces the data of kube-apiserver's revisioned ConfigMaps. */
  readonly configMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly certWarnDays?: number
}

const encode = (data: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]))

/**
 * backup-init at `prefix`, the fixture's revisions staged with `config` as kube-apiserver's
 * encryption-config (and the replaced resources of `options`), then backup-create.
 */
export const backUp = (name: string, prefix: string, config: string, options: BackUpOptions = {}) =>
  Effect.gen(function* () {
    const { workDir } = yield* TestEtcd
    const backupDir = join(workDir, name)
    yield* backupInit({ backupDir, etcdPrefix: prefix }).pipe(Effect.provide(DiskSpace.live))
    const { cluster } = loadedCluster({ optionalResources: "all" })
    const revisioned = (base: string) => `${base}-${revisions["kube-apiserver"]}`
    const namespace = "openshift-kube-apiserver"
    const secrets = { ...options.secrets, "encryption-config": { "encryption-config": config } }
    for (const [base, data] of Object.entries(secrets)) {
      const stored = cluster.get(secretType, namespace, revisioned(base))
      assert.isDefined(stored, revisioned(base))
      assert.isTrue(Result.isSuccess(cluster.replace(secretType, { ...stored!, data: encode(data) })))
    }
    for (const [base, data] of Object.entries(options.configMaps ?? {})) {
      const stored = cluster.get(configMapType, namespace, revisioned(base))
      assert.isDefined(stored, revisioned(base))
      assert.isTrue(Result.isSuccess(cluster.replace(configMapType, { ...stored!, data })))
    }
    yield* stageAll(backupDir, cluster)
    const exit = yield* Effect.exit(
      backupCreate({ backupDir, revisions, toolVersion: "9.9.9-test", certWarnDays: options.certWarnDays }).pipe(Effect.provide(Tarball.live)),
    )
    const manifestPath = join(backupDir, "backup-manifest.json")
    const manifest = existsSync(manifestPath) ? decodeBackupManifest(readFileSync(manifestPath, "utf8")) : undefined
    return { backupDir, exit, manifest: manifest !== undefined && Result.isSuccess(manifest) ? manifest.success : undefined }
  })
