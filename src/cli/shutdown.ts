/**
 * How the process ends. Ctrl-C or SIGTERM interrupts the command, whose finalizers clean up (stop
 * what it started, remove temporary files and decoded secrets); then the process ends as the
 * signal would have ended it (exit status 130 for SIGINT, 143 for SIGTERM): the job was not done.
 * A long-running service (`operator`) asked to stop by SIGTERM — Kubernetes' normal way to stop a
 * pod — that finished its work in progress and released its Lease stopped as asked: 0.
 *
 * Some operations cannot be interrupted: an open() of a FIFO with no writer waits in libuv's
 * thread pool forever, and then even `process.exit` waits for that thread. So after a signal the
 * clean-up gets a bounded grace period, a second signal ends the process at once, and either
 * ends it by re-raising the signal, which the kernel carries out whatever a thread is doing.
 */
import { Cause, Effect, Exit, Runtime } from "effect"
import { CliError } from "effect/cli"

/**
 * How long the finalizers may run after SIGINT/SIGTERM before the process ends without them:
 * enough to stop child processes (etcd) and remove files on a loaded node, well within a pod's
 * default 30 s termination grace period.
 */
export const shutdownGraceMs = 10_000

/** Exit status of a command line that could not be parsed (an unknown flag, a value out of range). */
export const usageErrorExitCode = 2

const say = (text: string) => {
  if (!outputClosed) process.stderr.write(text)
}

/** Ends the process by `signal` with its default action (status 128 + its number). */
const endBy = (signal: NodeJS.Signals) => {
  process.removeAllListeners(signal)
  process.kill(process.pid, signal)
  // Only if the default action were somehow blocked.
  setTimeout(() => process.kill(process.pid, "SIGKILL"), 2000).unref()
}

let gracefulOnSigterm = false
let received: NodeJS.Signals | undefined

const onSignal = (signal: NodeJS.Signals) => {
  if (received !== undefined) {
    say(`error: ${signal} again: exiting now, without finishing the clean-up\n`)
    return endBy(signal)
  }
  received = signal
  // Unreferenced: a command that ends in time ends the process without waiting for it.
  setTimeout(() => {
    say(
      `error: the command did not stop within ${shutdownGraceMs / 1000} s of ${signal} (something could not be interrupted): exiting without finishing the clean-up\n`,
    )
    endBy(signal)
  }, shutdownGraceMs).unref()
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

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

/** The command line could not be parsed: effect/cli already showed the help and the error. */
const isUsageError = (cause: Cause.Cause<unknown>) =>
  cause.reasons.some((r) => r._tag === "Fail" && CliError.isCliError(r.error) && r.error._tag === "ShowHelp" && r.error.errors.length > 0)

export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (received !== undefined) {
    if (Exit.isSuccess(exit) || (received === "SIGTERM" && gracefulOnSigterm && Cause.hasInterruptsOnly(exit.cause))) return onExit(0)
    if (Cause.hasInterruptsOnly(exit.cause)) say("error: interrupted before the command finished\n")
    return endBy(received)
  }
  if (Exit.isFailure(exit) && isUsageError(exit.cause)) return onExit(usageErrorExitCode)
  return Runtime.defaultTeardown(exit, onExit)
}
