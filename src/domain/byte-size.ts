/** Sizes given on the command line: `500Mi`, `50Gi`, `2G`, `1048576` (binary and decimal units). */
import { Result, Schema } from "effect"

export class ByteSizeInvalid extends Schema.TaggedError<ByteSizeInvalid>()("ByteSizeInvalid", {
  input: Schema.String,
  message: Schema.String,
}) {}

const factors: Readonly<Record<string, number>> = {
  "": 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
}

export const parseByteSize = (input: string): Result.Result<number, ByteSizeInvalid> => {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(input.trim())
  const bytes = m === null ? Number.NaN : Number(m[1]) * factors[m[2] ?? ""]!
  return Number.isSafeInteger(bytes)
    ? Result.succeed(bytes)
    : Result.fail(new ByteSizeInvalid({ input, message: `"${input}" is not a size: use e.g. 500Mi, 50Gi, 2G or a number of bytes` }))
}

/** Digits alone: a size or an age given without its unit. */
export const isBareNumber = (text: string): boolean => /^\s*\d+\s*$/.test(text)

/**
 * A size past which backups are removed (`--max-total-size`, a policy's `maxTotalSize`), given with its unit: a bare
 * number would be bytes, and `50` meant as GiB removes every backup but the newest.
 */
export const parseSizeWithUnit = (input: string): Result.Result<number, ByteSizeInvalid> =>
  isBareNumber(input)
    ? Result.fail(new ByteSizeInvalid({ input, message: `"${input.trim()}" needs its unit, like 50Gi, 500Mi or 2G (a bare number would be bytes)` }))
    : parseByteSize(input)

/** The size in the largest unit that gives it exactly (`50Gi`, `2G`), as `parseSizeWithUnit` reads it back; bytes bare only where no unit does. */
export const formatExactSize = (bytes: number): string => {
  const exact = Object.entries(factors).filter(([unit, factor]) => unit !== "" && bytes % factor === 0)
  const largest = exact.reduce<[string, number] | undefined>((best, e) => (best === undefined || e[1] > best[1] ? e : best), undefined)
  return largest === undefined ? `${bytes}` : `${bytes / largest[1]}${largest[0]}`
}
