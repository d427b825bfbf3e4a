import { Flag } from "effect/cli"
import { nonEmpty } from "./flag-checks.ts"

/** `--backup-dir`: the backup pod's shared volume (default `/backup`). */
export const backupDirFlag = Flag.String("backup-dir").pipe(
  nonEmpty("directory"),
  Flag.withDefault("/backup"),
  Flag.withDescription("Directory holding the backup (the pod's shared volume)"),
)
