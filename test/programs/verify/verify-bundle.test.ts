/**
 * verify's checks of the bundle's proof (issue 18) on backups of real etcd 3.5 holding values
 * encrypted by openssl and Python's cryptography: the versions and backup-time decryption read
 * from the manifest, and with --test-restore the key counts of the restored member compared
 * with the manifest's.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import { decodeBackupManifest, encodeBackupManifest } from "../../../src/domain/backup-manifest.ts"
import { verifyBackup } from "../../../src/programs/verify/verify.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { backUp, encryptionConfig, oldKey, rightKeys, seed } from "../../support/bundle-backup.ts"
import { requirePythonCryptography } from "../../support/encrypted-fixtures.ts"
import { TestEtcd } from "../../support/etcd-fixture.ts"

requirePythonCryptography()

const checksOf = (report: { readonly checks: ReadonlyArray<{ readonly id: string; readonly verdict: string; readonly found: string }> }) =>
  new Map(report.checks.map((c) => [c.id, c]))

layer(TestEtcd.layerWithEtcd(), { excludeTestServices: true })("verify: the bundle's proof (etcd 3.5)", (it) => {
  it.effect("reports the versions, the backup-time decryption and, with --test-restore, key counts equal to the manifest's", () =>
    Effect.gen(function* () {
      yield* seed("/v")
      const { backupDir, exit } = yield* backUp("verify-ok", "/v", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit))
      const { workDir } = yield* TestEtcd
      const report = yield* verifyBackup({ backupDir, testRestore: true, scratchDir: workDir, etcdPrefix: "/v" }).pipe(Effect.provide(Etcdutl.live()))
      const checks = checksOf(report)
      assert.strictEqual(checks.get("versions")?.verdict, "PASS")
      assert.match(checks.get("versions")?.found ?? "", /^OpenShift 4\.16\.3, cluster ID 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, etcd 3\.5\.\d+$/)
      assert.deepInclude(checks.get("bundle-decryption"), { verdict: "PASS", found: "4 values under 3 keys decrypted with the bundled configuration" })
      assert.deepInclude(checks.get("test-restore-key-counts"), { verdict: "PASS", found: "10 keys under 8 prefixes, as recorded at backup time" })
      assert.isTrue(report.passed, JSON.stringify(report.checks.filter((c) => c.verdict !== "PASS")))
    }),
  )

  it.effect("a restored member holding fewer keys than the backup recorded fails the key-count check, naming the prefix", () =>
    Effect.gen(function* () {
      yield* seed("/lost")
      const { backupDir } = yield* backUp("verify-lost", "/lost", encryptionConfig(rightKeys))
      // The manifest recorded one secret more than the snapshot holds: as if the snapshot had lost it.
      const manifestPath = join(backupDir, "backup-manifest.json")
      const decoded = decodeBackupManifest(readFileSync(manifestPath, "utf8"))
      assert.isTrue(Result.isSuccess(decoded))
      if (Result.isFailure(decoded)) return
      const m = decoded.success
      writeFileSync(manifestPath, encodeBackupManifest({ ...m, keyCounts: { ...m.keyCounts, "/lost/secrets/": 4 } }))
      const { workDir } = yield* TestEtcd
      const report = yield* verifyBackup({ backupDir, testRestore: true, scratchDir: workDir, etcdPrefix: "/lost" }).pipe(Effect.provide(Etcdutl.live()))
      const check = checksOf(report).get("test-restore-key-counts")
      assert.strictEqual(check?.verdict, "FAIL")
      assert.include(check?.found ?? "", "/lost/secrets/ 4 -> 3")
      assert.isFalse(report.passed)
    }),
  )

  it.effect("a backup whose bundle lacks the newest key fails verify's bundle-decryption check, naming the resource and key", () =>
    Effect.gen(function* () {
      yield* seed("/vrot")
      const { backupDir } = yield* backUp("verify-rotated", "/vrot", encryptionConfig([{ name: "1", secret: oldKey }]))
      const report = yield* verifyBackup({ backupDir, etcdPrefix: "/vrot" }).pipe(Effect.provide(Etcdutl.live()))
      const check = checksOf(report).get("bundle-decryption")
      assert.strictEqual(check?.verdict, "FAIL")
      assert.include(check?.found ?? "", 'secrets /vrot/secrets/ns/b: encrypted with aescbc key "2"')
      assert.isFalse(report.passed)
    }),
  )
})
