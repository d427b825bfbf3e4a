/**
 * One transfer through the project's S3 client (src/services/store/s3-store.ts), as its own
 * process so its peak RSS is measured alone: used by bench/store-vs-rclone.ts.
 *
 *   node bench/store-transfer.ts upload|download FILE BUCKET KEY PART_MIB IN_FLIGHT [SHA256]
 * An upload is given the file's sha256, as backup-upload is (from the manifest).
 * Endpoint and credentials: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
 */
import { Effect } from "effect"
import { makeS3Store } from "../src/services/store/s3-store.ts"

const [op, file, bucket, key, partMib, inFlight, sha256] = process.argv.slice(2)
const store = makeS3Store(
  {
    url: new URL(process.env.S3_ENDPOINT!),
    region: process.env.AWS_REGION ?? "us-east-1",
    bucket: bucket!,
    pathStyle: true,
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
    signPayload: true,
    requestTimeoutMs: 120_000,
  },
  { partSize: Number(partMib) * 1024 * 1024, partsInFlight: Number(inFlight), retries: 3, retryBaseMs: 250 },
)
const result = await Effect.runPromise(op === "upload" ? store.putFile(key!, file!, { sha256 }) : store.getFile(key!, file!))
process.stdout.write(`${JSON.stringify(result)}\n`)
