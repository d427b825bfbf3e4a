import { Command } from "effect/cli"
import { backupCreateCommand } from "./backup-create-command.ts"
import { backupInitCommand } from "./backup-init-command.ts"
import { backupResourcesCommand } from "./backup-resources-command.ts"
import { demoCommand } from "./demo-command.ts"
import { holdCommand } from "./hold-command.ts"
import { operatorCommand } from "./operator-command.ts"
import { pruneCommand } from "./prune-command.ts"
import { renderCommand } from "./render-command.ts"
import { restoreCommand } from "./restore-command.ts"
import { verifyCommand } from "./verify-command.ts"
import { LogFormat } from "./logging.ts"

export const rootCommand = Command.make("cluster-backup").pipe(
  Command.withDescription(
    "Consistent, verifiable backups of an OpenShift control plane: the etcd snapshot and the static-pod resources of etcd, kube-apiserver, kube-controller-manager and kube-scheduler at one revision.",
  ),
  Command.withSubcommands([demoCommand, operatorCommand, renderCommand, holdCommand, backupInitCommand, backupResourcesCommand, backupCreateCommand, pruneCommand, verifyCommand, restoreCommand]),
  // After the subcommands, so the setting is provided to all of them.
  Command.withGlobalFlags([LogFormat]),
)
