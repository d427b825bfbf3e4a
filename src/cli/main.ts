import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { rootCommand } from "./root-command.ts"
import { toolVersion } from "./version.ts"

Command.run(rootCommand, { version: toolVersion }).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
