/**
 * A stand-in command that cannot be interrupted: it waits, uninterruptibly, for an open() of the
 * FIFO named by argv[2] (no writer ever comes, so libuv's thread stays blocked), run the way
 * src/cli/main.ts runs every command. Prints "blocked" once it waits. For test/cli/shutdown.test.ts.
 */
import { open } from "node:fs/promises"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { teardown } from "../../src/cli/shutdown.ts"

const fifo = process.argv[2]!
NodeRuntime.runMain(
  Effect.uninterruptible(
    Effect.andThen(
      Effect.sync(() => process.stdout.write("blocked\n")),
      Effect.promise(() => open(fifo)),
    ),
  ),
  { disableErrorReporting: true, teardown },
)
