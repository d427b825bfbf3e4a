/**
 * Progress of a long byte transfer: on a terminal one line on stderr rewritten in place, else a
 * log line now and then (container logs must not fill with carriage returns).
 */
import { Effect, Ref, Stdio, Stream } from "effect"

const units = ["B", "KiB", "MiB", "GiB", "TiB"]

/** `1.5 GiB`, `512 B`. */
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

export interface ProgressSample {
  readonly bytes: number
  /** What the source announced (etcd's reported database size); percent is capped below 100 until done. */
  readonly expectedBytes: number
  readonly elapsedMs: number
  readonly done: boolean
}

/** `snapshot: 512.0 MiB of ~1.0 GiB (50%), 120.3 MiB/s` */
export const formatProgress = (label: string, s: ProgressSample): string => {
  const rate = s.elapsedMs > 0 ? (s.bytes * 1000) / s.elapsedMs : 0
  const raw = s.expectedBytes > 0 ? Math.floor((s.bytes * 100) / s.expectedBytes) : 0
  const percent = s.done ? 100 : Math.min(99, raw)
  const of = s.done ? "" : ` of ~${formatBytes(s.expectedBytes)} (${percent}%)`
  return `${label}: ${formatBytes(s.bytes)}${of}, ${formatBytes(rate)}/s`
}

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
  const report = (done: boolean) =>
    Effect.flatMap(sample(done), (line) => (terminal ? write(`\r\x1b[2K${line}${done ? "\n" : ""}`) : Effect.logInfo(line)))
  const interval = terminal ? (options.terminalIntervalMs ?? 250) : (options.logIntervalMs ?? 10_000)
  return {
    run: Effect.forever(Effect.andThen(Effect.sleep(interval), report(false))),
    finish: report(true),
    /** Ends a rewritten line before something else is printed. */
    clear: terminal ? write("\r\x1b[2K") : Effect.void,
  }
})
