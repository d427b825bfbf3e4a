/** The HEAD of one object: its size, time and recorded sha256, and how the store says it encrypted it. */
import { Effect, Result } from "effect"
import { headedObject } from "../../domain/s3-listing-entries.ts"
import { sseHeader, sseKmsKeyHeader } from "../../domain/server-side-encryption.ts"
import type { StoredObject } from "../../domain/store-layout.ts"
import type { S3Client } from "./s3-client.ts"
import { type StoreError, StoreRequestFailed } from "./store-errors.ts"

/** The object metadata that records a file's sha256. */
export const sha256MetadataHeader = "x-amz-meta-sha256"

export interface HeadAnswer {
  readonly object: StoredObject
  readonly encryption: { readonly algorithm: string | undefined; readonly kmsKeyId: string | undefined }
}

export type S3Head = ReturnType<typeof makeS3Head>

export const makeS3Head = ({ store, request }: S3Client) => {
  /** The object under `key` and how the store says it is encrypted; `undefined` when there is none. */
  const headAnswer = (key: string): Effect.Effect<HeadAnswer | undefined, StoreError> =>
    request({ operation: "HEAD", method: "HEAD", key }).pipe(
      Effect.flatMap((r) => {
        const text = (name: string) => (typeof r.headers[name] === "string" ? r.headers[name] : undefined)
        return Result.match(
          headedObject(key, { contentLength: text("content-length"), lastModified: text("last-modified"), sha256: text(sha256MetadataHeader) }),
          {
            onSuccess: (object): Effect.Effect<HeadAnswer | undefined, StoreRequestFailed> =>
              Effect.succeed({ object, encryption: { algorithm: text(sseHeader), kmsKeyId: text(sseKmsKeyHeader) } }),
            onFailure: (problem) =>
              Effect.fail(
                new StoreRequestFailed({
                  store,
                  operation: "HEAD",
                  key,
                  status: r.status,
                  code: "MalformedAnswer",
                  retryable: false,
                  message: `${store} answered HEAD ${key} with headers S3 would not send (${problem}): is the endpoint an S3 API, or does a proxy in between drop headers?`,
                }),
              ),
          },
        )
      }),
      Effect.catchTag("StoreObjectMissing", () => Effect.succeed(undefined)),
    )

  const head = (key: string): Effect.Effect<StoredObject | undefined, StoreError> => Effect.map(headAnswer(key), (a) => a?.object)

  return { headAnswer, head }
}
