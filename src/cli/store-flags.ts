/**
 * The flags every store command shares: where the backups are inside the store (`--prefix`,
 * `--cluster-id`) and how to reach S3 (`--s3-*`, each defaulting to the standard AWS variable).
 * Credentials are never flags: they come from the AWS variables and files only.
 */
import { Effect, Option, Result } from "effect"
import { CliError, Flag } from "effect/cli"
import { durationFlag } from "./duration-flag.ts"
import { serverSideEncryptionOf, type SseAlgorithm } from "../domain/server-side-encryption.ts"
import { parseStoreLocation, storePrefix } from "../domain/store-location.ts"
import { defaultRequestTimeoutMs, maxRequestTimeoutMs, openStore } from "../services/store/open-store.ts"
import { defaultTransferOptions, type S3TransferOptions } from "../services/store/s3-client.ts"
import { maxRetries } from "../services/store/store-retry.ts"
import { intInRange } from "./flag-checks.ts"

export const storeFlags = {
  prefix: Flag.String("prefix").pipe(
    Flag.optional,
    Flag.withDescription("Path inside the store under which the backups lie (default: the s3:// URL's path, else cluster-backup/<cluster-id>)"),
  ),
  clusterId: Flag.String("cluster-id").pipe(
    Flag.optional,
    Flag.withDescription("The cluster's ID (ClusterVersion spec.clusterID): the default prefix is cluster-backup/<cluster-id>"),
  ),
  s3Endpoint: Flag.String("s3-endpoint").pipe(
    Flag.optional,
    Flag.withDescription("S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS S3 of the region)"),
  ),
  s3Region: Flag.String("s3-region").pipe(Flag.optional, Flag.withDescription("S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)")),
  s3Addressing: Flag.Literals("s3-addressing", ["path", "virtual"]).pipe(
    Flag.optional,
    Flag.withDescription("path (host/bucket/key) or virtual (bucket.host/key); default: path with a custom endpoint"),
  ),
  s3CaBundle: Flag.String("s3-ca-bundle").pipe(
    Flag.optional,
    Flag.withDescription("PEM file of the CAs to trust for an https endpoint (default: AWS_CA_BUNDLE)"),
  ),
  retries: Flag.Int("retries").pipe(
    intInRange({ min: 0, max: maxRetries }),
    Flag.withDefault(defaultTransferOptions.retries),
    Flag.withDescription("Retries of each S3 request (each part or range) after a transient failure, with exponential backoff; each is logged as a warning"),
  ),
  s3RequestTimeout: durationFlag(
    "s3-request-timeout",
    1000,
    defaultRequestTimeoutMs,
    "How long an S3 request's connection may stay idle, nothing sent or received, before the request is given up and retried (each retry is logged as a warning)",
    { maxMs: maxRequestTimeoutMs },
  ),
}

/** backup-upload's: the server-side encryption each object it stores in S3 asks for. */
export const serverSideEncryptionFlags = {
  s3Sse: Flag.Literals("s3-sse", ["AES256", "aws:kms"]).pipe(
    Flag.optional,
    Flag.withDescription(
      "Ask S3 to encrypt each object it stores: AES256 (SSE-S3) or aws:kms (SSE-KMS), as bucket policies that refuse unencrypted uploads require; an object the store does not confirm encrypted is removed and the upload fails",
    ),
  ),
  s3SseKmsKeyId: Flag.String("s3-sse-kms-key-id").pipe(
    Flag.optional,
    Flag.withMetavar("KEY"),
    Flag.withDescription("The KMS key of SSE-KMS: a key id, key ARN, alias/<name> or alias ARN (implies --s3-sse aws:kms; default: the account's aws/s3 key)"),
  ),
}

export interface ServerSideEncryptionFlagValues {
  readonly s3Sse: Option.Option<SseAlgorithm>
  readonly s3SseKmsKeyId: Option.Option<string>
}

export interface StoreFlagValues {
  readonly prefix: Option.Option<string>
  readonly clusterId: Option.Option<string>
  readonly s3Endpoint: Option.Option<string>
  readonly s3Region: Option.Option<string>
  readonly s3Addressing: Option.Option<"path" | "virtual">
  readonly s3CaBundle: Option.Option<string>
  readonly s3RequestTimeout: number
  readonly retries: number
}

/** The command and the parameter that name the store (`list`'s argument <store>, `backup-upload`'s flag --store), for a usage error. */
export interface StoreParameter {
  readonly command: string
  readonly name: string
  readonly kind: "flag" | "argument"
}

/**
 * The store a location names and the prefix of its backups. A location or prefix no store can have (an s3:// URL
 * with no prefix, a bad bucket name or prefix) is a usage error (exit 2) naming the argument or flag at fault.
 */
export const openStoreFromFlags = (
  raw: string,
  flags: StoreFlagValues,
  parameter: StoreParameter,
  transfer: Partial<S3TransferOptions> = {},
  encryption?: ServerSideEncryptionFlagValues,
) =>
  Effect.gen(function* () {
    const explicit = Option.getOrUndefined(flags.prefix)
    const clusterId = Option.getOrUndefined(flags.clusterId)
    const located = Result.flatMap(parseStoreLocation(raw), (location) =>
      Result.map(storePrefix(location, explicit, clusterId), (prefix) => ({ location, prefix })),
    )
    if (Result.isFailure(located)) {
      // The location, unless it is fine and the --prefix or --cluster-id given is what no store can have.
      const atLocation = Result.isFailure(parseStoreLocation(raw)) || (explicit === undefined && clusterId === undefined)
      const [option, value, kind] = atLocation
        ? [parameter.name, raw, parameter.kind]
        : explicit !== undefined
          ? ["prefix", explicit, "flag" as const]
          : ["cluster-id", clusterId ?? "", "flag" as const]
      // A bucket's root is a store too, but only when asked for: an s3:// URL with no prefix may be a slip.
      const root = atLocation && Result.isSuccess(parseStoreLocation(raw)) ? `; --prefix "" for the bucket's root` : ""
      return yield* new CliError.ShowHelp({
        commandPath: ["cluster-backup", parameter.command],
        errors: [new CliError.InvalidValue({ option, value, expected: `${located.failure.message}${root}`, kind })],
      })
    }
    const { location, prefix } = located.success
    const serverSideEncryption = yield* serverSideEncryptionOfFlags(encryption, location._tag === "Directory", parameter.command)
    const store = yield* openStore(
      location,
      {
        endpoint: Option.getOrUndefined(flags.s3Endpoint),
        region: Option.getOrUndefined(flags.s3Region),
        addressing: Option.getOrUndefined(flags.s3Addressing),
        caBundle: Option.getOrUndefined(flags.s3CaBundle),
        requestTimeoutMs: flags.s3RequestTimeout,
        transfer: { retries: flags.retries, ...transfer },
        serverSideEncryption,
      },
      process.env,
    )
    return { store, prefix }
  })

/** The server-side encryption the flags ask for; a usage error when they do not combine, or name a directory store. */
const serverSideEncryptionOfFlags = (flags: ServerSideEncryptionFlagValues | undefined, directory: boolean, command: string) => {
  if (flags === undefined) return Effect.succeed(undefined)
  const given = serverSideEncryptionOf(Option.getOrUndefined(flags.s3Sse), Option.getOrUndefined(flags.s3SseKmsKeyId))
  const usage = (option: string, value: string, expected: string) =>
    Effect.fail(
      new CliError.ShowHelp({ commandPath: ["cluster-backup", command], errors: [new CliError.InvalidValue({ option, value, expected, kind: "flag" })] }),
    )
  if (given._tag === "Invalid")
    return usage(
      "s3-sse-kms-key-id",
      Option.getOrElse(flags.s3SseKmsKeyId, () => ""),
      given.message,
    )
  if (given.sse !== undefined && directory)
    return usage(
      Option.isSome(flags.s3Sse) ? "s3-sse" : "s3-sse-kms-key-id",
      given.sse.kmsKeyId ?? given.sse.algorithm,
      "an s3:// store: a directory store has no server-side encryption (encrypt the backup itself with --recipients-file)",
    )
  return Effect.succeed(given.sse)
}
