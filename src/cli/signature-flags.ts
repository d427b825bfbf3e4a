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

/** `--signing-key FILE`, for backup-create. */
export const signingKeyFlag = Flag.String("signing-key").pipe(
  nonEmpty("file"),
  Flag.optional,
  Flag.withMetavar("FILE"),
  Flag.withDescription("An ed25519 private key (PKCS#8 PEM, openssl genpkey -algorithm ed25519): sign backup-manifest.json into backup-manifest.json.sig"),
)
