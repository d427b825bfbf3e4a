/**
 * The bundle's certificate check: every certificate in the resources tarball (PEM files, and the
 * base64 `*-data` fields of kubeconfigs), judged by `checkCertificates`. `backup-create` records it
 * in the manifest, judged at the backup's time; `verify` judges the same files again.
 */
import { Effect, Schema } from "effect"
import { certificateRecord, checkCertificates, type CertificateRecord } from "../../domain/certificate-checks.ts"
import { type ReadTarballOptions, readTarballFiles } from "../../services/tarball/tarball.ts"

/** Files larger than this hold no certificates worth reading (a CA bundle is a few KiB). */
const maxCertificateFileBytes = 4 * 1024 * 1024

/** A certificate of the bundle was already expired when the backup was taken, or a CA bundle holds no valid CA. */
export class BundleCertificatesInvalid extends Schema.TaggedError<BundleCertificatesInvalid>()("BundleCertificatesInvalid", {
  path: Schema.String,
  failures: Schema.Array(Schema.Struct({ source: Schema.String, subject: Schema.String, message: Schema.String })),
  message: Schema.String,
}) {}

/** The tarball's listing and small files (certificates, kubeconfigs, the encryption configuration), from one validating read. */
export const readBundleFiles = (tarball: string, options: ReadTarballOptions = {}) =>
  readTarballFiles(tarball, { ...options, maxFileBytes: maxCertificateFileBytes })

/** The manifest's certificate record of `tarball`, judged at `at` (epoch ms). */
export const checkBundleCertificates = Effect.fnUntraced(function* (tarball: string, at: number, warnDays: number) {
  const { files } = yield* readBundleFiles(tarball)
  return certificateRecord(checkCertificates(files, new Date(at), warnDays), warnDays)
})

/** The failure `backup-create` ends with when a certificate failed (the backup's files are kept for inspection). */
export const bundleCertificatesInvalid = (manifestPath: string, record: CertificateRecord): BundleCertificatesInvalid => {
  const failures = record.problems.filter((p) => p.verdict === "FAIL").map(({ source, subject, message }) => ({ source, subject, message }))
  const named = failures.map((f) => `${f.source}${f.subject === "" ? "" : ` (${f.subject})`}: ${f.message}`)
  return new BundleCertificatesInvalid({
    path: manifestPath,
    failures,
    message:
      `the backup's certificates were not valid when it was taken, so a cluster restored from it starts with them broken: ${named.join("; ")}. ` +
      `The files and ${manifestPath} are kept for inspection; take a new backup once the operators have rotated these certificates (or renew them).`,
  })
}
