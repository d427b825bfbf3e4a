/**
 * The S3 Layer of BackupStore: AWS S3, ODF (Ceph RGW, NooBaa), MinIO, Swift's s3api. Uploads are
 * in s3-upload.ts, downloads in s3-download.ts, listings in s3-listing.ts and the multipart uploads
 * left in the store in s3-multipart-uploads.ts, all on one S3Client (s3-client.ts).
 */
import { Effect, Layer } from "effect"
import { BackupStore, type BackupStoreShape, noFolders } from "./backup-store.ts"
import { defaultTransferOptions, makeS3Client, type S3TransferOptions } from "./s3-client.ts"
import { makeS3Downloads } from "./s3-download.ts"
import type { S3Endpoint } from "./s3-http.ts"
import { s3BucketVersioning } from "./s3-bucket-versioning.ts"
import { makeS3Listing } from "./s3-listing.ts"
import { makeS3PendingUploads } from "./s3-multipart-uploads.ts"
import { makeS3Head } from "./s3-object-head.ts"
import { makeS3Uploads } from "./s3-upload.ts"

export const makeS3Store = (endpoint: S3Endpoint, options: S3TransferOptions = defaultTransferOptions): BackupStoreShape => {
  const client = makeS3Client(endpoint, options)
  const heads = makeS3Head(client)
  const listing = makeS3Listing(client)

  const remove = (key: string) =>
    client.request({ operation: "DELETE", method: "DELETE", key }).pipe(
      Effect.asVoid,
      Effect.catchTag("StoreObjectMissing", () => Effect.void),
    )

  // Object storage reports no free space (a bucket's quota is not part of S3's API).
  const freeBytes = Effect.succeed(undefined)

  return {
    location: client.store,
    url: `s3://${client.endpoint.bucket}`,
    ...makeS3Uploads(client, heads),
    freeBytes,
    ...makeS3Downloads(client, heads),
    head: heads.head,
    listPage: listing.listPage,
    remove,
    ...makeS3PendingUploads(client, listing),
    ...noFolders,
    versioning: s3BucketVersioning(client),
  }
}

/** The S3 Layer. */
export const s3StoreLayer = (endpoint: S3Endpoint, options: S3TransferOptions = defaultTransferOptions): Layer.Layer<BackupStore> =>
  Layer.succeed(BackupStore, BackupStore.of(makeS3Store(endpoint, options)))
