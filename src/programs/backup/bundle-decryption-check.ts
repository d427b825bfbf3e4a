/**
 * `backup-create`'s decryption check: the encrypted values `backup-init` sampled at the
 * snapshot's revision, opened with the encryption configuration staged for the backup's
 * kube-apiserver revision (its Secret `encryption-config-N`, key `encryption-config`), as the
 * restored API server would have to open them.
 */
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { resourceFilePath } from "../../domain/archive-layout.ts"
import { judgeDecryption, type DecryptionRecord } from "../../domain/bundle-decryption.ts"
import { decodeEncryptionConfiguration } from "../../domain/encryption-config.ts"
import type { OperandTable } from "../../domain/operands.ts"
import type { Revision } from "../../domain/revisions.ts"
import { fileError } from "../../services/atomic-files.ts"
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
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  if (!sampled) return undefined
  const sample = (yield* readEncryptedSample(backupDir)) ?? []
  const layout = resourceFilePath("kube-apiserver", kubeApiserverRevision, "secret", "encryption-config", "encryption-config", table)
  if (Result.isFailure(layout)) return yield* Effect.die(layout.failure)
  const file = path.join(stagingDir(path, backupDir), layout.success.path)
  if (!(yield* fs.exists(file).pipe(Effect.mapError(fileError("check", file))))) return judgeDecryption(sample, undefined)
  const text = yield* fs.readFileString(file).pipe(Effect.mapError(fileError("read the bundled encryption configuration", file)))
  const config = decodeEncryptionConfiguration(text, layout.success.path)
  if (Result.isSuccess(config)) return judgeDecryption(sample, config.success)
  return { verdict: "FAIL", message: config.failure.message, decrypted: 0, keys: [], failures: [], skipped: [] } satisfies DecryptionRecord
})

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
