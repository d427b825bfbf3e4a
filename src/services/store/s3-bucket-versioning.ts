/** GetBucketVersioning: whether the bucket keeps what a DELETE removes (see domain/bucket-versioning.ts). */
import { Effect, Result } from "effect"
import { bucketVersioningOf, type StoreVersioning } from "../../domain/bucket-versioning.ts"
import type { S3Client } from "./s3-client.ts"

/**
 * The bucket's versioning, read once per call; never fails: a store that does not answer it (a
 * user without s3:GetBucketVersioning, an S3 API without versioning) gives `Unknown` with why.
 */
export const s3BucketVersioning = ({ request }: S3Client): Effect.Effect<StoreVersioning> =>
  request({ operation: "GetBucketVersioning", method: "GET", key: "", query: { versioning: "" } }).pipe(
    Effect.map(
      (r): StoreVersioning =>
        Result.match(bucketVersioningOf(r.body.toString("utf8")), {
          onSuccess: (status) => ({ _tag: "Known", status }),
          onFailure: (why) => ({ _tag: "Unknown", why }),
        }),
    ),
    Effect.catch((e) => Effect.succeed<StoreVersioning>({ _tag: "Unknown", why: e.message })),
  )
