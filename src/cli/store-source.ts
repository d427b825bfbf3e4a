/**
 * `verify` and `restore` on a backup in a store: `verify STORE --backup-id ID`, the store as in
 * `download STORE ID DIR` (s3://bucket[/prefix] or a directory store, with the store flags).
 * Without --backup-id the argument is a backup directory, as before; an s3:// URL then needs one.
 * The backup is downloaded into a work directory (free space checked first, every file
 * hash-checked) and the command then runs on that directory, so its checks decide.
 */
import { Effect, Layer, Option, Schema } from "effect"
import { Flag } from "effect/cli"
import { BackupStore } from "../services/store/backup-store.ts"
import { openStoreFromFlags, storeFlags, type StoreFlagValues } from "./store-flags.ts"

export class StoreBackupIdMissing extends Schema.TaggedError<StoreBackupIdMissing>()("StoreBackupIdMissing", {
  location: Schema.String,
  message: Schema.String,
}) {}

export const storeSourceFlags = (workDirDefault: string) => ({
  backupId: Flag.String("backup-id").pipe(
    Flag.optional,
    Flag.withMetavar("ID"),
    Flag.withDescription("Take the backup ID (see list) from the store the argument names (s3://bucket[/prefix] or a directory store) instead of a backup directory"),
  ),
  workDir: Flag.String("work-dir").pipe(
    Flag.optional,
    Flag.withMetavar("DIR"),
    Flag.withDescription(`With --backup-id: where the backup is downloaded (needs the backup's size free; default: ${workDirDefault})`),
  ),
  ...storeFlags,
})

export interface StoreSourceValues extends StoreFlagValues {
  readonly backupId: Option.Option<string>
  readonly workDir: Option.Option<string>
}

/**
 * The backup directory the command runs on, and the backup's timestamp when it came from a
 * store: the argument itself, or the work directory (`workDirFor(id)` unless --work-dir) the
 * store's backup was downloaded into.
 */
export const backupSource = <E, R>(argument: string, flags: StoreSourceValues, workDirFor: (id: string) => Effect.Effect<string, E, R>) =>
  Effect.gen(function* () {
    if (Option.isNone(flags.backupId)) {
      if (argument.startsWith("s3://")) {
        return yield* new StoreBackupIdMissing({
          location: argument,
          message: `${argument} is a store, not a backup directory: give the backup with --backup-id ID (see cluster-backup list ${argument})`,
        })
      }
      return { dir: argument, timestamp: undefined }
    }
    const id = flags.backupId.value
    const { store, prefix } = yield* openStoreFromFlags(argument, flags)
    const workDir = Option.isSome(flags.workDir) ? flags.workDir.value : yield* workDirFor(id)
    const [{ fetchBackup }, { DiskSpace }] = yield* Effect.promise(() => Promise.all([import("../programs/store/store-fetch.ts"), import("../services/disk-space.ts")]))
    const fetched = yield* fetchBackup(prefix, id, workDir).pipe(Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), DiskSpace.live)))
    return { dir: fetched.dir, timestamp: fetched.manifest.timestamp }
  })
