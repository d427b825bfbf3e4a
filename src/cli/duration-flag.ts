import { Flag } from "effect/cli"
import { MillisFromDurationString } from "../domain/durations.ts"
import { durationInRange } from "./flag-checks.ts"

/** A duration flag (like 30s, 5m or 1h) in milliseconds: at least `minMs` (at most `maxMs` when given), `defaultMs` when not given. */
export const durationFlag = (name: string, minMs: number, defaultMs: number, description: string, maxMs?: number) =>
  Flag.String(name).pipe(
    durationInRange(minMs, maxMs),
    Flag.withSchema(MillisFromDurationString),
    Flag.withDefault(defaultMs),
    Flag.withDescription(description),
  )
