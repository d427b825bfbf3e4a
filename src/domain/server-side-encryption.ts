/**
 * S3 server-side encryption of what a store is sent (SSE-S3, `AES256`; SSE-KMS, `aws:kms`, with a key or the account's
 * default): the headers each PutObject and CreateMultipartUpload carries, and whether the store's answer about the stored
 * object confirms it. Buckets are often guarded by a policy that refuses an upload without the header; a store that
 * ignores it must not be taken as having encrypted.
 */
import { Schema } from "effect"

export const SseAlgorithm = Schema.Literals(["AES256", "aws:kms"])
export type SseAlgorithm = typeof SseAlgorithm.Type

/** A KMS key as S3 takes it: a key id, a key ARN, `alias/<name>` or an alias ARN. */
export const KmsKeyId = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9:/_+=,.@-]{1,2048}$/, { expected: "a KMS key id, key ARN, alias/<name> or alias ARN" }),
)

export interface ServerSideEncryption {
  readonly algorithm: SseAlgorithm
  readonly kmsKeyId?: string | undefined
}

export const sseHeader = "x-amz-server-side-encryption"
export const sseKmsKeyHeader = "x-amz-server-side-encryption-aws-kms-key-id"

/** The settings `--s3-sse` and `--s3-sse-kms-key-id` give: a key implies `aws:kms`, and goes with no other algorithm. */
export const serverSideEncryptionOf = (
  algorithm: SseAlgorithm | undefined,
  kmsKeyId: string | undefined,
): { readonly _tag: "Ok"; readonly sse: ServerSideEncryption | undefined } | { readonly _tag: "Invalid"; readonly message: string } => {
  if (kmsKeyId !== undefined && algorithm === "AES256") return { _tag: "Invalid", message: "a KMS key goes with aws:kms (SSE-KMS), not AES256 (SSE-S3)" }
  if (kmsKeyId !== undefined && !Schema.is(KmsKeyId)(kmsKeyId))
    return { _tag: "Invalid", message: `${JSON.stringify(kmsKeyId)} is not a KMS key id, key ARN, alias/<name> or alias ARN` }
  const chosen = algorithm ?? (kmsKeyId === undefined ? undefined : "aws:kms")
  return { _tag: "Ok", sse: chosen === undefined ? undefined : { algorithm: chosen, ...(kmsKeyId === undefined ? {} : { kmsKeyId }) } }
}

/** The headers of a request that creates an object (PutObject, CreateMultipartUpload). */
export const sseRequestHeaders = (sse: ServerSideEncryption | undefined): Record<string, string> =>
  sse === undefined ? {} : { [sseHeader]: sse.algorithm, ...(sse.kmsKeyId === undefined ? {} : { [sseKmsKeyHeader]: sse.kmsKeyId }) }

/**
 * Whether the key the store names is the one asked for. S3 answers with the key's ARN (MinIO `arn:aws:kms:<name>`), whatever
 * form was asked: a key id matches the ARN it ends; an alias names its key only through KMS, so it is taken as it is.
 */
const sameKey = (asked: string, answered: string): boolean =>
  asked === answered || asked.startsWith("alias/") || asked.includes(":alias/") || answered.endsWith(`/${asked}`) || answered.endsWith(`:${asked}`)

/** What is wrong with the store's answer about an object stored with `sse` (its HEAD's headers); `undefined` when it confirms it. */
export const sseUnconfirmed = (
  sse: ServerSideEncryption,
  answered: { readonly algorithm: string | undefined; readonly kmsKeyId: string | undefined },
): string | undefined => {
  if (answered.algorithm === undefined)
    return `the store does not say it encrypted the object (no ${sseHeader} header): it ignores server-side encryption, or a proxy drops the header`
  if (answered.algorithm !== sse.algorithm) return `the store encrypted it with ${answered.algorithm}, not ${sse.algorithm} as asked`
  if (sse.kmsKeyId !== undefined && answered.kmsKeyId !== undefined && !sameKey(sse.kmsKeyId, answered.kmsKeyId))
    return `the store encrypted it with KMS key ${answered.kmsKeyId}, not ${sse.kmsKeyId} as asked`
  return undefined
}
