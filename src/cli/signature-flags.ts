import { Flag } from "effect/cli"
import { nonEmpty } from "./flag-checks.ts"

/** `--trusted-key FILE` (repeatable), for verify and restore. */
export const trustedKeysFlag = Flag.String("trusted-key").pipe(
  nonEmpty("file"),
  Flag.atLeast(0),
  Flag.withMetavar("FILE"),
  Flag.withDescription(
    "An ed25519 public key (PEM, openssl pkey -pubout) trusted to sign backups; repeatable. With one, an unsigned backup, a wrong signature or a key not given here is refused; without, the backup is reported unauthenticated",
  ),
)

/** `--allow-exposed-signing-key`, beside `--signing-key`. */
export const allowExposedSigningKeyFlag = Flag.Boolean("allow-exposed-signing-key").pipe(
  Flag.withoutNegation,
  Flag.withDefault(false),
  Flag.withDescription(
    "Use a --signing-key file that its group or others can read (refused otherwise: anyone who reads it can sign forged backups); the rendered pod passes it, as the kubelet makes a Secret volume group-readable for the pod's fsGroup",
  ),
)

/** `--signing-key FILE`, for backup-create and backup-upload. */
export const signingKeyFlag = Flag.String("signing-key").pipe(
  nonEmpty("file"),
  Flag.optional,
  Flag.withMetavar("FILE"),
  Flag.withDescription("An ed25519 private key (PKCS#8 PEM, openssl genpkey -algorithm ed25519): sign backup-manifest.json into backup-manifest.json.sig"),
)

/** `--trusted-key FILE` (repeatable), for the retention of a store (prune, backup-upload). */
export const retentionTrustedKeysFlag = Flag.String("trusted-key").pipe(
  nonEmpty("file"),
  Flag.atLeast(0),
  Flag.withMetavar("FILE"),
  Flag.withDescription(
    "An ed25519 public key (PEM, openssl pkey -pubout) trusted to sign backups; repeatable (key rotation: give the old and the new). Retention then counts as trusted only a backup whose manifest (as stored, or in a directory of backups with its backup-manifest.json.sig) one of them signed: any other takes only the slots no trusted backup needs, is never the newest kept, and goes first over --max-total-size, so backups written there by someone else cannot push out the real ones",
  ),
)
