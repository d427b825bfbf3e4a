import { Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { formatDuration } from "../domain/durations.ts"
import type { PruneDecision } from "../programs/prune/prune.ts"
import { formatBytes } from "../domain/byte-format.ts"
import { withLogging } from "./logging.ts"
import { leftoverGraceFlag, leftoverGraceOf, retentionFlags, retentionPolicyOf, ruleMissing } from "./retention-flags.ts"
import { retentionTrustedKeysFlag } from "./signature-flags.ts"
import { readTrustedKeys } from "../programs/backup-dir/manifest-authenticity.ts"
import { openStoreFromFlags, storeFlags, type StoreFlagValues } from "./store-flags.ts"
import { BackupStore } from "../services/store/backup-store.ts"
import { DurableFiles } from "../services/durable-files.ts"

/** A store (s3://, or a directory store named by --prefix or --cluster-id) rather than a directory of backups. */
const isStorePrune = (dir: string, flags: StoreFlagValues): boolean => dir.startsWith("s3://") || Option.isSome(flags.prefix) || Option.isSome(flags.clusterId)

/** The line on stdout: what was kept and removed, with the bytes freed. */
export const pruneSummary = (decision: PruneDecision, dryRun: boolean): string => {
  const removed = dryRun ? "would be removed" : "removed"
  const sum = (xs: ReadonlyArray<number>) => formatBytes(xs.reduce((a, b) => a + b, 0))
  const gone = decision.leftovers.filter((l) => l.removed)
  const kept = decision.leftovers.length - gone.length
  return (
    `${decision.keep.length} kept, ${decision.remove.length} ${removed} (${sum(decision.remove.map((r) => r.unit.bytes))}); ` +
    `${gone.length} leftover${gone.length === 1 ? "" : "s"} ${removed} (${sum(gone.map((l) => l.bytes))})` +
    (kept > 0 ? `, ${kept} kept (a live run owns them or they may be a copy in progress: see the log)` : "") +
    (decision.left.length > 0 ? `; ${decision.left.length} ${dryRun ? "would be left" : "left"} in place (see the log)` : "")
  )
}

export const pruneCommand = Command.make(
  "prune",
  {
    dir: Argument.String("dir").pipe(
      Argument.filter(
        (dir) => dir.trim() !== "",
        () => "a non-empty path of the directory holding the backups",
      ),
      Argument.withDescription("Directory holding the backups, or a store: s3://bucket[/prefix], or a directory store with --prefix or --cluster-id"),
    ),
    ...retentionFlags(""),
    leftoverGrace: leftoverGraceFlag(
      "leftover-grace",
      "Remove leftovers, remains of backups and (in a subdirectory) unverified backups only once nothing in them was modified for this long, unless a stale lock shows a dead run left them (default 24h; 0: now)",
    ),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDefault(false), Flag.withDescription("Only report what would be removed")),
    trustedKeys: retentionTrustedKeysFlag,
    ...storeFlags,
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const policy = retentionPolicyOf(flags)
        yield* ruleMissing("prune", policy, flags.leftoverGrace, { grace: "leftover-grace", rulePrefix: "" }, true)
        const graceMs = leftoverGraceOf(flags.leftoverGrace)
        if (isStorePrune(flags.dir, flags)) {
          const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
          const { store, prefix } = yield* openStoreFromFlags(flags.dir, flags, { command: "prune", name: "dir", kind: "argument" })
          const { pruneStore, storePruneSummary } = yield* Effect.promise(() => import("../programs/store/store-prune.ts"))
          const report = yield* pruneStore({ prefix, policy, graceMs, dryRun: flags.dryRun, trustedKeys }).pipe(
            Effect.provide(Layer.succeed(BackupStore, BackupStore.of(store))),
          )
          yield* Effect.sync(() => process.stdout.write(`${storePruneSummary(report)}\n`))
          return
        }
        const trustedKeys = yield* readTrustedKeys(flags.trustedKeys)
        const { prune } = yield* Effect.promise(() => import("../programs/prune/prune.ts"))
        const decision = yield* prune({
          dir: flags.dir,
          dryRun: flags.dryRun,
          leftoverGrace: { ms: graceMs, text: formatDuration(graceMs) },
          policy,
          trustedKeys,
        }).pipe(Effect.provide(DurableFiles.live))
        yield* Effect.sync(() => process.stdout.write(`${pruneSummary(decision, flags.dryRun)}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "Apply a retention policy to a directory of backups (timestamped file groups or one backup per subdirectory). Verified backups (a manifest names their files and sizes) come first: the newest is always kept, and none is removed in favour of an unverified one. Leftovers of interrupted runs and remains of backups (a backup missing a file, a subdirectory with no backup left) are removed whatever the policy, unless a live run holds their directory's lock: at once when a stale lock shows the run that left them is gone, otherwise only once nothing in them was modified for --leftover-grace (default 24h), because a copy written without the lock (oc cp into a new subdirectory, a directory store's .part) looks the same. A subdirectory is judged as a whole, and an unverified backup in one waits the same grace. To copy a backup in without waiting, copy it into a hidden directory (.incoming-<name>) and rename it when complete. Files prune does not own are never removed. On a store (s3://bucket[/prefix], or a directory store when --prefix or --cluster-id is given; a directory alone is pruned as above) the same rules apply to its complete backups (the manifest there and describing the objects beside it), the newest of which is never deleted; incomplete backups and abandoned multipart uploads are removed once older than --leftover-grace (sooner when its writer is gone: a directory store's .part unchanged for 15 minutes, as its writer refreshes it while it runs; a multipart upload whose newest part is over 90 minutes old), never those of an upload in progress; so is a directory store's empty backup directory a killed run left, once unchanged for 15 minutes; with --trusted-key (on a store or a directory), a backup whose manifest no trusted key signed takes only the slots no trusted backup needs and is never the newest kept; a backup is deleted manifest first, so an interrupted prune leaves an incomplete backup, never a complete one missing a file.",
  ),
)
