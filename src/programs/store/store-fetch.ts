/**
 * Brings a complete backup from a store into a work directory for `verify` or `restore`: the
 * manifest read first (with trusted keys, `resolveBackupId` has checked its signature before the
 * work directory was made), then `downloadBackup` (the free space checked first, every file hash-checked before it is kept). The
 * copy is only downloaded here: `verify` checks it, and `restore` refuses it unless its own
 * verification passes.
 */
import { Effect } from "effect"
import { manifestFileName } from "../../domain/archive-names.ts"
import type { IdentitySet } from "../../services/crypto/age-identity-files.ts"
import type { TrustedKey } from "../../services/crypto/manifest-signature.ts"
import { completeBackupManifest, downloadBackup } from "./store-download.ts"

export const fetchBackup = Effect.fn("fetchBackup")(function* (
  prefix: string,
  id: string,
  workDir: string,
  identities?: IdentitySet,
  trustedKeys: ReadonlyArray<TrustedKey> = [],
) {
  const manifest = yield* completeBackupManifest(prefix, id)
  const result = yield* downloadBackup(prefix, id, workDir, identities, trustedKeys, "give --work-dir on a larger file system")
  yield* Effect.logInfo(
    `downloaded backup ${id}: ${result.files.map((f) => `${f.name} (${f.reused ? "already there" : "downloaded"}, sha256 checked)`).join(", ")}, ${manifestFileName}`,
  )
  return { dir: workDir, manifest }
})
