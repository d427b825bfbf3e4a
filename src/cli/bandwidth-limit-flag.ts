import { Option, Result } from "effect"
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

/** The download's (`download`, `verify`/`restore --backup-id`): unpaced unless asked, as a restore wants the backup fast. */
export const downloadBandwidthLimitFlag = bandwidthLimitFlag(
  "bandwidth-limit",
  "With a store: receive at most this many bytes a second, every range together (e.g. 50Mi or 20M/s; at least 64Ki), to leave room on a busy node's link; default: no limit",
)

/** A limit given, as the store's transfer option. */
export const bandwidthOf = (limit: Option.Option<string>): { readonly bandwidthBytesPerSecond?: number } =>
  Option.isNone(limit) ? {} : { bandwidthBytesPerSecond: Result.getOrThrow(parseBandwidthLimit(limit.value)) }
