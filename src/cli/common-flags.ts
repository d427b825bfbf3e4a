import { Flag } from "effect/cli"

/** `--backup-dir`: the backup pod's shared volume (default `/backup`). */
export const backupDirFlag = Flag.String("backup-dir").pipe(
  Flag.withDefault("/backup"),
  Flag.withDescription("Directory holding the backup (the pod's shared volume)"),
)
