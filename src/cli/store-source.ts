/**
 * `verify` and `restore` on a backup in a store: `verify STORE --backup-id ID`, the store as in
 * `download STORE ID DIR` (s3://bucket[/prefix] or a directory store, with the store flags).
 * Without --backup-id the argument is a backup directory, as before; an s3:// URL then needs one, and
 * --identity is refused for a directory of `.age` files (directory-identity.ts).
 * The backup is downloaded into a work directory (free space checked first, every file
 * hash-checked; with --trusted-key, a manifest not signed by one is refused before anything is
 * downloaded) and the command then runs on that directory, so its checks decide.
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Option, Schema } from "effect"
import { CliError, Flag } from "effect/cli"
import type { BackupTimestamp } from "../domain/archive-names.ts"
import { backupIdArgumentsFor } from "../domain/store-location.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { openStoreFromFlags, storeFlags, type StoreFlagValues } from "./store-flags.ts"
import { transferProgress } from "./transfer-progress.ts"
import { identityFlags, type IdentityFlagValues, readGivenIdentities } from "./encryption-flags.ts"
import { checkIdentityOnDirectory } from "./directory-identity.ts"
import { downloadDirOutsideStore } from "./directory-store-places.ts"
import { bandwidthOf, downloadBandwidthLimitFlag } from "./bandwidth-limit-flag.ts"
import { backupIdCheck } from "./flag-checks.ts"
import type { TrustedKey } from "../services/crypto/manifest-signature.ts"

export class StoreBackupIdMissing extends Schema.TaggedError<StoreBackupIdMissing>()("StoreBackupIdMissing", {
  location: Schema.String,
  message: Schema.String,
}) {}

export const storeSourceFlags = (workDirDefault: string) => ({
  backupId: Flag.String("backup-id").pipe(
    backupIdCheck("the store is the command's argument, the backup's ID alone goes with --backup-id"),
    Flag.optional,
    Flag.withMetavar("ID"),
    Flag.withDescription(
      "Take the backup ID (see list; latest: the newest complete backup) from the store the argument names (s3://bucket[/prefix] or a directory store) instead of a backup directory",
    ),
  ),
  workDir: Flag.String("work-dir").pipe(
    Flag.optional,
    Flag.withMetavar("DIR"),
    Flag.withDescription(`With --backup-id: where the backup is downloaded (needs the backup's size free; default: ${workDirDefault})`),
  ),
  bandwidthLimit: downloadBandwidthLimitFlag,
  ...storeFlags,
  ...identityFlags,
})

export interface StoreSourceValues extends StoreFlagValues, IdentityFlagValues {
  /** The command's argument: a backup directory, or with --backup-id a store. */
  readonly backupDir: string
  readonly backupId: Option.Option<string>
  readonly workDir: Option.Option<string>
  readonly bandwidthLimit: Option.Option<string>
  /** The command's --timestamp, which does not go with --backup-id. */
  readonly timestamp: Option.Option<BackupTimestamp>
}

/** Where a store's backup is downloaded without --work-dir: a temporary directory (removed afterwards), or one kept under `under`. */
export type DefaultWorkDir = { readonly _tag: "Temporary" } | { readonly _tag: "Kept"; readonly under: string }

/**
 * The backup directory the command runs on, and the backup in it: the one downloaded from a store (`downloaded`),
 * else --timestamp's (undefined: the newest). The directory is the argument itself, or the work directory (--work-dir, else `defaultWorkDir`) the
 * store's backup was downloaded into. The work directory is owned by this run for the enclosing
 * scope (a run lock beside it), and what killed runs of the same command left there is swept
 * first (services/owned-work-dir.ts). --timestamp with --backup-id is a usage error:
 * the backup id names the backup already. `beforeDownload` runs once the flags are judged, before the store is opened:
 * what would refuse the command afterwards in any case (restore's root) refuses it before a download.
 */
export const backupSource = <E = never, R = never>(
  command: string,
  flags: StoreSourceValues,
  defaultWorkDir: DefaultWorkDir,
  trustedKeys: ReadonlyArray<TrustedKey> = [],
  beforeDownload: Effect.Effect<unknown, E, R> = Effect.void,
) =>
  Effect.gen(function* () {
    const argument = flags.backupDir
    if (Option.isNone(flags.backupId)) {
      if (argument.startsWith("s3://")) {
        const named = backupIdArgumentsFor(argument)
        return yield* new StoreBackupIdMissing({
          location: argument,
          message: `${argument} is a store, not a backup directory: ${
            named === undefined
              ? `give the backup with --backup-id ID (see cluster-backup list ${argument})`
              : `name the backup with --backup-id and the store without it: ${named}`
          }`,
        })
      }
      yield* checkIdentityOnDirectory(command, argument, flags.identity)
      return { dir: argument, timestamp: Option.getOrUndefined(flags.timestamp), downloaded: false }
    }
    if (Option.isSome(flags.timestamp)) {
      return yield* new CliError.ShowHelp({
        commandPath: ["cluster-backup", command],
        errors: [
          new CliError.InvalidValue({
            option: "timestamp",
            value: flags.timestamp.value,
            expected: `no --timestamp with --backup-id (the backup id ${flags.backupId.value} names the backup)`,
            kind: "flag",
          }),
        ],
      })
    }
    if (Option.isSome(flags.workDir)) yield* downloadDirOutsideStore(command, argument, flags, flags.workDir.value, { name: "work-dir", kind: "flag" })
    yield* beforeDownload
    const identities = yield* readGivenIdentities(flags)
    const { store, prefix } = yield* openStoreFromFlags(
      argument,
      flags,
      { command, name: "dir", kind: "argument" },
      { onProgress: yield* transferProgress("downloaded"), ...bandwidthOf(flags.bandwidthLimit) },
    )
    const [{ fetchBackup }, { resolveBackupId }, { DiskSpace }, { keptWorkDir, temporaryWorkDir }] = yield* Effect.promise(() =>
      Promise.all([
        import("../programs/store/store-fetch.ts"),
        import("../programs/store/resolve-backup-id.ts"),
        import("../services/disk-space.ts"),
        import("../services/owned-work-dir.ts"),
      ]),
    )
    const withStore = Effect.provide(Layer.mergeAll(Layer.succeed(BackupStore, BackupStore.of(store)), DiskSpace.live))
    const id = yield* resolveBackupId(prefix, flags.backupId.value, trustedKeys).pipe(withStore)
    const workDir = Option.isSome(flags.workDir)
      ? yield* keptWorkDir(flags.workDir.value, command, false)
      : defaultWorkDir._tag === "Temporary"
        ? yield* temporaryWorkDir(tmpdir(), `cluster-backup-${command}-`, command)
        : yield* keptWorkDir(join(defaultWorkDir.under, id), command, true)
    const fetched = yield* fetchBackup(prefix, id, workDir, identities, trustedKeys).pipe(withStore)
    return { dir: fetched.dir, timestamp: fetched.manifest.timestamp, downloaded: true }
  })
