import { Result } from "effect"
import { Flag } from "effect/cli"
import { MillisFromDurationString, parseDuration } from "../domain/durations.ts"
import { checkedWith, durationInRange } from "./flag-checks.ts"

/** A duration text decoded to milliseconds; text that is no duration is refused in words, not as the schema's failure. */
export const inMillis = (flag: Flag.Flag<string>): Flag.Flag<number> =>
  flag.pipe(
    checkedWith((text) => Result.match(parseDuration(text), { onFailure: (e) => e.message, onSuccess: () => undefined })),
    Flag.withSchema(MillisFromDurationString),
  )

/** A duration flag (like 30s, 5m or 1h) in milliseconds: at least `minMs` (at most `maxMs` when given), `defaultMs` when not given. */
export const durationFlag = (name: string, minMs: number, defaultMs: number, description: string, maxMs?: number) =>
  Flag.String(name).pipe(durationInRange(minMs, maxMs), inMillis, Flag.withDefault(defaultMs), Flag.withDescription(description))
