/**
 * The retention rules on the command line, one definition for `prune` (`--keep-last` ...),
 * `backup-upload` (the same names: it prunes the store after a successful upload) and
 * `render`/`operator` (`--store-keep-last` ...: carried into the pod's backup-upload).
 */
import { Effect, Option, Result } from "effect"
import { CliError, Flag } from "effect/cli"
import { isBareNumber, parseSizeWithUnit } from "../domain/byte-size.ts"
import { formatDuration } from "../domain/durations.ts"
import { hasRule, type RetentionPolicy } from "../domain/retention.ts"
import { defaultGraceMs } from "../domain/store-layout.ts"
import { inMillis } from "./duration-flag.ts"
import { checkedWith, intInRange, withUnit } from "./flag-checks.ts"

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
    withUnit("an age", ["30d", "12h", "90m"], "no zero"),
    inMillis,
    Flag.optional,
    Flag.withDescription(`${about}Remove backups older than this (e.g. 30d)`),
  ),
  maxTotalSize: Flag.String(`${prefix}max-total-size`).pipe(
    checkedWith((text) =>
      Result.isFailure(parseSizeWithUnit(text))
        ? `a size with its unit, like 50Gi, 500Mi or 2G${isBareNumber(text) ? " (a bare number would be bytes)" : ""}`
        : undefined,
    ),
    Flag.map((text) => Result.getOrThrow(parseSizeWithUnit(text))),
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

/** How long leftovers must lie untouched before a prune removes them (`leftover-grace`, `store-leftover-grace`); none given: `leftoverGraceOf` gives 24h. */
export const leftoverGraceFlag = (name: string, description: string) =>
  Flag.String(name).pipe(withUnit("an age", ["24h", "30m", "2d"], "zero allowed"), inMillis, Flag.optional, Flag.withDescription(description))

export const leftoverGraceOf = (grace: Option.Option<number>): number => Option.getOrElse(grace, () => defaultGraceMs)

/**
 * A usage error (exit 2) when `policy` has no rule: the prune that `grace` (the flag `graceFlag`) tunes
 * runs only with a rule, so a grace given alone would be silently ignored. With `required`, no rule is an
 * error even without a grace (prune itself); it then names the grace flag when it was given.
 */
export const ruleMissing = (
  command: string,
  policy: RetentionPolicy,
  grace: Option.Option<number>,
  names: { readonly grace: string; readonly rulePrefix: string },
  required: boolean,
): Effect.Effect<void, CliError.ShowHelp> => {
  if (hasRule(policy) || (!required && Option.isNone(grace))) return Effect.void
  const rules = ["keep-last", "keep-daily", "keep-weekly", "keep-monthly", "max-age", "max-total-size"].map((r) => `--${names.rulePrefix}${r}`).join(", ")
  const error = Option.match(grace, {
    onNone: () =>
      new CliError.InvalidValue({ option: `${names.rulePrefix}keep-last`, value: "", expected: `a retention rule: at least one of ${rules}`, kind: "flag" }),
    onSome: (ms) =>
      new CliError.InvalidValue({
        option: names.grace,
        value: formatDuration(ms),
        expected: `a retention rule beside it: leftovers are removed only by a prune, which runs with at least one of ${rules}`,
        kind: "flag",
      }),
  })
  return Effect.fail(new CliError.ShowHelp({ commandPath: ["cluster-backup", command], errors: [error] }))
}

/** `--trusted-key` given where no store's retention reads it: a usage error naming why. */
export const trustedKeysUnread = (command: string, trustedKeys: ReadonlyArray<string>, why: string): Effect.Effect<void, CliError.ShowHelp> =>
  trustedKeys.length === 0
    ? Effect.void
    : Effect.fail(
        new CliError.ShowHelp({
          commandPath: ["cluster-backup", command],
          errors: [new CliError.InvalidValue({ option: "trusted-key", value: trustedKeys[0]!, expected: why, kind: "flag" })],
        }),
      )
