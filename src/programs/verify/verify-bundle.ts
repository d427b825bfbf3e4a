/**
 * verify's checks of issue 18's proof of the bundle, from what the manifest recorded at backup
 * time and what the test restore reads back. Manifests written before these records existed get
 * no such lines (nothing to compare against), so their reports are unchanged.
 *
 *   versions                  the OpenShift version, cluster ID and etcd version recorded
 *   bundle-decryption         the sampled values decrypted with the bundled configuration at backup time
 *   certificates              every certificate of the tarball: valid at backup time, warnings for what expires soon
 *   test-restore-key-counts   (--test-restore) the restored member's keys per prefix, at the recorded revision
 *   test-restore-decryption   (--test-restore) its encrypted values, sampled there, decrypted with the bundled configuration
 */
import { Clock, Effect } from "effect"
import type { BackupManifest } from "../../domain/backup-manifest.ts"
import { judgeBundleCertificates, type CertificateProblem } from "../../domain/certificate-checks.ts"
import { formatRfc3339Utc, parseRfc3339Utc } from "../../domain/rfc3339.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import type { OperandTable } from "../../domain/operands.ts"
import type { TarballFile } from "../../services/tarball/tarball.ts"
import { bundledConfigPath, judgeWithBundledConfig } from "../backup/bundle-decryption-check.ts"
import { compareKeyCounts, type KeyCounts } from "../../domain/key-counts.ts"
import { fail, pass, skip, verdictOf, type VerifyCheck } from "./verify-report.ts"

const titles = {
  versions: "the OpenShift version, cluster ID and etcd version recorded at the snapshot's revision",
  decryption: "the snapshot's encrypted values decrypted with the bundled encryption configuration at backup time",
  keyCounts: "the restored member holds as many keys per resource prefix as the backup recorded",
  restoredDecryption: "the restored member's encrypted values decrypt with the bundled encryption configuration",
  certificates: "every certificate in the tarball (PEM files, kubeconfigs' *-data fields) was valid when the backup was taken",
} as const

/** What a manifest says about the cluster, in words (`OpenShift 4.16.3, cluster ID ..., etcd 3.5.16`). */
export const describeClusterFacts = (manifest: BackupManifest): string | undefined => {
  const c = manifest.cluster
  if (c === undefined) return undefined
  return [
    `OpenShift ${c.openshiftVersion ?? "unknown"}`,
    ...(c.clusterId === undefined ? [] : [`cluster ID ${c.clusterId}`]),
    `etcd ${c.etcdVersion ?? "unknown"}`,
    ...(c.problem === undefined ? [] : [`(${c.problem})`]),
  ].join(", ")
}

/** The checks read from the manifest alone. */
export const manifestBundleChecks = (manifest: BackupManifest | undefined): ReadonlyArray<VerifyCheck> => {
  if (manifest === undefined) return []
  const checks: Array<VerifyCheck> = []
  const facts = describeClusterFacts(manifest)
  if (facts !== undefined) {
    // Information, not a verdict on the backup: an unknown version only means restore cannot compare it.
    checks.push(pass("versions", titles.versions, "the versions recorded at backup time", facts))
  }
  const d = manifest.decryption
  if (d !== undefined) {
    const expected = "every sampled encrypted value decrypts to a stored object with a key the bundle holds"
    checks.push(
      d.verdict === "PASS"
        ? pass("bundle-decryption", titles.decryption, expected, d.message)
        : fail("bundle-decryption", titles.decryption, expected, d.message),
    )
  }
  return checks
}

/** The key-count comparison of a test restore; none when the manifest records no counts. */
export const keyCountCheck = (
  manifest: BackupManifest | undefined,
  restored: KeyCounts | undefined,
  whyNotRestored = "the test restore failed",
): ReadonlyArray<VerifyCheck> => {
  const recorded = manifest?.keyCounts
  if (recorded === undefined) return []
  if (restored === undefined) return [skip("test-restore-key-counts", titles.keyCounts, whyNotRestored)]
  const c = compareKeyCounts(recorded, restored)
  const expected = `${c.expectedTotal} keys at etcd revision ${manifest!.etcd.revision}, per prefix as recorded`
  return [verdictOf(c.verdict === "PASS", "test-restore-key-counts", titles.keyCounts, expected, c.message)]
}

const problemText = (p: CertificateProblem) => `${p.verdict} ${p.source}${p.subject === "" ? "" : ` (${p.subject})`}: ${p.message}`

/**
 * The `certificates` check: the tarball's certificates judged at the manifest's `createdAt` (an
 * expired leaf, an unreadable certificate or a CA bundle without a valid CA then fails) and at
 * now (what expired since, or expires within `warnDays`, is listed as WARN: the check passes).
 */
export const certificateCheck = (files: ReadonlyArray<TarballFile> | undefined, manifest: BackupManifest | undefined, warnDays: number) =>
  Effect.gen(function* () {
    if (files === undefined) return skip("certificates", titles.certificates, "the tarball cannot be read")
    const now = yield* Clock.currentTimeMillis
    const backupTime = (manifest === undefined ? undefined : parseRfc3339Utc(manifest.createdAt)) ?? now
    const v = judgeBundleCertificates(files, new Date(backupTime), new Date(now), warnDays)
    const soonest = v.atNow.soonestExpiry
    const found = [
      `${v.atNow.count} certificate${v.atNow.count === 1 ? "" : "s"} in ${v.atNow.sources.length} source${v.atNow.sources.length === 1 ? "" : "s"}`,
      ...(soonest === undefined ? [] : [`soonest expiry ${formatRfc3339Utc(soonest.notAfter.getTime())} (${soonest.subject} in ${soonest.source})`]),
      ...v.problems.map(problemText),
    ].join("; ")
    const expected =
      `no certificate expired or unreadable and a valid CA in every CA bundle at backup time (${formatRfc3339Utc(backupTime)}); ` +
      `WARN for each expiring within ${warnDays} days of now (${formatRfc3339Utc(now)})`
    return verdictOf(v.verdict !== "FAIL", "certificates", titles.certificates, expected, found)
  })

/**
 * The test restore's decryption check: the values sampled from the restored member (at the
 * recorded revision) judged with the tarball's encryption configuration, as at backup time. None
 * when the manifest records no bundle facts (the sample was not asked for).
 */
export const restoredDecryptionCheck = (
  manifest: BackupManifest | undefined,
  files: ReadonlyArray<TarballFile> | undefined,
  sample: ReadonlyArray<StoredValue> | undefined,
  table: OperandTable,
  whyNotRestored = "the test restore failed",
): ReadonlyArray<VerifyCheck> => {
  if (manifest?.keyCounts === undefined) return []
  const id = "test-restore-decryption"
  if (sample === undefined) return [skip(id, titles.restoredDecryption, whyNotRestored)]
  if (files === undefined) return [skip(id, titles.restoredDecryption, "the tarball cannot be read")]
  const configPath = bundledConfigPath(manifest.revisions.requested["kube-apiserver"], table)
  const config = files.find((f) => f.path === configPath)
  const record = judgeWithBundledConfig(sample, config === undefined ? undefined : new TextDecoder().decode(config.bytes), configPath)
  const expected = `every encrypted value sampled from the restored member at etcd revision ${manifest.etcd.revision} decrypts to a stored object with a key ${configPath} holds`
  return [verdictOf(record.verdict === "PASS", id, titles.restoredDecryption, expected, record.message)]
}
