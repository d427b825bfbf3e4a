import { Effect, Layer } from "effect"
import { Command, Flag } from "effect/cli"
import { inMillis } from "./duration-flag.ts"
import { withUnit } from "./flag-checks.ts"
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
    json: Flag.Boolean("json").pipe(
      Flag.withDefault(false),
      Flag.withDescription(
        "Print one JSON document instead of the text: each entry with its kind, size, since when, verdict and outcome, and why a run was refused",
      ),
    ),
    olderThanMs: Flag.String("older-than").pipe(
      withUnit("an age", ["7d", "36h", "90m"], "zero allowed"),
      inMillis,
      Flag.withDefault(weekMs),
      Flag.withDescription(
        "Remove only what was kept at least this long ago (its ctime: when it was moved there, or changed since), e.g. 7d, 36h, 0 for everything",
      ),
    ),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const [{ pruneHost }, { DurableFiles }, { encodePruneHostReport }] = yield* Effect.promise(() =>
          Promise.all([import("../programs/prune-host/prune-host.ts"), import("../services/durable-files.ts"), import("../domain/prune-host-report.ts")]),
        )
        const print = (text: string) => Effect.sync(() => void process.stdout.write(text))
        yield* pruneHost({
          root: flags.root,
          dryRun: flags.dryRun,
          olderThanMs: flags.olderThanMs,
          output: flags.json ? () => Effect.void : print,
          report: flags.json ? (report) => print(encodePruneHostReport(report)) : undefined,
        }).pipe(Effect.provide(Layer.mergeAll(DurableFiles.live)))
      }),
    ),
).pipe(
  Command.withDescription(
    "Give back the space of what restore and stand-down kept on this host instead of deleting it (the old etcd member, its revision.json, the restored snapshot's copy, stopped manifests, replaced static pod resources, downloaded backups), once the host runs its control plane again (etcd's member and the four manifests in place, no restore interrupted) and what was kept is older than --older-than (default 7d). The records that guard a recovery (restored-member.json, stood-down.json) and anything else are never removed. Holds the restore lock; each entry is renamed to a hidden name before it is removed, so a kill leaves it whole or gone, and the next run finishes the removal.",
  ),
)
