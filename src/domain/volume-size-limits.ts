/**
 * The size limits of the emptyDir volumes a container writes to. statfs inside a pod reports the node's
 * disk, not an emptyDir's `sizeLimit`, and the kubelet evicts the pod once the volume holds more than
 * that limit: a room check against statfs alone would pass and the pod would then be killed part-way.
 * The pod spec hands each container the limits of its writable emptyDir mounts in one env variable;
 * free space there is the smaller of the file system's and the limit less what the volume holds.
 */
import { Result, Schema } from "effect"
import { formatBytes } from "./byte-format.ts"
import { isWithin } from "./path-inside.ts"

/** The env variable the backup pod's containers get their volumes' size limits in (JSON: mount path -> bytes). */
export const volumeSizeLimitsEnv = "CLUSTER_BACKUP_VOLUME_SIZE_LIMITS"

const Bytes = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER))
const VolumeSizeLimitsJson = Schema.fromJsonString(Schema.Record(Schema.String, Bytes))
const isAbsolutePath = (path: string) => /^\/(?:[^/\0]+\/?)*$/.test(path)

/** Mount path (absolute, no trailing slash) -> the volume's size limit in bytes. */
export type VolumeSizeLimits = Readonly<Record<string, number>>

export class VolumeSizeLimitsInvalid extends Schema.TaggedError<VolumeSizeLimitsInvalid>()("VolumeSizeLimitsInvalid", {
  message: Schema.String,
}) {}

const withoutTrailingSlash = (path: string): string => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path)

const invalid = (problem: string) =>
  Result.fail(
    new VolumeSizeLimitsInvalid({
      message: `${volumeSizeLimitsEnv} is not a JSON object of absolute mount paths to byte counts (${problem}): the operator renders it; unset it or render the pod again`,
    }),
  )

/** The env variable's value; absent or empty: no limits. */
export const decodeVolumeSizeLimits = (text: string | undefined): Result.Result<VolumeSizeLimits, VolumeSizeLimitsInvalid> => {
  if (text === undefined || text.trim() === "") return Result.succeed({})
  const decoded = Schema.decodeUnknownResult(VolumeSizeLimitsJson)(text)
  if (Result.isFailure(decoded)) return invalid(String(decoded.failure))
  const relative = Object.keys(decoded.success).find((path) => !isAbsolutePath(path))
  if (relative !== undefined) return invalid(`${JSON.stringify(relative)} is not an absolute path`)
  return Result.succeed(Object.fromEntries(Object.entries(decoded.success).map(([path, bytes]) => [withoutTrailingSlash(path), bytes])))
}

/** The env variable's value for `limits`, keys sorted so a rendered pod's bytes do not depend on their order. */
export const encodeVolumeSizeLimits = (limits: VolumeSizeLimits): string =>
  JSON.stringify(Object.fromEntries(Object.entries(limits).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))

export interface LimitingVolume {
  readonly mountPath: string
  readonly limitBytes: number
}

/** The volume `path` (absolute, normalised) lies in: the deepest mount path that is it or a directory above it. */
export const limitingVolume = (path: string, limits: VolumeSizeLimits): LimitingVolume | undefined => {
  const target = withoutTrailingSlash(path)
  let found: LimitingVolume | undefined
  for (const [mountPath, limitBytes] of Object.entries(limits)) {
    if (isWithin(mountPath, target) && (found === undefined || mountPath.length > found.mountPath.length)) found = { mountPath, limitBytes }
  }
  return found
}

/** Free bytes in a volume of `limitBytes` that holds `usedBytes`, on a file system with `fileSystemFree` free. */
export const freeUnderLimit = (fileSystemFree: number, limitBytes: number, usedBytes: number): number =>
  Math.max(0, Math.min(fileSystemFree, limitBytes - usedBytes))

/** What a refusal says about the free space it saw under a volume's limit. */
export const describeVolumeLimit = (volume: LimitingVolume & { readonly usedBytes: number }): string =>
  `the pod's size limit of ${volume.mountPath} is ${formatBytes(volume.limitBytes)} and ${formatBytes(volume.usedBytes)} of it is in use (the kubelet evicts the pod past it): give the operator (or render) a larger --backup-volume-size`
