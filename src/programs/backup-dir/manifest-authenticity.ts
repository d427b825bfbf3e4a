/**
 * The signed manifest on disk: `backup-create --signing-key` writes `backup-manifest.json.sig`
 * over the manifest's exact bytes (which hold every file's sha256), and `verify`/`restore`
 * check it against `--trusted-key`. With trusted keys only `Verified` passes; without any, the
 * check warns that the backup is unauthenticated (a warning, not a failure), so both reports name it.
 */
import { join } from "node:path"
import { Effect, Path, Result, Schema } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { signatureFileName } from "../../domain/manifest-signature-file.ts"
import { writeFileAtomic } from "../../services/atomic-files.ts"
import { type BackupFileFailure, readBackupFileBytes, readOptionalBackupFileBytes } from "../../services/backup-file.ts"
import { identityFileExposed } from "../../services/crypto/age-identity-files.ts"
import { readMountedFile } from "../../services/mounted-file.ts"
import {
  describeSignatureVerdict,
  type ManifestTrust,
  manifestTrustOf,
  parseSigningKey,
  parseTrustedKeys,
  signManifest,
  verifyManifestSignature,
  type SigningKey,
  type TrustedKey,
} from "../../services/crypto/manifest-signature.ts"
import { maxManifestBytes } from "../../domain/backup-manifest.ts"
import { fail, pass, type VerifyCheck, warn } from "../verify/verify-report.ts"

/** A `--signing-key` or `--trusted-key` file that cannot be used; the message never quotes the key. */
export class ManifestKeyUnusable extends Schema.TaggedError<ManifestKeyUnusable>()("ManifestKeyUnusable", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** A `--signing-key` file that its group or others can read, and no `--allow-exposed-signing-key`. */
export class SigningKeyExposed extends Schema.TaggedError<SigningKeyExposed>()("SigningKeyExposed", {
  path: Schema.String,
  /** The permission bits, octal (`644`). */
  mode: Schema.String,
  message: Schema.String,
}) {}

/** A signature file is about 200 bytes. */
export const maxKeyOrSignatureBytes = 64 * 1024

/**
 * Reads a key file through `readMountedFile` (a Secret volume presents its keys as symbolic links), refusing one its
 * group or others can read when `exposed` says so, and parses it. The file's bytes are zeroed once parsed (a private
 * key's copy inside its KeyObject, in OpenSSL's memory, is beyond reach). Exported for its tests.
 */
export const readKeyFile = <K, E>(
  path: string,
  flag: string,
  parse: (bytes: Uint8Array) => Result.Result<K, string>,
  exposed: (mode: number) => E | undefined = () => undefined,
): Effect.Effect<K, ManifestKeyUnusable | E> =>
  readMountedFile(path, maxKeyOrSignatureBytes).pipe(
    Effect.mapError((e) => new ManifestKeyUnusable({ path, message: `${flag} ${e.message}` })),
    Effect.flatMap(({ bytes, mode }): Effect.Effect<K, ManifestKeyUnusable | E> => {
      // What the file is comes first: a public key given by mistake is named as such, whatever its mode.
      const parsed = parse(bytes)
      bytes.fill(0)
      if (Result.isFailure(parsed)) return Effect.fail(new ManifestKeyUnusable({ path, message: `${flag} ${path} ${parsed.failure}` }))
      const refused = exposed(mode)
      return refused === undefined ? Effect.succeed(parsed.success) : Effect.fail(refused)
    }),
  )

/** A private key file readable by its group or others, as identity files are refused. */
const signingKeyExposed = (path: string, bits: number): SigningKeyExposed | undefined => {
  if (!identityFileExposed(bits)) return undefined
  const mode = bits.toString(8).padStart(3, "0")
  return new SigningKeyExposed({
    path,
    mode,
    message: `--signing-key ${path} can be read by users other than its owner (mode ${mode}): anyone who reads it can sign forged backups; make it private (chmod 600 ${path}), or pass --allow-exposed-signing-key if this is intended (a Secret volume with an fsGroup is group-readable)`,
  })
}

/**
 * The ed25519 private key of `--signing-key FILE` (PKCS#8 PEM; links followed, only a regular file), refused when its
 * group or others can read it unless `allowExposed`.
 */
export const readSigningKey = (
  path: string,
  options: { readonly allowExposed?: boolean } = {},
): Effect.Effect<SigningKey, ManifestKeyUnusable | SigningKeyExposed> =>
  readKeyFile(path, "--signing-key", parseSigningKey, (mode) => (options.allowExposed === true ? undefined : signingKeyExposed(path, mode)))

/** The ed25519 public keys of every `--trusted-key FILE` (SPKI PEM; links followed, only a regular file). */
export const readTrustedKeys = (paths: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<TrustedKey>, ManifestKeyUnusable> =>
  Effect.forEach(paths, (path) => readKeyFile<ReadonlyArray<TrustedKey>, never>(path, "--trusted-key", (bytes) => parseTrustedKeys(bytes, path))).pipe(
    Effect.map((keys) => keys.flat()),
  )

/** The bytes of `backup-manifest.json.sig` in `dir`, or undefined when it has none. */
export const readLocalSignature = (dir: string): Effect.Effect<Uint8Array | undefined, BackupFileFailure> =>
  readOptionalBackupFileBytes(join(dir, signatureFileName), maxKeyOrSignatureBytes)

/** Whether one of `trustedKeys` signed `manifest` (the bytes of the manifest in `dir`), by the signature file beside it. */
export const localManifestTrust = (
  dir: string,
  manifest: Uint8Array,
  trustedKeys: ReadonlyArray<TrustedKey>,
): Effect.Effect<ManifestTrust, BackupFileFailure> =>
  Effect.map(readLocalSignature(dir), (signature) =>
    manifestTrustOf(verifyManifestSignature(manifest, signature === undefined ? undefined : Buffer.from(signature).toString("utf8"), trustedKeys)),
  )

/** Writes `backup-manifest.json.sig` (atomically) over the bytes of the manifest in `backupDir`; returns the key id. */
export const signBackupManifest = Effect.fnUntraced(function* (backupDir: string, key: SigningKey) {
  const path = yield* Path.Path
  const manifestBytes = yield* readBackupFileBytes(path.join(backupDir, manifestFileName), maxManifestBytes)
  yield* writeFileAtomic(path.join(backupDir, signatureFileName), new TextEncoder().encode(signManifest(manifestBytes, key)))
  return key.keyId
})

const title = `${signatureFileName} is an ed25519 signature by a trusted key (--trusted-key) over the manifest's exact bytes`

/**
 * The `manifest-signature` check of `verify` (and so of `restore`'s verification), over `manifest`:
 * the bytes verify read and decoded (or why they could not be read), so the signature covers
 * exactly what the other checks used. Never fails; without trusted keys it warns.
 */
export const signatureCheck = (
  backupDir: string,
  trustedKeys: ReadonlyArray<TrustedKey>,
  manifest: Result.Result<Uint8Array, BackupFileFailure>,
): Effect.Effect<VerifyCheck> =>
  Effect.gen(function* () {
    const expected =
      trustedKeys.length === 0 ? "no --trusted-key given: authenticity is not checked" : `signed by one of ${trustedKeys.map((k) => k.keyId).join(", ")}`
    const bytes = yield* Effect.result(
      Effect.all({
        manifest: Effect.fromResult(manifest),
        signature: Effect.map(readLocalSignature(backupDir), (b) => (b === undefined ? undefined : Buffer.from(b).toString("utf8"))),
      }).pipe(Effect.mapError((e) => e.message)),
    )
    if (Result.isFailure(bytes))
      return trustedKeys.length === 0
        ? warn("manifest-signature", title, expected, `unauthenticated: ${bytes.failure}`)
        : fail("manifest-signature", title, expected, bytes.failure)
    const verdict = verifyManifestSignature(bytes.success.manifest, bytes.success.signature, trustedKeys)
    const found = describeSignatureVerdict(verdict, trustedKeys)
    if (trustedKeys.length === 0) {
      const unchecked = "keyId" in verdict ? `the manifest is signed by key ${verdict.keyId}, but no --trusted-key was given to check it` : found
      return warn("manifest-signature", title, expected, verdict._tag === "Unsigned" ? found : `unauthenticated: ${unchecked}`)
    }
    return verdict._tag === "Verified" ? pass("manifest-signature", title, expected, found) : fail("manifest-signature", title, expected, found)
  })
