import { Result } from "effect"

/** The failure of `r`; throws (failing the test) with what it holds when `r` succeeded. */
export const failure = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)?.slice(0, 300)}`)
  return r.failure
}
