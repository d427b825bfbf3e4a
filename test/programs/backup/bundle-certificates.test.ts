/**
 * Issue 18's certificate report through backup-create and verify, on backups of real etcd 3.5
 * whose kube-apiserver revision holds certificates made by openssl: an expired serving
 * certificate fails the backup (named with its file and subject), one expiring in 10 days warns
 * (logged, in the manifest with the soonest expiry), a valid one and a CA bundle mixing an expired
 * and a valid CA pass; kubeconfigs' base64 `*-data` fields are read too; `--cert-warn-days` moves
 * the horizon.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { verifyBackup } from "../../../src/programs/verify/verify.ts"
import { Etcdutl } from "../../../src/services/etcdutl.ts"
import { backUp, encryptionConfig, rightKeys, seed, type BackUpOptions } from "../../support/bundle-backup.ts"
import { certificateFactory, kubeconfigWith, requirePythonCryptography, type IssuedCertificate } from "../../support/encrypted-fixtures.ts"
import { TestEtcd } from "../../support/etcd-fixture.ts"
import { tempDir } from "../../support/temp-dir.ts"

requirePythonCryptography()

const day = 86_400_000
const now = Math.floor(Date.now() / 1000) * 1000
const at = (days: number) => new Date(now + days * day)
const make = certificateFactory(tempDir("bundle-certificates"))
const ca = make.ca("kube-apiserver-signer", at(-10), at(3650))
const certs: Record<"oldCa" | "expired" | "expiring" | "valid", IssuedCertificate> = {
  oldCa: make.ca("old-signer", at(-800), at(-5)),
  expired: make.leaf("expired-serving", ca, at(-9), at(-1)),
  expiring: make.leaf("expiring-serving", ca, at(-9), at(10)),
  valid: make.leaf("valid-serving", ca, at(-1), at(365)),
}

const serving = "localhost-recovery-serving-certkey"
const servingFile = `static-pod-resources/kube-apiserver-pod-7/secrets/${serving}/tls.crt`
const withServing = (cert: IssuedCertificate): BackUpOptions => ({ secrets: { [serving]: { "tls.crt": cert.certPem, "tls.key": "not read" } } })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected backup-create to fail")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(reason, "expected a typed failure")
  return (reason as unknown as { error: { _tag: string; message: string; failures: ReadonlyArray<{ source: string; subject: string; message: string }> } })
    .error
}

/** A backup of the fixture with `options`' certificates, and verify's certificates check of it. */
const backUpAndVerify = (name: string, options: BackUpOptions, verifyWarnDays?: number) =>
  Effect.gen(function* () {
    yield* seed(`/${name}`)
    const backup = yield* backUp(name, `/${name}`, encryptionConfig(rightKeys), options)
    const report = yield* verifyBackup({ backupDir: backup.backupDir, etcdPrefix: `/${name}`, certWarnDays: verifyWarnDays }).pipe(
      Effect.provide(Etcdutl.live()),
    )
    const check = report.checks.find((c) => c.id === "certificates")
    assert.isDefined(check)
    return { ...backup, report, check: check! }
  })

layer(TestEtcd.layerWithEtcd(), { excludeTestServices: true })("the bundle's certificates (backup-create and verify, etcd 3.5)", (it) => {
  it.effect("an expired serving certificate fails the backup, naming the file and the certificate; verify fails it too", () =>
    Effect.gen(function* () {
      const { exit, manifest, check, report } = yield* backUpAndVerify("expired", withServing(certs.expired))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "BundleCertificatesInvalid")
      assert.deepInclude(error.failures[0], { source: servingFile, subject: "CN=expired-serving" })
      assert.include(error.message, `${servingFile} (CN=expired-serving): certificate expired at`)
      // The manifest is kept for inspection, recording the failure.
      assert.strictEqual(manifest?.certificates?.verdict, "FAIL")
      assert.strictEqual(check.verdict, "FAIL")
      assert.include(check.found, `FAIL ${servingFile} (CN=expired-serving): certificate expired at`)
      assert.isFalse(report.passed)
    }),
  )

  it.effect(
    "a serving certificate expiring in 10 days warns: the backup succeeds, the manifest records it and the soonest expiry, verify passes and lists it",
    () =>
      Effect.gen(function* () {
        const { exit, manifest, check } = yield* backUpAndVerify("expiring", withServing(certs.expiring))
        assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
        const record = manifest?.certificates
        assert.strictEqual(record?.verdict, "WARN")
        assert.strictEqual(record?.warnDays, 30)
        assert.deepStrictEqual(record?.soonestExpiry, {
          source: servingFile,
          subject: "CN=expiring-serving",
          notAfter: at(10).toISOString().replace(".000Z", "Z"),
        })
        assert.deepStrictEqual(
          record?.problems.map((p) => [p.source, p.verdict, p.subject]),
          [[servingFile, "WARN", "CN=expiring-serving"]],
        )
        assert.strictEqual(check.verdict, "PASS")
        assert.include(check.found, `soonest expiry ${at(10).toISOString().replace(".000Z", "Z")} (CN=expiring-serving in ${servingFile})`)
        assert.include(check.found, `WARN ${servingFile} (CN=expiring-serving): certificate expires in 10 days`)
      }),
  )

  it.effect("--cert-warn-days 5 does not warn about a certificate expiring in 10 days", () =>
    Effect.gen(function* () {
      const { exit, manifest, check } = yield* backUpAndVerify("horizon", { ...withServing(certs.expiring), certWarnDays: 5 }, 5)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepInclude(manifest?.certificates, { verdict: "PASS", warnDays: 5, problems: [] })
      assert.strictEqual(check.verdict, "PASS")
      assert.notInclude(check.found, "WARN")
      assert.include(check.expected, "within 5 days")
    }),
  )

  it.effect("a valid serving certificate, and a CA bundle mixing an expired and a valid CA, pass", () =>
    Effect.gen(function* () {
      const { exit, manifest, check, report } = yield* backUpAndVerify("valid", {
        ...withServing(certs.valid),
        configMaps: { "etcd-serving-ca": { "ca-bundle.crt": certs.oldCa.certPem + ca.certPem } },
      })
      assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? String(exit.cause) : "")
      assert.deepInclude(manifest?.certificates, { verdict: "PASS", problems: [] })
      assert.strictEqual(check.verdict, "PASS")
      assert.notInclude(check.found, "WARN")
      assert.isTrue(report.passed, JSON.stringify(report.checks.filter((c) => c.verdict !== "PASS")))
    }),
  )

  it.effect("reads a kubeconfig's base64 client-certificate-data: an expired client certificate there fails the backup", () =>
    Effect.gen(function* () {
      const kubeconfig = "kube-apiserver-cert-syncer-kubeconfig"
      const { exit, check } = yield* backUpAndVerify("kubeconfig", {
        configMaps: { [kubeconfig]: { kubeconfig: kubeconfigWith(ca.certPem, certs.expired.certPem) } },
      })
      const source = `static-pod-resources/kube-apiserver-pod-7/configmaps/${kubeconfig}/kubeconfig (users[0].user.client-certificate-data)`
      assert.deepInclude(failureOf(exit).failures[0], { source, subject: "CN=expired-serving" })
      assert.strictEqual(check.verdict, "FAIL")
      assert.include(check.found, `FAIL ${source}`)
    }),
  )
})
