/**
 * The signed manifest on disk: `backup-create --signing-key` writes `backup-manifest.json.sig`
 * over the manifest's exact bytes (which hold every file's sha256), and `verify`/`restore`
 * check it against `--trusted-key`. With trusted keys only `Verified` passes; without any, the
 * check passes but says the backup is unauthenticated, so both reports name it.
 */
import { join } from "node:path"
import { Effect, Path, Result, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { writeFileAtomic } from "../../services/atomic-files.ts"
import { type BackupFileFailure, readBackupFileBytes, readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import {
  describeSignatureVerdict,
  parseSigningKey,
  parseTrustedKey,
  signManifest,
  verifyManifestSignature,
  type SigningKey,
  type TrustedKey,
} from "../../services/crypto/manifest-signature.ts"
import { maxManifestBytes } from "./backup-manifest-file.ts"
import { fail, pass, type VerifyCheck } from "../verify/verify-report.ts"

/** A `--signing-key` or `--trusted-key` file that cannot be used; the message never quotes the key. */
export class ManifestKeyUnusable extends Schema.TaggedError<ManifestKeyUnusable>()("ManifestKeyUnusable", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** A signature file is about 200 bytes. */
const maxKeyOrSignatureBytes = 64 * 1024

const readKeyFile = <K>(path: string, flag: string, parse: (bytes: Uint8Array) => Result.Result<K, string>) =>
  readBackupFileBytes(path, maxKeyOrSignatureBytes).pipe(
    Effect.mapError((e) => new ManifestKeyUnusable({ path, message: `${flag} ${e.message}` })),
    Effect.flatMap((bytes) => {
      const parsed = parse(bytes)
      return Result.isSuccess(parsed)
        ? Effect.succeed(parsed.success)
        : Effect.fail(new ManifestKeyUnusable({ path, message: `${flag} ${path} ${parsed.failure}` }))
    }),
  )

/** The ed25519 private key of `--signing-key FILE` (PKCS#8 PEM). */
export const readSigningKey = (path: string): Effect.Effect<SigningKey, ManifestKeyUnusable> => readKeyFile(path, "--signing-key", parseSigningKey)

/** The ed25519 public keys of every `--trusted-key FILE` (SPKI PEM). */
export const readTrustedKeys = (paths: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<TrustedKey>, ManifestKeyUnusable> =>
  Effect.forEach(paths, (path) => readKeyFile(path, "--trusted-key", (bytes) => parseTrustedKey(bytes, path)))

/** The bytes of `backup-manifest.json.sig` in `dir`, or undefined when it has none. */
export const readLocalSignature = (dir: string): Effect.Effect<Uint8Array | undefined, BackupFileFailure> =>
  readOptionalBackupFileBytes(join(dir, signatureFileName), maxKeyOrSignatureBytes)

/** Writes `backup-manifest.json.sig` (atomically) over the bytes of the manifest in `backupDir`; returns the key id. */
export const signBackupManifest = Effect.fnUntraced(function* (backupDir: string, key: SigningKey) {
  const path = yield* Path.Path
  const manifestBytes = yield* readBackupFileBytes(path.join(backupDir, manifestFileName), maxManifestBytes)
  yield* writeFileAtomic(path.join(backupDir, signatureFileName), new TextEncoder().encode(signManifest(manifestBytes, key)))
  return key.keyId
})

const title = `${signatureFileName} is an ed25519 signature by a trusted key (--trusted-key) over the manifest's exact bytes`

/** The `manifest-signature` check of `verify` (and so of `restore`'s verification). Never fails. */
export const signatureCheck = (backupDir: string, trustedKeys: ReadonlyArray<TrustedKey>): Effect.Effect<VerifyCheck, never, Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const expected =
      trustedKeys.length === 0 ? "no --trusted-key given: authenticity is not checked" : `signed by one of ${trustedKeys.map((k) => k.keyId).join(", ")}`
    const bytes = yield* Effect.result(
      Effect.all({
        manifest: readBackupFileBytes(path.join(backupDir, manifestFileName), maxManifestBytes),
        signature: Effect.map(readLocalSignature(backupDir), (b) => (b === undefined ? undefined : Buffer.from(b).toString("utf8"))),
      }).pipe(Effect.mapError((e) => e.message)),
    )
    if (Result.isFailure(bytes))
      return trustedKeys.length === 0
        ? pass("manifest-signature", title, expected, `unauthenticated: ${bytes.failure}`)
        : fail("manifest-signature", title, expected, bytes.failure)
    const verdict = verifyManifestSignature(bytes.success.manifest, bytes.success.signature, trustedKeys)
    const found = describeSignatureVerdict(verdict, trustedKeys)
    if (trustedKeys.length === 0) {
      const unchecked = "keyId" in verdict ? `the manifest is signed by key ${verdict.keyId}, but no --trusted-key was given to check it` : found
      return pass("manifest-signature", title, expected, verdict._tag === "Unsigned" ? found : `unauthenticated: ${unchecked}`)
    }
    return verdict._tag === "Verified" ? pass("manifest-signature", title, expected, found) : fail("manifest-signature", title, expected, found)
  })
