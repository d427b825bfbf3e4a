/**
 * Issue 18 at backup time, against real etcd 3.5: backup-init reads key counts, ClusterVersion
 * and a sample of encrypted values at the snapshot's revision; backup-create decrypts the sample
 * with the staged encryption-config and records it all in the manifest. The encrypted values are
 * made by openssl and Python's cryptography, never by the project's code.
 */
import { randomBytes } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import { decodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { operandList } from "../../../src/domain/operands.ts"
import { backupCreate } from "../../../src/programs/backup/backup-create.ts"
import { backupInit } from "../../../src/programs/backup/backup-init.ts"
import { clusterVersionKey } from "../../../src/programs/backup/bundle-facts.ts"
import { operatorCrKeyUnder } from "../../../src/programs/backup/etcd-operator-revisions.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { secretType } from "../../../src/services/kube/resources.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { opensslAesCbcValue, protobufObject, pythonAesGcmValue, requirePythonCryptography } from "../../support/encrypted-fixtures.ts"
import { etcd3Client, operatorCrJson, TestEtcd } from "../../support/etcd-fixture.ts"
import { loadedCluster, revisions, stageAll } from "./backup-resources-harness.ts"

const oldKey = new Uint8Array(randomBytes(32))
const newKey = new Uint8Array(randomBytes(32))
const gcmKey = new Uint8Array(randomBytes(32))

/** kube-apiserver's EncryptionConfiguration holding `keys` (aescbc, newest first) and the aesgcm key for configmaps. */
const encryptionConfig = (keys: ReadonlyArray<{ name: string; secret: Uint8Array }>) =>
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

const rightKeys = [
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

/** Writes, under `prefix`, the operator CRs of the fixture's revisions, a ClusterVersion and encrypted secrets and configmaps. */
const seed = (prefix: string, options: { readonly cutShort?: boolean } = {}) =>
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
    if (options.cutShort === true) {
      const whole = opensslAesCbcValue({ keyName: "1", key: oldKey, plaintext: secret("short") })
      values.push([`${prefix}/secrets/ns/short`, whole.subarray(0, whole.length - 5)])
    }
    for (const [key, value] of values) yield* Effect.promise(() => client.put(key).value(Buffer.from(value)))
  })

/** backup-init at `prefix`, the fixture's revisions staged with `config` as kube-apiserver's encryption-config, then backup-create. */
const backUp = (name: string, prefix: string, config: string) =>
  Effect.gen(function* () {
    const { workDir } = yield* TestEtcd
    const backupDir = join(workDir, name)
    yield* backupInit({ backupDir, etcdPrefix: prefix }).pipe(Effect.provide(DiskSpace.live))
    const { cluster } = loadedCluster({ optionalResources: "all" })
    const stored = cluster.get(secretType, "openshift-kube-apiserver", `encryption-config-${revisions["kube-apiserver"]}`)
    assert.isDefined(stored)
    const replaced = cluster.replace(secretType, { ...stored!, data: { "encryption-config": Buffer.from(config).toString("base64") } })
    assert.isTrue(Result.isSuccess(replaced))
    yield* stageAll(backupDir, cluster)
    const exit = yield* Effect.exit(backupCreate({ backupDir, revisions, toolVersion: "9.9.9-test" }).pipe(Effect.provide(Tarball.live)))
    const manifestPath = join(backupDir, "backup-manifest.json")
    const manifest = existsSync(manifestPath) ? decodeBackupManifest(readFileSync(manifestPath, "utf8")) : undefined
    return { backupDir, exit, manifest: manifest !== undefined && Result.isSuccess(manifest) ? manifest.success : undefined }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-create to fail")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(reason, "expected a typed failure")
  return (reason as unknown as { error: { _tag: string; message: string; failures: ReadonlyArray<{ resource: string; key: string; keyName: string }> } }).error
}

requirePythonCryptography()

layer(TestEtcd.layerWithEtcd(), { excludeTestServices: true })("the bundle proven at backup time (etcd 3.5)", (it) => {
  it.effect("a bundle with the right keys decrypts every sampled value; versions and key counts are in the manifest", () =>
    Effect.gen(function* () {
      yield* seed("/ok")
      const { backupDir, exit, manifest } = yield* backUp("ok", "/ok", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.isDefined(manifest)
      assert.deepStrictEqual(manifest!.decryption, {
        verdict: "PASS",
        message: "4 values under 3 keys decrypted with the bundled configuration",
        decrypted: 4,
        keys: ["aescbc:1", "aescbc:2", "aesgcm:g1"],
        failures: [],
        skipped: [],
      })
      assert.strictEqual(manifest!.cluster?.openshiftVersion, "4.16.3")
      assert.strictEqual(manifest!.cluster?.clusterId, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
      assert.match(manifest!.cluster?.etcdVersion ?? "", /^3\.5\./)
      assert.deepStrictEqual(manifest!.keyCounts, {
        "/ok/config.openshift.io/clusterversions/": 1,
        "/ok/configmaps/": 1,
        "/ok/namespaces/": 1,
        "/ok/operator.openshift.io/etcds/": 1,
        "/ok/operator.openshift.io/kubeapiservers/": 1,
        "/ok/operator.openshift.io/kubecontrollermanagers/": 1,
        "/ok/operator.openshift.io/kubeschedulers/": 1,
        "/ok/secrets/": 3,
      })
      // The private sample went with the staging area.
      assert.deepStrictEqual(readdirSync(join(backupDir, ".cluster-backup")), ["snapshot.json"])
    }),
  )

  it.effect("backup-init keeps the sample private (0600) until backup-create removes it", () =>
    Effect.gen(function* () {
      yield* seed("/private")
      const { workDir } = yield* TestEtcd
      const backupDir = join(workDir, "private")
      yield* backupInit({ backupDir, etcdPrefix: "/private" }).pipe(Effect.provide(DiskSpace.live))
      const sample = join(backupDir, ".cluster-backup", "encrypted-sample.json")
      assert.strictEqual(statSync(sample).mode & 0o777, 0o600)
      const doc = JSON.parse(readFileSync(sample, "utf8")) as { values: ReadonlyArray<{ resource: string; key: string }> }
      assert.deepStrictEqual(
        doc.values.map((v) => `${v.resource} ${v.key}`),
        ["configmaps /private/configmaps/ns/d", "secrets /private/secrets/ns/a", "secrets /private/secrets/ns/b", "secrets /private/secrets/ns/c"],
      )
    }),
  )

  it.effect("a bundle missing the newest key (rotated after the snapshot) fails naming the resource and key; the files stay for inspection", () =>
    Effect.gen(function* () {
      yield* seed("/rotated")
      const { backupDir, exit, manifest } = yield* backUp("rotated", "/rotated", encryptionConfig([{ name: "1", secret: oldKey }]))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "BundleCannotDecrypt")
      assert.deepStrictEqual(error.failures, [
        { resource: "secrets", key: "/rotated/secrets/ns/b", keyName: "2" },
        { resource: "secrets", key: "/rotated/secrets/ns/c", keyName: "2" },
      ])
      assert.include(error.message, 'secrets /rotated/secrets/ns/b: encrypted with aescbc key "2", which the bundled encryption configuration does not hold')
      assert.strictEqual(manifest?.decryption?.verdict, "FAIL")
      assert.isTrue(readdirSync(backupDir).some((n) => n.startsWith("static_kuberesources_")))
      // A rerun does not turn the failed check into a success.
      const again = yield* Effect.exit(backupCreate({ backupDir, revisions, toolVersion: "9.9.9-test" }).pipe(Effect.provide(Tarball.live)))
      assert.strictEqual(failureOf(again)._tag, "BundleCannotDecrypt")
    }),
  )

  it.effect("a wrong key under the right name fails naming the resource and key", () =>
    Effect.gen(function* () {
      yield* seed("/wrong")
      const wrong = [
        { name: "2", secret: new Uint8Array(randomBytes(32)) },
        { name: "1", secret: oldKey },
      ]
      const { exit } = yield* backUp("wrong", "/wrong", encryptionConfig(wrong))
      const error = failureOf(exit)
      assert.deepStrictEqual(
        error.failures.map((f) => `${f.resource} ${f.key} ${f.keyName}`),
        ["secrets /wrong/secrets/ns/b 2", "secrets /wrong/secrets/ns/c 2"],
      )
    }),
  )

  it.effect("a value cut short fails naming the resource and key", () =>
    Effect.gen(function* () {
      yield* seed("/short", { cutShort: true })
      const { exit, manifest } = yield* backUp("short", "/short", encryptionConfig(rightKeys))
      const error = failureOf(exit)
      assert.deepStrictEqual(error.failures, [{ resource: "secrets", key: "/short/secrets/ns/short", keyName: "1" }])
      assert.include(manifest?.decryption?.message ?? "", "/short/secrets/ns/short")
    }),
  )
})
