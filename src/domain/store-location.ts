/**
 * A store location as users write it: `s3://bucket[/prefix]` for S3-compatible object storage,
 * anything else a directory (a mounted PersistentVolumeClaim, a host path). The prefix inside
 * the store comes from the location (s3) or `--prefix`, else `cluster-backup/<cluster-id>` from
 * `--cluster-id`; a directory without either uses its root (a volume of one cluster).
 */
import { Result, Schema } from "effect"
import { isBackupTimestamp } from "./archive-names.ts"
import { defaultPrefix, isLayoutSegment, normalizePrefix, parentPrefix } from "./store-layout.ts"

export class StoreLocationInvalid extends Schema.TaggedError<StoreLocationInvalid>()("StoreLocationInvalid", {
  location: Schema.String,
  message: Schema.String,
}) {}

export type StoreLocation =
  | { readonly _tag: "S3"; readonly bucket: string; readonly prefix: string | undefined }
  | { readonly _tag: "Directory"; readonly path: string }

/** S3 bucket names: 3-63 of lower-case letters, digits, `.` and `-`, starting and ending alphanumeric. */
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

export const parseStoreLocation = (raw: string): Result.Result<StoreLocation, StoreLocationInvalid> => {
  const invalid = (problem: string) => Result.fail(new StoreLocationInvalid({ location: raw, message: `store location ${JSON.stringify(raw)}: ${problem}` }))
  if (raw.trim() === "") return invalid("empty: give s3://bucket[/prefix] or a directory")
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !raw.startsWith("s3://")) return invalid("only s3:// URLs and directories are supported")
  // `s3:/bucket` or `s3:bucket` would otherwise be a relative directory named `s3:`.
  if (/^s3:(?!\/\/)/i.test(raw)) return invalid("an s3:// URL needs two slashes after s3: (s3://bucket[/prefix]); a directory named s3: would be ./s3:")
  if (!raw.startsWith("s3://")) return Result.succeed({ _tag: "Directory", path: raw })
  const rest = raw.slice("s3://".length)
  const slash = rest.indexOf("/")
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  if (!bucketPattern.test(bucket) || bucket.includes(".."))
    return invalid(`${JSON.stringify(bucket)} is not a bucket name (3-63 lower-case letters, digits, . and -)`)
  const prefix = slash < 0 ? "" : normalizePrefix(rest.slice(slash + 1))
  if (prefix !== "" && !prefix.split("/").every(isLayoutSegment))
    return invalid(`the prefix ${JSON.stringify(prefix)} may hold only letters, digits and . _ ~ + = @ - between slashes`)
  return Result.succeed({ _tag: "S3", bucket, prefix: prefix === "" ? undefined : prefix })
}

/** The prefix inside the store (see the module doc); an error when an S3 store has none. */
export const storePrefix = (
  location: StoreLocation,
  explicit: string | undefined,
  clusterId: string | undefined,
): Result.Result<string, StoreLocationInvalid> => {
  const given = explicit !== undefined ? normalizePrefix(explicit) : location._tag === "S3" ? location.prefix : undefined
  if (given !== undefined) {
    return given === "" || given.split("/").every(isLayoutSegment)
      ? Result.succeed(given)
      : Result.fail(
          new StoreLocationInvalid({ location: given, message: `prefix ${JSON.stringify(given)}: only letters, digits and . _ ~ + = @ - between slashes` }),
        )
  }
  if (clusterId !== undefined) {
    return isLayoutSegment(clusterId)
      ? Result.succeed(defaultPrefix(clusterId))
      : Result.fail(new StoreLocationInvalid({ location: clusterId, message: `cluster ID ${JSON.stringify(clusterId)} cannot be a path segment` }))
  }
  if (location._tag === "Directory") return Result.succeed("")
  return Result.fail(
    new StoreLocationInvalid({
      location: `s3://${location.bucket}`,
      message: `s3://${location.bucket} has no prefix: give s3://${location.bucket}/<prefix>, --prefix, or --cluster-id (ClusterVersion spec.clusterID) for cluster-backup/<cluster-id>, so clusters sharing the bucket stay apart`,
    }),
  )
}

/**
 * An s3:// URL whose last segment names a backup (its timestamp, or `latest`), as a backup's place in the store reads
 * (`s3://bucket/prefix/2026-01-02_030405`): the arguments that name that backup (`s3://bucket/prefix --backup-id
 * 2026-01-02_030405`; at the bucket's root, with `--prefix ""`); undefined for any other location.
 */
export const backupIdArgumentsFor = (raw: string): string | undefined => {
  const location = Result.getOrUndefined(parseStoreLocation(raw))
  if (location?._tag !== "S3" || location.prefix === undefined) return undefined
  const id = location.prefix.split("/").at(-1)!
  if (id !== "latest" && !isBackupTimestamp(id)) return undefined
  const parent = parentPrefix(location.prefix)
  const store = parent === "" ? `s3://${location.bucket} --prefix ""` : `s3://${location.bucket}/${parent}`
  return `${store} --backup-id ${id}`
}
