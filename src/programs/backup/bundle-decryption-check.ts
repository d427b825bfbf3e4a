/**
 * `backup-create`'s decryption check: the encrypted values `backup-init` sampled at the
 * snapshot's revision, opened with the encryption configuration staged for the backup's
 * kube-apiserver revision (its Secret `encryption-config-N`, key `encryption-config`), as the
 * restored API server would have to open them.
 */
import { Effect, Path, Result, Schema } from "effect"
import { resourceFilePath } from "../../domain/archive-layout.ts"
import { judgeDecryption, type DecryptionRecord } from "../../domain/bundle-decryption.ts"
import { decodeEncryptionConfiguration } from "../../domain/encryption-config.ts"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import type { OperandTable } from "../../domain/operands.ts"
import type { Revision } from "../../domain/revisions.ts"
import { fileError } from "../../services/atomic-files.ts"
import { readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { readEncryptedSample } from "../backup-dir/encrypted-sample-file.ts"
import { stagingDir } from "../backup-dir/staging-area.ts"

/** The bundle cannot read the snapshot's data: a cluster restored from this backup could not read those resources. */
export class BundleCannotDecrypt extends Schema.TaggedError<BundleCannotDecrypt>()("BundleCannotDecrypt", {
  path: Schema.String,
  failures: Schema.Array(Schema.Struct({ resource: Schema.String, key: Schema.String, keyName: Schema.String })),
  message: Schema.String,
}) {}

/**
 * The manifest's decryption record; `undefined` when `backup-init` did not sample (`sampled`
 * false: a record of an older run). A run that sampled and found no encrypted value left no file.
 */
export const checkBundleDecryption = Effect.fnUntraced(function* (backupDir: string, sampled: boolean, kubeApiserverRevision: Revision, table: OperandTable) {
  const path = yield* Path.Path
  if (!sampled) return undefined
  const sample = (yield* readEncryptedSample(backupDir)) ?? []
  const configPath = bundledConfigPath(kubeApiserverRevision, table)
  const file = path.join(stagingDir(path, backupDir), configPath)
  // A regular file only, opened without waiting (as the tarball takes it): a FIFO there made backup-create block for ever.
  const bytes = yield* readOptionalBackupFileBytes(file, maxConfigBytes).pipe(Effect.mapError(fileError("read the bundled encryption configuration", file)))
  return judgeWithBundledConfig(sample, bytes === undefined ? undefined : new TextDecoder().decode(bytes), configPath)
})

/** A bound, not a size: an EncryptionConfiguration is a few KiB (a Secret holds at most 1 MiB). */
const maxConfigBytes = 16 * 1024 * 1024

/** Where the tarball holds kube-apiserver's encryption configuration for `revision` (its Secret `encryption-config-N`). */
export const bundledConfigPath = (revision: Revision, table: OperandTable): string => {
  const layout = resourceFilePath("kube-apiserver", revision, "secret", "encryption-config", "encryption-config", table)
  // The operand table always lists kube-apiserver: a failure here is a defect.
  if (Result.isFailure(layout)) throw layout.failure
  return layout.success.path
}

/** The sample judged with the bundled configuration's text (`undefined`: the bundle holds none), read from `configPath`. */
export const judgeWithBundledConfig = (sample: ReadonlyArray<StoredValue>, text: string | undefined, configPath: string): DecryptionRecord => {
  if (text === undefined) return judgeDecryption(sample, undefined)
  const config = decodeEncryptionConfiguration(text, configPath)
  if (Result.isSuccess(config)) return judgeDecryption(sample, config.success)
  return { verdict: "FAIL", message: config.failure.message, decrypted: 0, keys: [], failures: [], skipped: [] }
}

/** The failure `backup-create` ends with when the check failed (the backup's files are kept for inspection). */
export const bundleCannotDecrypt = (manifestPath: string, record: DecryptionRecord): BundleCannotDecrypt =>
  new BundleCannotDecrypt({
    path: manifestPath,
    failures: record.failures.map((f) => ({ resource: f.resource, key: f.key, keyName: f.keyName })),
    message:
      "the backup's encryption configuration cannot read the snapshot's data, so a cluster restored from it could not read those resources: " +
      `${record.message}. ` +
      `The files and ${manifestPath} are kept for inspection; take a new backup after the kube-apiserver rollout of the current keys.`,
  })
