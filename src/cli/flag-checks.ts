/**
 * What a flag's (or an argument's) value must be, checked while the command line is parsed: a
 * value no run could use is a usage error (exit 2) naming the flag, the value and what the flag
 * accepts, before anything runs. One check per kind of value, parameterised, so every flag of a
 * kind says the same. Apply a check before `Flag.optional`/`Flag.withDefault`:
 *
 *   Flag.Int("keep-last").pipe(intInRange({ min: 0, max: 1_000_000 }), Flag.optional)
 *   Argument.String("dir").pipe(nonEmpty("directory"))
 */
import { Param } from "effect/cli"
import { Result } from "effect"
import { isBareNumber } from "../domain/byte-size.ts"
import { formatDuration, parseDuration } from "../domain/durations.ts"
import { parseRevisionsFlag } from "../domain/revisions.ts"
import { isLayoutSegment } from "../domain/store-layout.ts"

/** A check of a flag's or an argument's parsed value; `expected` says what it accepts. */
const check =
  <A>(accepts: (value: A) => boolean, expected: (value: A) => string) =>
  <Kind extends Param.ParamKind>(self: Param.Param<Kind, A>): Param.Param<Kind, A> =>
    Param.filter(self, accepts, expected)

/** The whole numbers a flag accepts; `meaning` says what a special value does ("0: any free port"). */
export interface IntRange {
  readonly min: number
  readonly max: number
  readonly meaning?: string
}

/** A whole number from `min` to `max`. */
export const intInRange = ({ min, max, meaning }: IntRange) =>
  check<number>(
    (n) => Number.isSafeInteger(n) && n >= min && n <= max,
    () => `a whole number from ${min} to ${max}${meaning === undefined ? "" : ` (${meaning})`}`,
  )

/** A TCP port: 1 to 65535, or 0 where `anyPort` says the system picks a free one. */
export const port = (options: { readonly anyPort: boolean }) =>
  intInRange(options.anyPort ? { min: 0, max: 65_535, meaning: "0: any free port" } : { min: 1, max: 65_535 })

/**
 * A duration text (like 30s, 5m, 1h) of at least `minMs` (and at most `maxMs` when given), checked on the text as given,
 * before it is decoded to milliseconds, so that the error quotes what was typed (`"500ms"`, not `"500"`). Text that is
 * no duration is left to the decoding, which says so.
 */
export const durationInRange = (minMs: number, maxMs?: number) =>
  check<string>(
    (text) => Result.match(parseDuration(text), { onFailure: () => true, onSuccess: (ms) => ms >= minMs && (maxMs === undefined || ms <= maxMs) }),
    () =>
      maxMs === undefined
        ? `a duration of at least ${formatDuration(minMs)}, like 30s, 5m or 1h`
        : `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, like 30s or 2m`,
  )

/**
 * A duration whose misreading loses something, given with its unit: a bare number would be seconds (durations' rule),
 * so `--older-than 7` or `--max-age 30` meant as days would remove what should stay, and `--hold-duration 1` meant as
 * an hour would end the only way to the backup at once. `0` (now) may go without one where `zero` allows it.
 */
export const withUnit = (what: "an age" | "a duration", examples: readonly [string, ...Array<string>], zero: "zero allowed" | "no zero") => {
  const all = zero === "zero allowed" ? [...examples, "0"] : examples
  const like = `${all.slice(0, -1).join(", ")} or ${all.at(-1)}`
  return checkedWith((text) =>
    isBareNumber(text) && !(zero === "zero allowed" && Number(text) === 0) ? `${what} with its unit, like ${like} (a bare number would be seconds)` : undefined,
  )
}

/** A text that is not empty (or only blanks): a path, a name. */
export const nonEmpty = (what: string) =>
  check<string>(
    (text) => text.trim() !== "",
    () => `a non-empty ${what}`,
  )

/** A text `problem` accepts (undefined) or explains (what the flag accepts instead). */
export const checkedWith = (problem: (text: string) => string | undefined) =>
  check<string>(
    (text) => problem(text) === undefined,
    (text) => problem(text) ?? "",
  )

/**
 * A backup's id in a store: one segment of its layout (`<prefix>/<id>/<file>`), never `..`, a `/`
 * or empty, which would name another place in the store and, as a download directory's name, on the host.
 */
export const backupIdCheck = (whereAPathBelongs: string) =>
  check<string>(
    isLayoutSegment,
    (value) => `a backup id (see list): letters, digits and . _ ~ + = @ -, not . or ..${value.includes("/") ? `; not a path: ${whereAPathBelongs}` : ""}`,
  )

/** `--revisions`: exactly one revision per operand (`parseRevisionsFlag`), or what is wrong with it. */
export const revisionsCheck = checkedWith((text) => {
  const parsed = parseRevisionsFlag(text)
  return Result.isSuccess(parsed) ? undefined : parsed.failure.message.replace(/^--revisions: /, "")
})
