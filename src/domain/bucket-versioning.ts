/**
 * Whether deleting an object frees its bytes: in a bucket with versioning enabled, S3's DeleteObject
 * only adds a delete marker, and the data stays as a noncurrent version (stored and billed) until a
 * lifecycle rule expires it; in one where versioning was suspended, the versions made while it was
 * enabled stay. Read from GetBucketVersioning's answer, so that prune says what its deletes free.
 */
import { Result } from "effect"
import { xmlField } from "./xml-fields.ts"

/** `Unversioned`: versioning was never enabled (the answer has no Status). */
export type BucketVersioning = "Enabled" | "Suspended" | "Unversioned"

/** What a store says of its deletes: a bucket's versioning, or why it could not be read (then nothing is said of it). */
export type StoreVersioning = { readonly _tag: "Known"; readonly status: BucketVersioning } | { readonly _tag: "Unknown"; readonly why: string }

/** GetBucketVersioning's answer read: its Status, or why it is not one S3 sends. */
export const bucketVersioningOf = (xml: string): Result.Result<BucketVersioning, string> => {
  if (!/<VersioningConfiguration[\s/>]/.test(xml)) return Result.fail("the answer is not a VersioningConfiguration")
  const status = xmlField(xml, "Status")
  if (status === undefined) return Result.succeed("Unversioned")
  return status === "Enabled" || status === "Suspended" ? Result.succeed(status) : Result.fail(`unknown versioning status ${JSON.stringify(status)}`)
}

/** What a store's deletes leave behind: whether they free the bytes they remove, and what stays. */
export interface DeletedBytesCaveat {
  readonly freed: boolean
  readonly why: string
}

/**
 * What a prune says of the bytes its deletes removed, by the store's versioning: `undefined` where
 * they are freed (or nothing can be said).
 */
export const deletedBytesCaveat = (versioning: StoreVersioning): DeletedBytesCaveat | undefined => {
  if (versioning._tag === "Unknown") return undefined
  switch (versioning.status) {
    case "Enabled":
      return {
        freed: false,
        why: "the bucket keeps versions: deleted objects stay as noncurrent versions, stored and billed, until a lifecycle rule (NoncurrentVersionExpiration) expires them",
      }
    case "Suspended":
      return {
        freed: true,
        why: "the bucket's versioning is suspended: objects written while it was enabled stay as noncurrent versions until a lifecycle rule (NoncurrentVersionExpiration) expires them",
      }
    case "Unversioned":
      return undefined
  }
}
