/**
 * Retries said as they happen: each as a warning with the failure it follows, which retry of how many, and the wait. A
 * server that does not answer costs a timeout per try, and without these lines a command says nothing for minutes.
 * A caller that reports the failure itself once retries are spent (the operator's sync) lowers them to debug.
 */
import { Context, Duration, Effect, type LogLevel, Schedule } from "effect"
import { formatDuration } from "../domain/durations.ts"

/** The level each retry is logged at: Warn, unless the caller says otherwise. */
export const RetryLogLevel = Context.Reference<LogLevel.Severity>("cluster-backup/RetryLogLevel", { defaultValue: () => "Warn" })

/** Logs each retry `schedule` decides on (put it after the schedule's limits: a failure given up on is not a retry). */
export const warnEachRetry =
  (retries: number) =>
  <Output, Input extends { readonly message: string }, Error, Env>(schedule: Schedule.Schedule<Output, Input, Error, Env>) =>
    Schedule.tap(schedule, ({ input, attempt, duration }) =>
      Effect.gen(function* () {
        const level = yield* RetryLogLevel
        yield* Effect.logWithLevel(level)(`${input.message}; retry ${attempt} of ${retries} in ${formatDuration(Math.round(Duration.toMillis(duration)))}`)
      }),
    )
