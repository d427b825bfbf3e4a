/**
 * The one reader of `backup-manifest.json`, for every command: a regular file (never a FIFO,
 * device or link), at most `maxManifestBytes`, valid UTF-8 read byte for byte (a byte order mark
 * is kept, so the decoder refuses it, rather than stripped as effect's `readFileString` and a
 * default `TextDecoder` do), decoded by `decodeBackupManifest`. A manifest read from a store goes
 * through `decodeBackupManifestBytes`, the same decoding.
 */
import { Effect, Result } from "effect"
import { decodeBackupManifest, BackupManifestInvalid, type BackupManifest, maxManifestBytes } from "../../domain/backup-manifest.ts"
import { defaultOperands, type OperandTable } from "../../domain/operands.ts"
import { readBackupFileBytes, type BackupFileFailure } from "../../services/backup-file.ts"

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

export type ManifestReadFailure = BackupFileFailure | BackupManifestInvalid

/** Decodes a manifest's bytes (from a file or a store object, named by `source`): UTF-8 byte for byte, then `decodeBackupManifest`. */
export const decodeBackupManifestBytes = (
  bytes: Uint8Array,
  source: string,
  table: OperandTable = defaultOperands,
): Result.Result<BackupManifest, BackupManifestInvalid> => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return Result.fail(
      new BackupManifestInvalid({
        key: "",
        message: `backup manifest: the document is not valid UTF-8: ${source} was damaged after it was written; use an intact copy of the backup`,
      }),
    )
  }
  return decodeBackupManifest(text, table)
}

/** Reads and decodes the manifest at `path`. */
export const readBackupManifest = (path: string, table: OperandTable = defaultOperands): Effect.Effect<BackupManifest, ManifestReadFailure> =>
  Effect.flatMap(readBackupFileBytes(path, maxManifestBytes), (bytes) => Effect.fromResult(decodeBackupManifestBytes(bytes, path, table)))
