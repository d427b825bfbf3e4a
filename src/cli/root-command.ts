import { Command } from "effect/cli"
import { LogFormat } from "./logging.ts"

/**
 * Every subcommand, loaded on demand: a process loads the modules of the subcommand it runs and
 * no other (the backup pod's containers run on a memory budget; see bench/README.md). Help and
 * unknown names load them all.
 */
const subcommands = {
  demo: () => import("./demo-command.ts").then((m) => m.demoCommand),
  operator: () => import("./operator-command.ts").then((m) => m.operatorCommand),
  render: () => import("./render-command.ts").then((m) => m.renderCommand),
  hold: () => import("./hold-command.ts").then((m) => m.holdCommand),
  "backup-init": () => import("./backup-init-command.ts").then((m) => m.backupInitCommand),
  "backup-resources": () => import("./backup-resources-command.ts").then((m) => m.backupResourcesCommand),
  "backup-create": () => import("./backup-create-command.ts").then((m) => m.backupCreateCommand),
  prune: () => import("./prune-command.ts").then((m) => m.pruneCommand),
  verify: () => import("./verify-command.ts").then((m) => m.verifyCommand),
  restore: () => import("./restore-command.ts").then((m) => m.restoreCommand),
  "stand-down": () => import("./stand-down-command.ts").then((m) => m.standDownCommand),
  "prune-host": () => import("./prune-host-command.ts").then((m) => m.pruneHostCommand),
  redeploy: () => import("./redeploy-command.ts").then((m) => m.redeployCommand),
  "backup-now": () => import("./backup-now-command.ts").then((m) => m.backupNowCommand),
  "backup-pod": () => import("./backup-pod-command.ts").then((m) => m.backupPodCommand),
  "backup-upload": () => import("./backup-upload-command.ts").then((m) => m.backupUploadCommand),
  list: () => import("./list-command.ts").then((m) => m.listCommand),
  download: () => import("./download-command.ts").then((m) => m.downloadCommand),
} as const
type SubcommandName = keyof typeof subcommands

/** The subcommands' names, in the order of the command line's help. */
export const subcommandNames = Object.keys(subcommands) as ReadonlyArray<SubcommandName>

/** Global flags that take a value (so their value is not mistaken for a subcommand's name). */
const globalFlagsWithValue = new Set(["--log-format", "--log-level", "--completions"])

/**
 * `--flag -1h` as `--flag=-1h`: the parser reads a word after a flag that begins with a dash as
 * flags (`-1h` became `-1 -h`, and `-h` printed the help and exited 0, pruning nothing). No flag
 * is named by a digit, so a dash and a digit can only be a value: attached, the flag's own check
 * refuses it, as it refuses `--flag=-1h`.
 */
export const attachNegativeValues = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const arg of args) {
    const previous = out.at(-1)
    if (/^-[0-9]/.test(arg) && previous !== undefined && /^--[a-z][-a-z0-9]*$/.test(previous)) out[out.length - 1] = `${previous}=${arg}`
    else out.push(arg)
  }
  return out
}

/** The subcommand the arguments name, if they name one. */
export const requestedSubcommand = (args: ReadonlyArray<string>): SubcommandName | undefined => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("-")) {
      if (globalFlagsWithValue.has(arg)) i++
      continue
    }
    return Object.hasOwn(subcommands, arg) ? (arg as SubcommandName) : undefined
  }
  return undefined
}

/** The command line with the subcommand `args` name, or with all of them. */
export const loadRootCommand = async (args: ReadonlyArray<string>) => {
  const named = requestedSubcommand(args)
  const names: ReadonlyArray<SubcommandName> = named === undefined ? subcommandNames : [named]
  const loaded = await Promise.all(names.map((name) => subcommands[name]()))
  return Command.make("cluster-backup").pipe(
    Command.withDescription(
      "Consistent, verifiable backups of an OpenShift control plane: the etcd snapshot and the static-pod resources of etcd, kube-apiserver, kube-controller-manager and kube-scheduler at one revision.",
    ),
    Command.withSubcommands(loaded as unknown as [(typeof loaded)[number], ...Array<(typeof loaded)[number]>]),
    // After the subcommands, so the setting is provided to all of them.
    Command.withGlobalFlags([LogFormat]),
  )
}
