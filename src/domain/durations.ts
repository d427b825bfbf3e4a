/**
 * Durations given on the command line: `30s`, `90m`, `1h`, `1h30m`, `500ms`, or a bare number of
 * seconds. Kept strict (no fractions, no spaces) so a typo is an error, not a surprise interval.
 */
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

export class DurationInvalid extends Schema.TaggedError<DurationInvalid>()("DurationInvalid", {
  input: Schema.String,
  message: Schema.String,
}) {}

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const whole = /^(?:\d+(?:ms|s|m|h|d))+$/
const part = /(\d+)(ms|s|m|h|d)/g

/** Milliseconds of a duration text; a typed error naming the text otherwise. */
export const parseDuration = (input: string): Result.Result<number, DurationInvalid> => {
  const text = input.trim()
  if (/^\d+$/.test(text)) return Result.succeed(Number(text) * 1000)
  if (!whole.test(text)) {
    return Result.fail(new DurationInvalid({ input, message: `"${input}" is not a duration: use e.g. 30s, 90m, 1h, 1h30m or a number of seconds` }))
  }
  let total = 0
  for (const m of text.matchAll(part)) total += Number(m[1]) * unitMs[m[2] as keyof typeof unitMs]
  return Number.isSafeInteger(total) ? Result.succeed(total) : Result.fail(new DurationInvalid({ input, message: `"${input}" is too long a duration` }))
}

/** `1h30m`-style text of a duration in milliseconds (whole seconds; ms below a second). */
export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${ms}ms`
  let rest = Math.floor(ms / 1000)
  const out: Array<string> = []
  for (const [unit, size] of [
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0) out.push(`${n}${unit}`)
  }
  return out.join("")
}

/** A duration text decoded to milliseconds (for CLI flags via `Flag.withSchema`). */
export const MillisFromDurationString = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    SchemaTransformation.transformEffect({
      decode: (text: string) =>
        Result.match(parseDuration(text), {
          onSuccess: (ms) => Effect.succeed(ms),
          onFailure: (e) => Effect.fail(new SchemaIssue.InvalidValue({ message: e.message }, text)),
        }),
      encode: (ms: number) => Effect.succeed(formatDuration(ms)),
    }),
  ),
)
