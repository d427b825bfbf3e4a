import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { exposeGc } from "../services/etcd/minor-gc.ts"
import { reportFailure } from "./report-failure.ts"
import { loadRootCommand } from "./root-command.ts"
import { teardown } from "./shutdown.ts"
import { toolVersion } from "./version.ts"

// backup-init collects V8's young generation every few MiB of snapshot (minor-gc.ts): the network buffers V8
// otherwise frees late piled up to tens of MiB of peak memory (bench/README.md). --expose-gc is process-wide, hence here.
exposeGc()

Command.run(await loadRootCommand(process.argv.slice(2)), { version: toolVersion }).pipe(
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
)
