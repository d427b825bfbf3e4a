/**
 * Progress of a long byte transfer: on a terminal one line on stderr rewritten in place, else a
 * log line now and then (container logs must not fill with carriage returns).
 */
import { Effect, Ref, Stdio, Stream } from "effect"
import { formatProgress } from "../domain/byte-format.ts"

export interface ProgressOptions {
  readonly label: string
  readonly expectedBytes: number
  readonly bytes: Ref.Ref<number>
  readonly startedAt: number
  /** Between rewrites on a terminal. */
  readonly terminalIntervalMs?: number
  /** Between log lines otherwise. */
  readonly logIntervalMs?: number
}

/**
 * Reports until interrupted (fork it in the transfer's scope); `finish` prints the last state.
 * The clock is `Date.now` on purpose: a rate is wall time, also under a test clock.
 */
export const makeProgressReporter = Effect.fnUntraced(function* (options: ProgressOptions) {
  const stdio = yield* Stdio.Stdio
  const terminal = yield* stdio.stderrIsTerminal
  const write = (text: string) => Stream.run(Stream.make(text), stdio.stderr({ endOnDone: false })).pipe(Effect.ignore)
  const sample = (done: boolean) =>
    Effect.map(Ref.get(options.bytes), (bytes) =>
      formatProgress(options.label, { bytes, expectedBytes: options.expectedBytes, elapsedMs: Date.now() - options.startedAt, done }),
    )
  const report = (done: boolean) => Effect.flatMap(sample(done), (line) => (terminal ? write(`\r\x1b[2K${line}${done ? "\n" : ""}`) : Effect.logInfo(line)))
  const interval = terminal ? (options.terminalIntervalMs ?? 250) : (options.logIntervalMs ?? 10_000)
  return {
    run: Effect.forever(Effect.andThen(Effect.sleep(interval), report(false))),
    finish: report(true),
    /** Ends a rewritten line before something else is printed. */
    clear: terminal ? write("\r\x1b[2K") : Effect.void,
  }
})
