/**
 * A store's bandwidth limit (`--bandwidth-limit`): the rate its bytes are sent (or, when asked, received) at, so that a
 * backup leaving a control-plane node does not take the link etcd's peers and the API server share. Sends are paced as a generic cell
 * rate (GCRA, a token bucket's equivalent): each send is due `bytes / rate` after the one before, and may start as
 * much as `burstBytes` early; so over any stretch of sends, what starts is at most the rate times its length plus one
 * burst (or one send, when larger).
 */
import { Result } from "effect"
import { formatBytes } from "./byte-format.ts"
import { ByteSizeInvalid, parseSizeWithUnit } from "./byte-size.ts"
import { formatDuration } from "./durations.ts"

/** The lowest limit taken: below it, a backup of a few GiB would take days. */
export const minBandwidthBytesPerSecond = 64 * 1024

/** `50Mi` or `50Mi/s` (bytes a second, with the unit: a bare 50 would be 50 bytes a second), at least `minBandwidthBytesPerSecond`. */
export const parseBandwidthLimit = (input: string): Result.Result<number, ByteSizeInvalid> => {
  const text = input.trim().replace(/\/s$/, "")
  const bytes = parseSizeWithUnit(text)
  if (Result.isFailure(bytes))
    return Result.fail(new ByteSizeInvalid({ input, message: `"${input.trim()}" is not a rate: give bytes a second with the unit, like 50Mi or 20M/s` }))
  return bytes.success >= minBandwidthBytesPerSecond
    ? bytes
    : Result.fail(new ByteSizeInvalid({ input, message: `"${input.trim()}" is below the lowest limit, 64Ki a second` }))
}

/** The least time `bytes` take at `bytesPerSecond` (ms, whole). */
export const leastSendMs = (bytes: number, bytesPerSecond: number): number => Math.ceil((bytes * 1000) / bytesPerSecond)

/**
 * The longest a paced multipart upload may take to send the parts it has in flight (they share the limit, so they end
 * together): prune takes an upload with no part stored for 90 minutes (`multipartAbandonedAfterMs`) for a dead writer's,
 * and a part may be sent again on each of the default 5 retries.
 */
export const longestPacedPartsMs = 10 * 60_000

/**
 * Why `partsInFlight` parts of `partSize` bytes at `bytesPerSecond` are too slow for object storage, if they are, naming
 * the flags (`--part-size` and `--parts-in-flight`, or the operator's).
 */
export const pacedPartsProblem = (
  partSize: number,
  partsInFlight: number,
  bytesPerSecond: number,
  flags: { readonly partSize: string; readonly partsInFlight: string },
): string | undefined => {
  const ms = leastSendMs(partSize * partsInFlight, bytesPerSecond)
  if (ms <= longestPacedPartsMs) return undefined
  return `at ${formatBytes(bytesPerSecond)}/s, ${partsInFlight} part${partsInFlight === 1 ? "" : "s"} of ${formatBytes(partSize)} in flight take ${formatDuration(ms)} to send, over ${formatDuration(longestPacedPartsMs)}: prune takes a multipart upload with no part stored for 90 minutes for a dead one, and a part may be sent again on a retry; raise the limit, or send fewer or smaller parts (${flags.partsInFlight}, ${flags.partSize})`
}

/**
 * The bytes of each paced write: a sixteenth of a second's worth, from 4 KiB to 256 KiB. Parts in flight take turns, so
 * a part waits for the others' writes between two of its own; at most 64 of them, that gap stays within 4 s, well below
 * an idle connection's limits (S3's RequestTimeout after about 20 s with nothing sent, `--s3-request-timeout`).
 */
export const pacedChunkBytes = (bytesPerSecond: number): number => Math.min(256 * 1024, Math.max(4 * 1024, Math.floor(bytesPerSecond / 16)))

/** How much may go at once after a pause: a tenth of a second's worth, and at least one write. */
export const pacedBurstBytes = (bytesPerSecond: number): number => Math.max(pacedChunkBytes(bytesPerSecond), Math.floor(bytesPerSecond / 10))

export interface SendPace {
  readonly bytesPerSecond: number
  /** How much may go at once after a pause. */
  readonly burstBytes: number
}

/**
 * A send of `bytes` asked for at `now` (ms), the pacer's due time so far `due`: how long it waits before it starts, and
 * the due time after it. A waiting send's bytes count at once, so sends asked for meanwhile queue behind it.
 */
export const paceSend = (due: number, now: number, bytes: number, pace: SendPace): { readonly waitMs: number; readonly due: number } => {
  const next = Math.max(due, now) + (bytes * 1000) / pace.bytesPerSecond
  const earliest = next - (pace.burstBytes * 1000) / pace.bytesPerSecond
  return { waitMs: Math.max(0, earliest - now), due: next }
}
