import { Result } from "effect"
import { Flag } from "effect/cli"
import { MillisFromDurationString, parseDuration } from "../domain/durations.ts"
import { checkedWith, durationInRange, withUnit } from "./flag-checks.ts"

/** A duration text decoded to milliseconds; text that is no duration is refused in words, not as the schema's failure. */
export const inMillis = (flag: Flag.Flag<string>): Flag.Flag<number> =>
  flag.pipe(
    checkedWith((text) => Result.match(parseDuration(text), { onFailure: (e) => e.message, onSuccess: () => undefined })),
    Flag.withSchema(MillisFromDurationString),
  )

/**
 * A duration flag (like 30s, 5m or 1h) in milliseconds: at least `minMs` (at most `maxMs` when given), `defaultMs` when
 * not given; with `unitRequired` (examples of it), a bare number is refused (`withUnit`).
 */
export const durationFlag = (
  name: string,
  minMs: number,
  defaultMs: number,
  description: string,
  options: { readonly maxMs?: number; readonly unitRequired?: readonly [string, ...Array<string>] } = {},
) =>
  Flag.String(name).pipe(
    options.unitRequired === undefined
      ? (flag: Flag.Flag<string>) => flag
      : withUnit("a duration", options.unitRequired, minMs === 0 ? "zero allowed" : "no zero"),
    durationInRange(minMs, options.maxMs),
    inMillis,
    Flag.withDefault(defaultMs),
    Flag.withDescription(description),
  )
