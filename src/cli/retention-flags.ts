/**
 * The retention rules on the command line, one definition for `prune` (`--keep-last` ...),
 * `backup-upload` (the same names: it prunes the store after a successful upload) and
 * `render`/`operator` (`--store-keep-last` ...: carried into the pod's backup-upload).
 */
import { Option, Result } from "effect"
import { Flag } from "effect/cli"
import { parseByteSize } from "../domain/byte-size.ts"
import { MillisFromDurationString } from "../domain/durations.ts"
import type { RetentionPolicy } from "../domain/retention.ts"
import { checkedWith, intInRange } from "./flag-checks.ts"

/** A count of backups: a whole number from 0 (a negative one is a usage error, not "none"). */
const count = (name: string, description: string) =>
  Flag.Int(name).pipe(intInRange({ min: 0, max: 1_000_000, meaning: "a number of backups" }), Flag.optional, Flag.withDescription(description))

/** The rules' flags, each named `<prefix><rule>` (`keep-last`, `store-keep-last`), `about` before each description. */
export const retentionFlags = (prefix: string, about = "") => ({
  keepLast: count(`${prefix}keep-last`, `${about}Keep the N newest backups (verified ones first)`),
  keepDaily: count(`${prefix}keep-daily`, `${about}Keep the newest backup of each of the last N days that have one`),
  keepWeekly: count(`${prefix}keep-weekly`, `${about}Keep the newest backup of each of the last N ISO weeks`),
  keepMonthly: count(`${prefix}keep-monthly`, `${about}Keep the newest backup of each of the last N months`),
  maxAge: Flag.String(`${prefix}max-age`).pipe(
    // A bare number would be seconds (durations' rule): `--max-age 30` meant as days would prune nearly everything.
    checkedWith((text) => (/^\s*\d+\s*$/.test(text) ? "an age with its unit, like 30d, 12h or 90m (a bare number would be seconds)" : undefined)),
    Flag.withSchema(MillisFromDurationString),
    Flag.optional,
    Flag.withDescription(`${about}Remove backups older than this (e.g. 30d)`),
  ),
  maxTotalSize: Flag.String(`${prefix}max-total-size`).pipe(
    checkedWith((text) => (Result.isFailure(parseByteSize(text)) ? "a size like 500Mi, 50Gi, 2G or a number of bytes" : undefined)),
    Flag.map((text) => Result.getOrThrow(parseByteSize(text))),
    Flag.optional,
    Flag.withDescription(`${about}Remove the oldest backups while the total is over this (e.g. 50Gi)`),
  ),
})

export interface RetentionFlagValues {
  readonly keepLast: Option.Option<number>
  readonly keepDaily: Option.Option<number>
  readonly keepWeekly: Option.Option<number>
  readonly keepMonthly: Option.Option<number>
  readonly maxAge: Option.Option<number>
  readonly maxTotalSize: Option.Option<number>
}

/** The policy the flags give (no rule at all: every field undefined). */
export const retentionPolicyOf = (f: RetentionFlagValues): RetentionPolicy => ({
  keepLast: Option.getOrUndefined(f.keepLast),
  keepDaily: Option.getOrUndefined(f.keepDaily),
  keepWeekly: Option.getOrUndefined(f.keepWeekly),
  keepMonthly: Option.getOrUndefined(f.keepMonthly),
  maxAgeMs: Option.getOrUndefined(f.maxAge),
  maxTotalBytes: Option.getOrUndefined(f.maxTotalSize),
})
