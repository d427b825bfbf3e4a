import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { reportFailure } from "./report-failure.ts"
import { loadRootCommand } from "./root-command.ts"
import { teardown } from "./shutdown.ts"
import { toolVersion } from "./version.ts"

Command.run(await loadRootCommand(process.argv.slice(2)), { version: toolVersion }).pipe(
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
)
