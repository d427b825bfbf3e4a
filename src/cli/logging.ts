import { Effect, Layer, Logger } from "effect"
import { Flag, GlobalFlag } from "effect/cli"

/** `--log-format text|json`: human-readable logfmt lines or one JSON object per line, on stderr. */
export const LogFormat = GlobalFlag.Setting("log-format")({
  flag: Flag.Literals("log-format", ["text", "json"]).pipe(
    Flag.withDefault<"text" | "json">("text"),
    Flag.withDescription("Log line format on stderr: text (logfmt) or json"),
    Flag.withMetavar("<text|json>"),
  ),
})

export type LogFormatValue = "text" | "json"

/** The logger Layer for a format; logs go to stderr so stdout stays clean for data (YAML, JSON). */
export const loggerLayer = (format: LogFormatValue) =>
  Layer.merge(Logger.layer([Logger.withConsoleError(format === "json" ? Logger.formatJson : Logger.formatLogFmt)]), Layer.succeed(Logger.LogToStderr, true))

/** Runs a command handler with the logger chosen by `--log-format`. */
export const withLogging = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(LogFormat, (format) => Effect.provide(effect, loggerLayer(format)))
