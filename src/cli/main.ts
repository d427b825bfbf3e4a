import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { reportFailure } from "./report-failure.ts"
import { teardown } from "./shutdown.ts"
import { toolVersion } from "./version.ts"

/**
 * `cluster-backup backup-init` (the backup pod's first container, on a memory budget: see
 * bench/README.md) loads only its own subcommand: the others' modules (Kubernetes client, tar,
 * restore, ...) would add ~15 MiB and ~0.05 s to its start-up. Every other invocation gets the
 * whole command line.
 */
const loadRootCommand = async () => {
  if (process.argv[2] !== "backup-init") return (await import("./root-command.ts")).rootCommand
  const [{ backupInitCommand }, { LogFormat }] = await Promise.all([import("./backup-init-command.ts"), import("./logging.ts")])
  return Command.make("cluster-backup").pipe(Command.withSubcommands([backupInitCommand]), Command.withGlobalFlags([LogFormat]))
}

Command.run(await loadRootCommand(), { version: toolVersion }).pipe(
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
)
