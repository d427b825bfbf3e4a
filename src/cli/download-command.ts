import { Effect, Layer } from "effect"
import { Argument, Command } from "effect/cli"
import { downloadBackup } from "../programs/store/store-download.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { downloadDirOutsideStore } from "./directory-store-places.ts"
import { backupIdCheck } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"
import { openStoreFromFlags, storeFlags } from "./store-flags.ts"
import { identityFlags, readGivenIdentities } from "./encryption-flags.ts"

export const downloadCommand = Command.make(
  "download",
  {
    store: Argument.String("store").pipe(Argument.withDescription("s3://bucket[/prefix] or a directory")),
    id: Argument.String("id").pipe(backupIdCheck, Argument.withDescription("The backup's id (see list)")),
    dir: Argument.String("dir").pipe(Argument.withDescription("Directory to download into (created if missing)")),
    ...storeFlags,
    ...identityFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        yield* downloadDirOutsideStore("download", flags.store, flags, flags.dir, { name: "dir", kind: "argument" })
        const identities = yield* readGivenIdentities(flags)
        const { store, prefix } = yield* openStoreFromFlags(flags.store, flags, { command: "download", name: "store", kind: "argument" })
        const result = yield* downloadBackup(prefix, flags.id, flags.dir, identities).pipe(Effect.provide(Layer.succeed(BackupStore, BackupStore.of(store))))
        for (const f of result.files) yield* Effect.logInfo(`${f.name}: ${f.size} bytes, sha256 ${f.sha256} ${f.reused ? "(already there)" : "(downloaded)"}`)
        yield* Effect.sync(() => process.stdout.write(`${result.dir}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "Download a complete backup from a store into a directory: every file through .part, its sha256 checked against the manifest before it is kept, the manifest last. An age-encrypted backup needs --identity: each file's ciphertext is checked, decrypted through .part to its plaintext name and checked again. Restartable: files already there with the right sha256 are kept.",
  ),
)
