/** Multipart uploads left in the store: listed, dated by their newest part, and aborted. */
import { Effect } from "effect"
import { listedPartTime, listedUpload } from "../../domain/s3-listing-entries.ts"
import type { PendingUpload } from "../../domain/store-layout.ts"
import { xmlBlocks, xmlField } from "../../domain/xml-fields.ts"
import { multipartAbandonedAfterMs } from "./backup-store.ts"
import type { S3Client } from "./s3-client.ts"
import { s3Request } from "./s3-http.ts"
import type { S3Listing } from "./s3-listing.ts"
import type { StoreError } from "./store-errors.ts"

/**
 * AbortMultipartUpload, retried: a repeat that finds no upload (NoSuchUpload) after an attempt whose
 * answer was lost (a reset, a timeout) finds it aborted by that attempt, so it is done. A first
 * attempt's NoSuchUpload fails: the upload was gone before this abort (`abortUpload` takes that as done).
 */
export const abortMultipart = ({ endpoint, retrying }: S3Client, key: string, uploadId: string) =>
  Effect.suspend(() => {
    let attempts = 0
    return retrying(
      Effect.suspend(() => {
        attempts++
        return s3Request(endpoint, { operation: "AbortMultipartUpload", method: "DELETE", key, query: { uploadId } })
      }),
    ).pipe(
      Effect.asVoid,
      Effect.catchIf(
        (e) => attempts > 1 && e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload",
        () => Effect.void,
      ),
    )
  })

export const makeS3PendingUploads = (client: S3Client, { listing, listedEntries, paginationBroken }: S3Listing) => {
  const { request } = client

  const pendingUploads = (prefix: string): Effect.Effect<ReadonlyArray<PendingUpload>, StoreError> =>
    Effect.gen(function* () {
      const all: Array<PendingUpload> = []
      let markers: Record<string, string> = {}
      for (;;) {
        const r = yield* request({ operation: "ListMultipartUploads", method: "GET", key: "", query: { uploads: "", prefix, ...markers } })
        const xml = yield* listing("ListMultipartUploads", "ListMultipartUploadsResult", r.status, r.body)
        const listed = yield* listedEntries("ListMultipartUploads", r.status, xmlBlocks(xml, "Upload"), listedUpload)
        all.push(...listed.map((u) => ({ ...u, abandonedAfterMs: multipartAbandonedAfterMs })))
        if (xmlField(xml, "IsTruncated") !== "true") return all
        const next = { "key-marker": xmlField(xml, "NextKeyMarker") ?? "", "upload-id-marker": xmlField(xml, "NextUploadIdMarker") ?? "" }
        if (next["key-marker"] === "" || (next["key-marker"] === markers["key-marker"] && next["upload-id-marker"] === markers["upload-id-marker"]))
          return yield* paginationBroken("ListMultipartUploads", r.status, "no next marker past the last one")
        markers = next
      }
    })

  const abortUpload = (u: PendingUpload) =>
    abortMultipart(client, u.key, u.uploadId).pipe(
      Effect.catchTag("StoreObjectMissing", () => Effect.void),
      Effect.catchIf(
        (e) => e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload",
        () => Effect.void,
      ),
      Effect.as(true),
    )

  const uploadActiveAt = (u: PendingUpload): Effect.Effect<number | undefined, StoreError> =>
    Effect.gen(function* () {
      let newest = u.initiatedAt
      let marker: string | undefined
      for (;;) {
        const r = yield* request({
          operation: "ListParts",
          method: "GET",
          key: u.key,
          query: { uploadId: u.uploadId, ...(marker === undefined ? {} : { "part-number-marker": marker }) },
        })
        const xml = yield* listing("ListParts", "ListPartsResult", r.status, r.body)
        for (const at of yield* listedEntries("ListParts", r.status, xmlBlocks(xml, "Part"), listedPartTime)) newest = Math.max(newest, at)
        if (xmlField(xml, "IsTruncated") !== "true") return newest
        const next = xmlField(xml, "NextPartNumberMarker") ?? ""
        if (next === "" || next === marker) return yield* paginationBroken("ListParts", r.status, "no next part number marker past the last one")
        marker = next
      }
    }).pipe(
      // Completed or aborted since it was listed: no longer pending.
      Effect.catchIf(
        (e) => e._tag === "StoreObjectMissing" || (e._tag === "StoreRequestFailed" && e.code === "NoSuchUpload"),
        () => Effect.succeed(undefined),
      ),
    )

  return { pendingUploads, abortUpload, uploadActiveAt }
}
