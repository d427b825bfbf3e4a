/**
 * Which of a store's complete backups a trusted key signed, for retention. Without this, anyone able to write into
 * the store could put there unsigned backups dated after the real ones: each would take a slot of `--keep-last`, the
 * newest of them would be "the newest backup, always kept", and the prune after the next upload would delete the
 * backups they imitate. With trusted keys, a backup whose stored manifest no trusted key signed is retention's
 * unverified unit: it gets only the slots no trusted backup needs, is never the newest kept, and goes first when the
 * total is over the limit.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import { objectKey } from "../../domain/store-layout.ts"
import { type ManifestTrust, manifestTrustOf, type TrustedKey, verifyManifestSignature } from "../../services/crypto/manifest-signature.ts"
import { BackupStore } from "../../services/store/backup-store.ts"
import { storedSignature } from "./stored-signature.ts"
import { maxKeyOrSignatureBytes } from "../backup-dir/manifest-authenticity.ts"
import type { ListedBackup } from "./store-list.ts"
import type { StoreError } from "../../services/store/store-errors.ts"

export type BackupTrust = { readonly id: string } & ManifestTrust

/**
 * Each backup's trust: its stored manifest read again, required to be the bytes the listing decoded
 * (`manifestSha256`), and checked against its stored signature.
 */
export const backupTrust = Effect.fn("backupTrust")(function* (
  prefix: string,
  backups: ReadonlyArray<{ readonly id: string; readonly manifestSha256: string; readonly signatureBytes?: number | undefined }>,
  trustedKeys: ReadonlyArray<TrustedKey>,
) {
  const store = yield* BackupStore
  return yield* Effect.forEach(
    backups,
    (b) =>
      Effect.gen(function* () {
        // Not read: larger than any signature, it would fail the whole prune.
        if (b.signatureBytes !== undefined && b.signatureBytes > maxKeyOrSignatureBytes)
          return { id: b.id, trusted: false, why: `its signature file is ${b.signatureBytes} bytes, more than any signature` } satisfies BackupTrust
        const bytes = yield* store.getBytes(objectKey(prefix, b.id, manifestFileName)).pipe(
          Effect.map((x): Uint8Array | undefined => x),
          Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
        )
        if (bytes === undefined) return { id: b.id, trusted: false, why: "its manifest is gone since the listing" } satisfies BackupTrust
        if (createHash("sha256").update(bytes).digest("hex") !== b.manifestSha256)
          return { id: b.id, trusted: false, why: "its manifest changed since the listing" } satisfies BackupTrust
        const signature = yield* storedSignature(prefix, b.id)
        const verdict = verifyManifestSignature(bytes, signature === undefined ? undefined : Buffer.from(signature).toString("utf8"), trustedKeys)
        return { id: b.id, ...manifestTrustOf(verdict) } satisfies BackupTrust
      }),
    { concurrency: 8 },
  )
})

/** The trust of each complete backup of a listing, by id; none without trusted keys. */
export const listedTrust = (
  prefix: string,
  listed: ReadonlyArray<ListedBackup>,
  trustedKeys: ReadonlyArray<TrustedKey>,
): Effect.Effect<ReadonlyMap<string, BackupTrust>, StoreError, BackupStore> =>
  trustedKeys.length === 0
    ? Effect.succeed(new Map())
    : backupTrust(
        prefix,
        listed.flatMap(({ completeness, manifestSha256, signatureBytes }) =>
          completeness._tag === "Complete" && manifestSha256 !== undefined ? [{ id: completeness.id, manifestSha256, signatureBytes }] : [],
        ),
        trustedKeys,
      ).pipe(Effect.map((all) => new Map(all.map((t) => [t.id, t] as const))))
