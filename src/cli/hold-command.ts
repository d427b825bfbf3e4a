import { Command, Flag } from "effect/cli"
import { MillisFromDurationString } from "../domain/durations.ts"
import { hold } from "../programs/backup/hold.ts"
import { backupDirFlag } from "./common-flags.ts"
import { durationAtLeast } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"

export const holdCommand = Command.make(
  "hold",
  {
    backupDir: backupDirFlag,
    duration: Flag.String("duration").pipe(
      Flag.withSchema(MillisFromDurationString),
      durationAtLeast(1000),
      Flag.withDefault(3_600_000),
      Flag.withDescription("How long to keep the backup available (e.g. 3600s, 1h)"),
    ),
  },
  ({ backupDir, duration }) => withLogging(hold({ backupDir, durationMs: duration })),
).pipe(Command.withDescription("Keep the backup directory available for 'oc cp' for a bounded time, then exit 0 (the backup pod's last container)."))
