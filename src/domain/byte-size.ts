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
