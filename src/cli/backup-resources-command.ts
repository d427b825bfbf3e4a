import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { operandNames } from "../domain/operands.ts"
import { Revision } from "../domain/revisions.ts"
import { backupDirFlag } from "./common-flags.ts"
import { intInRange } from "./flag-checks.ts"
import { kubeFlags, liveKubeLayer } from "./kube-flags.ts"
import { withLogging } from "./logging.ts"
import { operandResourcesJsonFlagDef, tableFromJson } from "./operand-resources-flags.ts"

export const backupResourcesCommand = Command.make(
  "backup-resources",
  {
    backupDir: backupDirFlag,
    operand: Flag.Literals("operand", operandNames).pipe(
      Flag.withDescription("The operand whose revision to stage"),
      Flag.withMetavar(`<${operandNames.join("|")}>`),
    ),
    revision: Flag.Int("revision").pipe(
      intInRange({ min: 1, max: 2_147_483_647, meaning: "a revision" }),
      Flag.withSchema(Revision),
      Flag.withDescription("The revision N to stage (its <name>-N ConfigMaps and Secrets), from 1 to 2147483647"),
    ),
    ...kubeFlags,
    operandResources: operandResourcesJsonFlagDef,
  },
  ({ backupDir, operand, revision, kubeconfig, context, operandResources }) =>
    withLogging(
      Effect.gen(function* () {
        // Loaded on use: the program stays out of other commands' processes.
        const { backupResources } = yield* Effect.promise(() => import("../programs/backup/backup-resources.ts"))
        const operands = yield* tableFromJson(operandResources)
        const record = yield* backupResources({ backupDir, operand, revision, operands }).pipe(Effect.provide(liveKubeLayer({ kubeconfig, context })))
        yield* Effect.sync(() => process.stdout.write(`${JSON.stringify(record, null, 2)}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "Rebuild static-pod-resources/<pod>-<N>/ of one operand from its revisioned ConfigMaps and Secrets (<name>-N) into the backup's staging area, exactly as the installer lays it out (secrets decoded, installer file modes), and record every file written in .cluster-backup/resources-<operand>.json. Fails, naming them, when the revision or a required resource is missing; a failed or interrupted run leaves nothing of the operand. Holds the backup directory's lock (.cluster-backup/run.lock) and first removes what killed runs left.",
  ),
)
