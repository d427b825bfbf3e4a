/**
 * The entries of S3's listings (ListObjectsV2's `<Contents>`, ListMultipartUploads' `<Upload>`) read into
 * what the store reports. Each field a decision rests on must be there and mean what S3 says: a time
 * that does not parse, read as the epoch, would make another uploader's object or upload look older
 * than any grace period, and prune would remove it; a size that does not parse would escape every
 * size budget. Such an entry is not S3's, and the listing is refused instead.
 */
import { Result } from "effect"
import type { PendingUpload, StoredObject } from "./store-layout.ts"
import { xmlField } from "./xml-fields.ts"

/** What is wrong with an entry, in words for a message: the field and what it held. */
export type EntryProblem = string

const requiredField = (xml: string, tag: string): Result.Result<string, EntryProblem> => {
  const value = xmlField(xml, tag)
  return value === undefined || value === "" ? Result.fail(`no ${tag}`) : Result.succeed(value)
}

const timeField = (xml: string, tag: string): Result.Result<number, EntryProblem> =>
  Result.flatMap(requiredField(xml, tag), (text) => {
    const at = Date.parse(text)
    return Number.isFinite(at) ? Result.succeed(at) : Result.fail(`${tag} ${JSON.stringify(text)} is not a time`)
  })

const sizeField = (xml: string, tag: string): Result.Result<number, EntryProblem> =>
  Result.flatMap(requiredField(xml, tag), (text) =>
    /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) ? Result.succeed(Number(text)) : Result.fail(`${tag} ${JSON.stringify(text)} is not a size`),
  )

/** A `<Contents>` entry of ListObjectsV2 (its inner XML). */
export const listedObject = (xml: string): Result.Result<StoredObject, EntryProblem> =>
  Result.all({ key: requiredField(xml, "Key"), size: sizeField(xml, "Size"), modifiedAt: timeField(xml, "LastModified") })

/** An `<Upload>` entry of ListMultipartUploads (its inner XML). */
export const listedUpload = (xml: string): Result.Result<PendingUpload, EntryProblem> =>
  Result.all({ key: requiredField(xml, "Key"), uploadId: requiredField(xml, "UploadId"), initiatedAt: timeField(xml, "Initiated") })
