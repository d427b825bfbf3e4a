/**
 * `<backup-dir>/.cluster-backup/encrypted-sample.json`: the encrypted etcd values `backup-init`
 * read at the snapshot's revision, for `backup-create` to decrypt with the bundled
 * configuration. Ciphertext only, still private (0600): it goes with the staging area.
 */
import { Effect, Path, Schema } from "effect"
import type { StoredValue } from "../../domain/encrypted-value.ts"
import { ensurePrivateDirectory, fileError, writeFileAtomic } from "../../services/atomic-files.ts"
import { readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { recordDirName } from "./snapshot-record.ts"

export const encryptedSampleFileName = "encrypted-sample.json"

const SampleDocument = Schema.Struct({
  values: Schema.Array(Schema.Struct({ resource: Schema.String, key: Schema.String, base64: Schema.String })),
})
const SampleJson = Schema.fromJsonString(SampleDocument)
const decodeSample = Schema.decodeUnknownEffect(SampleJson, { errors: "all" })

export class EncryptedSampleInvalid extends Schema.TaggedError<EncryptedSampleInvalid>()("EncryptedSampleInvalid", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** `<backupDir>/.cluster-backup/encrypted-sample.json` */
export const encryptedSamplePath = (path: Path.Path, backupDir: string): string => path.join(backupDir, recordDirName, encryptedSampleFileName)

/** Writes the sample atomically, mode 0600, in the 0700 record directory. */
export const writeEncryptedSample = Effect.fnUntraced(function* (backupDir: string, values: ReadonlyArray<StoredValue>) {
  const path = yield* Path.Path
  const file = encryptedSamplePath(path, backupDir)
  yield* ensurePrivateDirectory(path.dirname(file))
  const document = { values: values.map((v) => ({ resource: v.resource, key: v.key, base64: Buffer.from(v.value).toString("base64") })) }
  yield* writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(document)}\n`))
  return file
})

/** A bound, not a size: a few values per key of each encrypted resource, each at most etcd's 1.5 MiB request, in base64. */
const maxSampleBytes = 256 * 1024 * 1024

/**
 * The sample `backup-init` left, or `undefined` when it left none (no encrypted value, or an older run). Read only as a
 * regular file, opened without waiting: a FIFO in its place made backup-create block for ever.
 */
export const readEncryptedSample = Effect.fnUntraced(function* (backupDir: string) {
  const path = yield* Path.Path
  const file = encryptedSamplePath(path, backupDir)
  const invalid = (why: string) =>
    new EncryptedSampleInvalid({ path: file, message: `${file} is not a valid sample of encrypted values (run the backup pod again): ${why}` })
  const bytes = yield* readOptionalBackupFileBytes(file, maxSampleBytes).pipe(
    Effect.mapError((e) => (e._tag === "BackupFileRefused" ? invalid(e.message) : fileError("read the encrypted-value sample", file)(e))),
  )
  if (bytes === undefined) return undefined
  const doc = yield* decodeSample(bytes.toString("utf8")).pipe(Effect.mapError((e) => invalid(e.message)))
  return doc.values.map((v): StoredValue => ({ resource: v.resource, key: v.key, value: new Uint8Array(Buffer.from(v.base64, "base64")) }))
})
