import { Result } from "effect"
import { Flag } from "effect/cli"
import { parseBandwidthLimit } from "../domain/bandwidth-limit.ts"
import { checkedWith } from "./flag-checks.ts"

/** A bandwidth limit's flag (`--bandwidth-limit`, the operator's `--upload-bandwidth-limit`): the rate as given, checked. */
export const bandwidthLimitFlag = (name: string, description: string) =>
  Flag.String(name).pipe(
    checkedWith((text) => {
      const rate = parseBandwidthLimit(text)
      return Result.isFailure(rate) ? rate.failure.message : undefined
    }),
    Flag.map((text) => text.trim()),
    Flag.optional,
    Flag.withMetavar("RATE"),
    Flag.withDescription(description),
  )
