import { resolve } from "node:path"
import { Effect, Layer } from "effect"
import { Argument, Command } from "effect/cli"
import { readTrustedKeys } from "../programs/backup-dir/manifest-authenticity.ts"
import { downloadBackup } from "../programs/store/store-download.ts"
import { resolveBackupId } from "../programs/store/resolve-backup-id.ts"
import { DiskSpace } from "../services/disk-space.ts"
import { keptWorkDir } from "../services/owned-work-dir.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { downloadDirOutsideStore } from "./directory-store-places.ts"
import { bandwidthOf, downloadBandwidthLimitFlag } from "./bandwidth-limit-flag.ts"
import { backupIdCheck } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"
import { openStoreFromFlags, storeFlags } from "./store-flags.ts"
import { transferProgress } from "./transfer-progress.ts"
import { identityFlags, readGivenIdentities } from "./encryption-flags.ts"
import { trustedKeysFlag } from "./signature-flags.ts"

export const downloadCommand = Command.make(
  "download",
  {
    store: Argument.String("store").pipe(Argument.withDescription("s3://bucket[/prefix] or a directory")),
    id: Argument.String("id").pipe(
      backupIdCheck("download takes STORE ID DIR, in that order: the store, the backup's ID (see list), the directory to download into"),
      Argument.withDescription("The backup's id (see list), or latest: the newest complete backup"),
    ),
    dir: Argument.String("dir").pipe(Argument.withDescription("Directory to download into (created if missing)")),
    ...storeFlags,
    ...identityFlags,
    trustedKeys: trustedKeysFlag,
    bandwidthLimit: downloadBandwidthLimitFlag,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        yield* downloadDirOutsideStore("download", flags.store, flags, flags.dir, { name: "dir", kind: "argument" })
        const identities = yield* readGivenIdentities(flags)
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        const { store, prefix } = yield* openStoreFromFlags(
          flags.store,
          flags,
          { command: "download", name: "store", kind: "argument" },
          { onProgress: yield* transferProgress("downloaded"), ...bandwidthOf(flags.bandwidthLimit) },
        )
        // Two downloads into one directory would remove and rename each other's partial files: the second is refused.
        const dir = yield* keptWorkDir(resolve(flags.dir), "download", false)
        const result = yield* resolveBackupId(prefix, flags.id, trustedKeys).pipe(
          Effect.flatMap((id) => downloadBackup(prefix, id, dir, identities, trustedKeys)),
          Effect.provide(Layer.merge(Layer.succeed(BackupStore, BackupStore.of(store)), DiskSpace.live)),
        )
        for (const f of result.files) yield* Effect.logInfo(`${f.name}: ${f.size} bytes, sha256 ${f.sha256} ${f.reused ? "(already there)" : "(downloaded)"}`)
        yield* Effect.sync(() => process.stdout.write(`${result.dir}\n`))
      }).pipe(Effect.scoped),
    ),
).pipe(
  Command.withDescription(
    "Download a complete backup from a store into a directory (ID latest: the newest complete one): every file through .part, its sha256 checked against the manifest before it is kept, the manifest last. An age-encrypted backup needs --identity: each file's ciphertext is checked, decrypted through .part to its plaintext name and checked again. Restartable: files already there with the right sha256 are kept. Holds <dir>.lock beside the directory while it runs: a second download into the same directory is refused. With --trusted-key, a manifest not signed by one of the keys is refused before anything is downloaded, and checked again before it is written.",
  ),
)
