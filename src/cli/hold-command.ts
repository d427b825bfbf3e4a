import { Effect } from "effect"
import { Command } from "effect/cli"
import { hold } from "../programs/backup/hold.ts"
import { backupDirFlag } from "./common-flags.ts"
import { durationFlag } from "./duration-flag.ts"
import { withLogging } from "./logging.ts"
import { stopsGracefullyOnSigterm } from "./shutdown.ts"

export const holdCommand = Command.make(
  "hold",
  {
    backupDir: backupDirFlag,
    duration: durationFlag("duration", 1000, 3_600_000, "How long to keep the backup available, with its unit (e.g. 1h, 90m, 3600s)", {
      unitRequired: ["1h", "90m", "3600s"],
    }),
  },
  // SIGTERM is how a hold ends early (the pod deleted once the backup was copied): the hold did its job, exit 0.
  ({ backupDir, duration }) => withLogging(Effect.andThen(stopsGracefullyOnSigterm, hold({ backupDir, durationMs: duration }))),
).pipe(Command.withDescription("Keep the backup directory available for 'oc cp' for a bounded time, then exit 0 (the backup pod's last container)."))
