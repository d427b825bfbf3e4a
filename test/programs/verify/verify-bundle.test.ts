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
import { verifyBackup, type VerifyOptions } from "../../../src/programs/verify/verify.ts"
import type { VerifyCheck, VerifyReport } from "../../../src/programs/verify/verify-report.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { backUp, encryptionConfig, oldKey, rightKeys, seed } from "../../support/bundle-backup.ts"
import { opensslAesCbcValue, protobufObject, requirePythonCryptography } from "../../support/encrypted-fixtures.ts"
import { etcd3Client, TestEtcd } from "../../support/etcd-fixture.ts"

requirePythonCryptography()

const b64 = (bytes: string | Uint8Array) => Buffer.from(bytes).toString("base64")

/** One call of the restored member's JSON gateway; the revision it leaves the member at. */
const gateway = (clientUrl: string, call: "put" | "deleterange", body: Readonly<Record<string, string>>) =>
  Effect.promise(async () => {
    const res = await fetch(`${clientUrl}/v3/kv/${call}`, { method: "POST", body: JSON.stringify(body) })
    const doc = (await res.json()) as { header: { revision: string } }
    return Number(doc.header.revision)
  })

/** `verify --test-restore` of `backupDir` (objects under `prefix`), `afterStart` changing the restored member first. */
const verifyRestored = (backupDir: string, prefix: string, afterStart?: VerifyOptions["testRestoreAfterStart"]) =>
  Effect.gen(function* () {
    const { workDir } = yield* TestEtcd
    return yield* verifyBackup({ backupDir, testRestore: true, scratchDir: workDir, etcdPrefix: prefix, testRestoreAfterStart: afterStart }).pipe(
      Effect.provide(Etcdutl.live()),
    )
  })

const checksOf = (report: { readonly checks: ReadonlyArray<VerifyCheck> }) => new Map(report.checks.map((c) => [c.id, c]))

/** The report failed, and its check `id` failed finding `found`. */
const assertFails = (report: VerifyReport, id: string, found: string) => {
  const check = checksOf(report).get(id)
  assert.strictEqual(check?.verdict, "FAIL")
  assert.include(check?.found ?? "", found)
  assert.isFalse(report.passed)
}

layer(TestEtcd.layerWithEtcd(), { excludeTestServices: true })("verify: the bundle's proof (etcd 3.5)", (it) => {
  it.effect("reports the versions, the backup-time decryption and, with --test-restore, key counts equal to the manifest's", () =>
    Effect.gen(function* () {
      yield* seed("/v")
      const { backupDir, exit } = yield* backUp("verify-ok", "/v", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit))
      const report = yield* verifyRestored(backupDir, "/v")
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
      const report = yield* verifyRestored(backupDir, "/lost")
      assertFails(report, "test-restore-key-counts", "/lost/secrets/ 4 -> 3")
    }),
  )

  it.effect("a backup whose bundle lacks the newest key fails verify's bundle-decryption check, naming the resource and key", () =>
    Effect.gen(function* () {
      yield* seed("/vrot")
      const { backupDir } = yield* backUp("verify-rotated", "/vrot", encryptionConfig([{ name: "1", secret: oldKey }]))
      const report = yield* verifyBackup({ backupDir, etcdPrefix: "/vrot" }).pipe(Effect.provide(Etcdutl.live()))
      assertFails(report, "bundle-decryption", 'secrets /vrot/secrets/ns/b: encrypted with aescbc key "2"')
    }),
  )

  it.effect(
    "--test-restore decrypts a sample read from the restored member with the bundled configuration, a prefix encrypted after 25 plain values included",
    () =>
      Effect.gen(function* () {
        yield* seed("/vdec", { plainConfigMapsFirst: 25 })
        const { backupDir } = yield* backUp("verify-decrypt", "/vdec", encryptionConfig(rightKeys))
        const report = yield* verifyRestored(backupDir, "/vdec")
        const check = checksOf(report).get("test-restore-decryption")
        assert.deepInclude(check, { verdict: "PASS", found: "4 values under 3 keys decrypted with the bundled configuration" })
        assert.include(check?.expected ?? "", "static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/encryption-config")
        assert.isTrue(report.passed, JSON.stringify(report.checks.filter((c) => c.verdict !== "PASS")))
      }),
  )

  it.effect("keys deleted from the restored member before the comparison fail test-restore-key-counts, naming the prefix", () =>
    Effect.gen(function* () {
      yield* seed("/del")
      const { backupDir } = yield* backUp("verify-deleted", "/del", encryptionConfig(rightKeys))
      const report = yield* verifyRestored(backupDir, "/del", ({ clientUrl }) =>
        Effect.gen(function* () {
          yield* gateway(clientUrl, "deleterange", { key: b64("/del/secrets/ns/a") })
          return yield* gateway(clientUrl, "deleterange", { key: b64("/del/namespaces/ns") })
        }),
      )
      assertFails(report, "test-restore-key-counts", "/del/namespaces/ 1 -> 0; /del/secrets/ 3 -> 2")
    }),
  )

  it.effect("a value of the restored member that the bundle cannot decrypt fails test-restore-decryption, naming the resource, key and key name", () =>
    Effect.gen(function* () {
      yield* seed("/vbad")
      const { backupDir } = yield* backUp("verify-undecryptable", "/vbad", encryptionConfig(rightKeys))
      const unknown = opensslAesCbcValue({ keyName: "9", key: new Uint8Array(32).fill(9), plaintext: protobufObject("v1", "Secret") })
      const report = yield* verifyRestored(backupDir, "/vbad", ({ clientUrl }) =>
        gateway(clientUrl, "put", { key: b64("/vbad/secrets/ns/z"), value: b64(unknown) }),
      )
      assertFails(report, "test-restore-decryption", 'secrets /vbad/secrets/ns/z: encrypted with aescbc key "9"')
    }),
  )

  it.effect("keys that are not UTF-8 at a page's end are counted once, as at backup time: the next page starts after their bytes", () =>
    Effect.gen(function* () {
      yield* seed("/u8")
      const { member } = yield* TestEtcd
      const client = yield* etcd3Client(member.connection)
      // A page of the restored member's keys (5000) ends among the 200 keys whose last bytes are no UTF-8 (0xff).
      const keys = [
        ...Array.from({ length: 4900 }, (_, i) => Buffer.from(`/u8/things/ns/k${String(i).padStart(5, "0")}`)),
        ...Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from("/u8/things/ns/"), Buffer.from([0xff]), Buffer.from(String(i).padStart(3, "0"))])),
      ]
      for (let i = 0; i < keys.length; i += 100) {
        yield* Effect.promise(() => Promise.all(keys.slice(i, i + 100).map((k) => client.put(k).value("{}"))))
      }
      const { backupDir, exit, manifest } = yield* backUp("verify-utf8", "/u8", encryptionConfig(rightKeys))
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.strictEqual(manifest?.keyCounts?.["/u8/things/"], 5100)
      const report = yield* verifyRestored(backupDir, "/u8")
      // Before, the page after one ending with such a key restarted at its text's bytes (U+FFFD, below 0xff): counted again.
      assert.deepInclude(checksOf(report).get("test-restore-key-counts"), { verdict: "PASS" })
      assert.isTrue(report.passed, JSON.stringify(report.checks.filter((c) => c.verdict !== "PASS")))
    }),
  )
})
