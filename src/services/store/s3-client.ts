/** What every S3 operation on one store shares: the endpoint, the transfer options, the store's name in messages, and requests retried when the failure is transient. */
import type { Effect } from "effect"
import { describeEndpoint, type S3Endpoint, type S3Request, type S3Response, s3Request } from "./s3-http.ts"
import type { StoreError } from "./store-errors.ts"
import { type RetryOptions, retryTransient } from "./store-retry.ts"

export interface S3TransferOptions extends RetryOptions {
  /** Bytes per part (S3: at least 5 MiB except the last, at most 10000 parts). */
  readonly partSize: number
  readonly partsInFlight: number
  /**
   * Bytes per ranged GET of a download, at least `partSize` (default 64 MiB): each request costs
   * the server a signature check and a manifest read (Swift: 4.2 CPU-s per 512 MiB in 16 MiB ranges,
   * 3.8 in 64 MiB ones, as rclone's), while the hash trails the writes by at most this times the
   * ranges in flight.
   */
  readonly downloadRangeBytes?: number | undefined
  /** At most this many bytes a second sent by uploads or received by downloads, every part together (`--bandwidth-limit`); unlimited when absent. */
  readonly bandwidthBytesPerSecond?: number | undefined
  /** Keys per listing page (S3's maximum and default: 1000). */
  readonly listPageSize?: number | undefined
  /** Called after each part of a multipart upload is stored, and each range of a ranged download is written: bytes of `key` done so far. */
  readonly onProgress?: ((key: string, storedBytes: number, totalBytes: number) => void) | undefined
}

export const defaultTransferOptions: S3TransferOptions = { partSize: 16 * 1024 * 1024, partsInFlight: 4, retries: 5, retryBaseMs: 250 }

export interface S3Client {
  readonly endpoint: S3Endpoint
  readonly options: S3TransferOptions
  /** The store as messages name it: `s3://bucket at origin`. */
  readonly store: string
  readonly retrying: <A, R>(effect: Effect.Effect<A, StoreError, R>) => Effect.Effect<A, StoreError, R>
  /** One request, retried when its failure is transient. */
  readonly request: (req: S3Request) => Effect.Effect<S3Response, StoreError>
}

export const makeS3Client = (endpoint: S3Endpoint, options: S3TransferOptions): S3Client => {
  const retrying = retryTransient(options)
  return { endpoint, options, store: describeEndpoint(endpoint), retrying, request: (req) => retrying(s3Request(endpoint, req)) }
}
