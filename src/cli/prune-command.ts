import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { parseByteSize } from "../domain/byte-size.ts"
import { MillisFromDurationString } from "../domain/durations.ts"
import { formatBytes } from "../programs/snapshot-progress.ts"
import { withLogging } from "./logging.ts"

const count = (name: string, description: string) => Flag.Int(name).pipe(Flag.optional, Flag.withDescription(description))
const some = <A>(o: { readonly _tag: "Some"; readonly value: A } | { readonly _tag: "None" }): A | undefined => (o._tag === "Some" ? o.value : undefined)

export const pruneCommand = Command.make(
  "prune",
  {
    dir: Argument.String("dir").pipe(Argument.withDescription("Directory holding the backups")),
    keepLast: count("keep-last", "Keep the N newest complete backups"),
    keepDaily: count("keep-daily", "Keep the newest backup of each of the last N days that have one"),
    keepWeekly: count("keep-weekly", "Keep the newest backup of each of the last N ISO weeks"),
    keepMonthly: count("keep-monthly", "Keep the newest backup of each of the last N months"),
    maxAge: Flag.String("max-age").pipe(Flag.withSchema(MillisFromDurationString), Flag.optional, Flag.withDescription("Remove backups older than this (e.g. 30d)")),
    maxTotalSize: Flag.String("max-total-size").pipe(Flag.optional, Flag.withDescription("Remove the oldest backups while the total is over this (e.g. 50Gi)")),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDefault(false), Flag.withDescription("Only report what would be removed")),
  },
  (flags) =>
    withLogging(
      Effect.gen(function* () {
        const size = some(flags.maxTotalSize)
        const maxTotalBytes = size === undefined ? undefined : yield* Effect.fromResult(parseByteSize(size))
        const { prune } = yield* Effect.promise(() => import("../programs/prune.ts"))
        const decision = yield* prune({
          dir: flags.dir,
          dryRun: flags.dryRun,
          policy: {
            keepLast: some(flags.keepLast),
            keepDaily: some(flags.keepDaily),
            keepWeekly: some(flags.keepWeekly),
            keepMonthly: some(flags.keepMonthly),
            maxAgeMs: some(flags.maxAge),
            maxTotalBytes,
          },
        })
        const freed = decision.remove.reduce((a, r) => a + r.unit.bytes, 0)
        yield* Effect.sync(() =>
          process.stdout.write(
            `${decision.keep.length} kept, ${decision.remove.length} ${flags.dryRun ? "would be removed" : "removed"} (${formatBytes(freed)})\n`,
          ),
        )
      }),
    ),
).pipe(
  Command.withDescription(
    "Apply a retention policy to a directory of backups (timestamped file groups or one backup per subdirectory). The newest complete backup is always kept; incomplete leftovers are removed once a newer complete backup exists.",
  ),
)

