/**
 * The entries of S3's listings (ListObjectsV2's `<Contents>`, ListMultipartUploads' `<Upload>`, ListParts' `<Part>`) and its HEAD
 * answers read into what the store reports. Each field a decision rests on must be there and mean what S3 says: a time
 * that does not parse, read as the epoch, would make another uploader's object or upload look older
 * than any grace period, and prune would remove it; a size that does not parse would escape every
 * size budget. Such an entry is not S3's, and the listing is refused instead.
 */
import { Result } from "effect"
import type { PendingUpload, StoredObject } from "./store-layout.ts"
import { xmlField } from "./xml-fields.ts"

/** What is wrong with an entry, in words for a message: the field and what it held. */
export type EntryProblem = string

const required = (tag: string, value: string | undefined): Result.Result<string, EntryProblem> =>
  value === undefined || value === "" ? Result.fail(`no ${tag}`) : Result.succeed(value)

const timeOf = (tag: string, value: string | undefined): Result.Result<number, EntryProblem> =>
  Result.flatMap(required(tag, value), (text) => {
    const at = Date.parse(text)
    return Number.isFinite(at) ? Result.succeed(at) : Result.fail(`${tag} ${JSON.stringify(text)} is not a time`)
  })

const sizeOf = (tag: string, value: string | undefined): Result.Result<number, EntryProblem> =>
  Result.flatMap(required(tag, value), (text) =>
    /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) ? Result.succeed(Number(text)) : Result.fail(`${tag} ${JSON.stringify(text)} is not a size`),
  )

const requiredField = (xml: string, tag: string) => required(tag, xmlField(xml, tag))
const timeField = (xml: string, tag: string) => timeOf(tag, xmlField(xml, tag))
const sizeField = (xml: string, tag: string) => sizeOf(tag, xmlField(xml, tag))

/** A `<Contents>` entry of ListObjectsV2 (its inner XML). */
export const listedObject = (xml: string): Result.Result<StoredObject, EntryProblem> =>
  Result.all({ key: requiredField(xml, "Key"), size: sizeField(xml, "Size"), modifiedAt: timeField(xml, "LastModified") })

/** An `<Upload>` entry of ListMultipartUploads (its inner XML). */
export const listedUpload = (xml: string): Result.Result<PendingUpload, EntryProblem> =>
  Result.all({ key: requiredField(xml, "Key"), uploadId: requiredField(xml, "UploadId"), initiatedAt: timeField(xml, "Initiated") })

/** A `<Part>` entry of ListParts (its inner XML): when the part was stored. */
export const listedPartTime = (xml: string): Result.Result<number, EntryProblem> => timeField(xml, "LastModified")

/**
 * A HEAD answer's headers read as the object they describe. prune's re-check of a backup before removing it rests on
 * the size: a Content-Length missing (a proxy that drops it) is refused, not read as -1. No decision rests on a HEAD's
 * time (grace periods are judged from listings), so a Last-Modified missing or unreadable is the epoch here.
 */
export const headedObject = (
  key: string,
  headers: { readonly contentLength: string | undefined; readonly lastModified: string | undefined; readonly sha256: string | undefined },
): Result.Result<StoredObject, EntryProblem> =>
  Result.map(sizeOf("Content-Length", headers.contentLength), (size) => ({
    key,
    size,
    modifiedAt: Result.getOrElse(timeOf("Last-Modified", headers.lastModified), () => 0),
    sha256: headers.sha256,
  }))
