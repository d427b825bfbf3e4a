import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { exposeGc } from "../services/etcd/minor-gc.ts"
import { reportFailure } from "./report-failure.ts"
import { attachNegativeValues, loadRootCommand } from "./root-command.ts"
import { teardown } from "./shutdown.ts"
import { toolVersion } from "./version.ts"

// backup-init collects V8's young generation every 8 MiB of snapshot (minor-gc.ts): without it the peak is ~45 MiB
// higher, as V8 does not count freed network buffers towards its next collection (bench/README.md). The flag is
// process-wide, so it is set here at start-up rather than by importing the etcd client.
exposeGc()

const args = attachNegativeValues(process.argv.slice(2))
Command.runWith(await loadRootCommand(args), { version: toolVersion })(args).pipe(
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
)
