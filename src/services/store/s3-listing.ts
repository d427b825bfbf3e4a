/** S3 listings (ListObjectsV2, ListMultipartUploads, ListParts) read strictly: an answer that is not S3's, or a page that cannot be continued, refuses the whole listing. */
import { Effect, Result } from "effect"
import { listedObject } from "../../domain/s3-listing-entries.ts"
import { xmlBlocks, xmlField } from "../../domain/xml-fields.ts"
import type { ObjectPage } from "./backup-store.ts"
import type { S3Client } from "./s3-client.ts"
import { type StoreError, StoreRequestFailed } from "./store-errors.ts"

export type S3Listing = ReturnType<typeof makeS3Listing>

export const makeS3Listing = ({ options, store, request }: S3Client) => {
  /**
   * The body of a listing, when it is the listing asked for: an endpoint that is not S3 (a web page,
   * a proxy's login form) answers 200 too, and read as a listing it would be an empty store (list
   * showing nothing, prune finding nothing to keep).
   */
  const listing = (operation: string, root: string, status: number, body: Buffer): Effect.Effect<string, StoreRequestFailed> => {
    const xml = body.toString("utf8")
    return new RegExp(`<${root}[\\s>]`).test(xml)
      ? Effect.succeed(xml)
      : Effect.fail(
          new StoreRequestFailed({
            store,
            operation,
            key: "",
            status,
            code: "NotAListing",
            retryable: false,
            message: `${store} answered ${operation} (HTTP ${status}) with something that is not an S3 ${root} (it begins ${JSON.stringify(xml.slice(0, 60))}): is the endpoint an S3 API, and the bucket's address right?`,
          }),
        )
  }

  /**
   * A listing that says it continues but gives nothing to continue from (a server answering another
   * version of the call): ending there would show a store cut short as whole, to list and to prune.
   */
  const paginationBroken = (operation: string, status: number, what: string) =>
    new StoreRequestFailed({
      store,
      operation,
      key: "",
      status,
      code: "BrokenPagination",
      retryable: false,
      message: `${store} answered ${operation} with a truncated page and ${what}: the rest of the listing cannot be asked for; is the endpoint an S3 API supporting ${operation}?`,
    })

  /** A listing's entries, read by `read`; one that is not S3's refuses the whole listing (domain/s3-listing-entries.ts). */
  const listedEntries = <A>(
    operation: string,
    status: number,
    blocks: ReadonlyArray<string>,
    read: (block: string) => Result.Result<A, string>,
  ): Effect.Effect<Array<A>, StoreRequestFailed> =>
    Effect.forEach(blocks, (block) =>
      Result.match(read(block), {
        onSuccess: (entry) => Effect.succeed(entry),
        onFailure: (problem) =>
          Effect.fail(
            new StoreRequestFailed({
              store,
              operation,
              key: "",
              status,
              code: "MalformedListing",
              retryable: false,
              message: `${store} answered ${operation} with an entry S3 would not write (${problem}, in ${JSON.stringify(block.slice(0, 200))}): is the endpoint an S3 API?`,
            }),
          ),
      }),
    )

  const listPage = (prefix: string, next?: string): Effect.Effect<ObjectPage, StoreError> =>
    request({
      operation: "ListObjectsV2",
      method: "GET",
      key: "",
      query: {
        "list-type": "2",
        prefix,
        ...(options.listPageSize === undefined ? {} : { "max-keys": String(options.listPageSize) }),
        ...(next === undefined ? {} : { "continuation-token": next }),
      },
    }).pipe(
      Effect.flatMap((r) =>
        listing("ListObjectsV2", "ListBucketResult", r.status, r.body).pipe(
          Effect.filterOrFail(
            (xml) => xmlField(xml, "IsTruncated") !== "true" || (xmlField(xml, "NextContinuationToken") ?? "") !== "",
            () => paginationBroken("ListObjectsV2", r.status, "no continuation token"),
          ),
          Effect.map((xml) => ({ status: r.status, xml })),
        ),
      ),
      Effect.flatMap(({ status, xml }) =>
        Effect.map(listedEntries("ListObjectsV2", status, xmlBlocks(xml, "Contents"), listedObject), (objects) => {
          const truncated = xmlField(xml, "IsTruncated") === "true"
          return { objects, next: truncated ? xmlField(xml, "NextContinuationToken") : undefined }
        }),
      ),
    )

  return { listing, paginationBroken, listedEntries, listPage }
}
