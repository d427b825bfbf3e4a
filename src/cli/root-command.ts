import { Command } from "effect/cli"
import { backupInitCommand } from "./backup-init-command.ts"
import { holdCommand } from "./hold-command.ts"
import { LogFormat } from "./logging.ts"

export const rootCommand = Command.make("cluster-backup").pipe(
  Command.withDescription(
    "Consistent, verifiable backups of an OpenShift control plane: the etcd snapshot and the static-pod resources of etcd, kube-apiserver, kube-controller-manager and kube-scheduler at one revision.",
  ),
  Command.withSubcommands([holdCommand, backupInitCommand]),
  // After the subcommands, so the setting is provided to all of them.
  Command.withGlobalFlags([LogFormat]),
)
