/**
 * Exit codes on signals. Ctrl-C or SIGTERM during a one-shot command (a backup, a restore) means
 * the job was not done: non-zero (130). A long-running service (`operator`) asked to stop by
 * SIGTERM — Kubernetes' normal way to stop a pod — that finished its work in progress and
 * released its Lease stopped as asked: 0.
 */
import { Cause, Effect, Exit, Runtime } from "effect"

let gracefulOnSigterm = false
let sigterm = false
process.on("SIGTERM", () => {
  sigterm = true
})

// A reader that goes away (`cluster-backup demo | head`) must not kill the process before its
// finalizers stopped what it started: treat it like SIGTERM (interrupt, clean up, exit).
let outputClosed = false
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" || outputClosed) return
    outputClosed = true
    process.kill(process.pid, "SIGTERM")
  })
}

/** Declares the running command a service whose SIGTERM stop is a success. */
export const stopsGracefullyOnSigterm = Effect.sync(() => {
  gracefulOnSigterm = true
})

export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) {
    if (sigterm && gracefulOnSigterm) return onExit(0)
    if (!outputClosed) process.stderr.write("error: interrupted before the command finished\n")
  }
  return Runtime.defaultTeardown(exit, onExit)
}
