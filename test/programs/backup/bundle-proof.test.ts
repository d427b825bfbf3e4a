/**
 * Issue 18 at backup time, against real etcd 3.5: backup-init reads key counts, ClusterVersion
 * and a sample of encrypted values at the snapshot's revision; backup-create decrypts the sample
 * with the staged encryption-config and records it all in the manifest. The encrypted values are
 * made by openssl and Python's cryptography, never by the project's code.
 */
import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { backupCreate } from "../../../src/programs/backup/backup-create.ts"
import { backupInit } from "../../../src/programs/backup/backup-init.ts"
import { DiskSpace } from "../../../src/services/disk-space.ts"
import { Tarball } from "../../../src/services/tarball/tarball.ts"
import { backUp, encryptionConfig, oldKey, rightKeys, seed } from "../../support/bundle-backup.ts"
import { requirePythonCryptography } from "../../support/encrypted-fixtures.ts"
import { TestEtcd } from "../../support/etcd-fixture.ts"
import { revisions } from "./backup-resources-harness.ts"

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

  it.effect("an --etcd-prefix of two segments: the same proof, key counts per resource under it", () =>
    Effect.gen(function* () {
      yield* seed("/two/segments")
      const { exit, manifest } = yield* backUp("two-segments", "/two/segments", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.strictEqual(manifest!.decryption?.verdict, "PASS")
      assert.strictEqual(manifest!.decryption?.decrypted, 4)
      assert.strictEqual(manifest!.keyCounts?.["/two/segments/secrets/"], 3)
      assert.strictEqual(manifest!.keyCounts?.["/two/segments/operator.openshift.io/etcds/"], 1)
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

  it.effect("a prefix whose first encrypted value comes after 25 plain ones is sampled too (the probe spreads over its keys)", () =>
    Effect.gen(function* () {
      yield* seed("/wide", { plainConfigMapsFirst: 25 })
      const { exit, manifest } = yield* backUp("wide", "/wide", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.strictEqual(manifest?.keyCounts?.["/wide/configmaps/"], 26)
      assert.deepInclude(manifest?.decryption, { decrypted: 4, keys: ["aescbc:1", "aescbc:2", "aesgcm:g1"] })
    }),
  )
})
