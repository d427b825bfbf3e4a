import { Effect, Layer } from "effect"
import { Command, Flag } from "effect/cli"
import { durationFlag } from "./duration-flag.ts"
import { hostRootFlag } from "./host-root-flags.ts"
import { withLogging } from "./logging.ts"

const weekMs = 7 * 24 * 3_600_000

export const pruneHostCommand = Command.make(
  "prune-host",
  {
    root: hostRootFlag("what restore and stand-down kept is under it"),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "List what was kept and what a real run would remove, check what a real run checks (exit non-zero when it would refuse); remove nothing",
      ),
    ),
    olderThanMs: durationFlag(
      "older-than",
      0,
      weekMs,
      "Remove only what was kept at least this long ago (its ctime: when it was moved there, or changed since), e.g. 7d, 36h, 0 for everything",
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const [{ pruneHost }, { DurableFiles }] = yield* Effect.promise(() =>
          Promise.all([import("../programs/prune-host/prune-host.ts"), import("../services/durable-files.ts")]),
        )
        yield* pruneHost({
          root: flags.root,
          dryRun: flags.dryRun,
          olderThanMs: flags.olderThanMs,
          output: (text) => Effect.sync(() => void process.stdout.write(text)),
        }).pipe(Effect.provide(Layer.mergeAll(DurableFiles.live)))
      }),
    ),
).pipe(
  Command.withDescription(
    "Give back the space of what restore and stand-down kept on this host instead of deleting it (the old etcd member, its revision.json, the restored snapshot's copy, stopped manifests, replaced static pod resources, downloaded backups), once the host runs its control plane again (etcd's member and the four manifests in place, no restore interrupted) and what was kept is older than --older-than (default 7d). The records that guard a recovery (restored-member.json, stood-down.json) and anything else are never removed. Holds the restore lock; each entry is renamed to a hidden name before it is removed, so a kill leaves it whole or gone, and the next run finishes the removal.",
  ),
)
