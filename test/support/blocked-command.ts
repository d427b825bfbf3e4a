/**
 * A stand-in command blocked on an open() of the FIFO named by argv[2] (no writer ever comes, so
 * one of libuv's threads stays blocked), run the way src/cli/main.ts runs every command: waiting
 * uninterruptibly, or, with argv[3] "interruptible", interruptibly (then the thread still blocks
 * the process's exit). Prints "blocked" once it waits. For test/cli/shutdown.test.ts.
 */
import { open } from "node:fs/promises"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { teardown } from "../../src/cli/shutdown.ts"

const fifo = process.argv[2]!
const blocked = Effect.andThen(
  Effect.sync(() => process.stdout.write("blocked\n")),
  Effect.promise(() => open(fifo)),
)
NodeRuntime.runMain(process.argv[3] === "interruptible" ? blocked : Effect.uninterruptible(blocked), { disableErrorReporting: true, teardown })
