/**
 * The flags every store command shares: where the backups are inside the store (`--prefix`,
 * `--cluster-id`) and how to reach S3 (`--s3-*`, each defaulting to the standard AWS variable).
 * Credentials are never flags: they come from the AWS variables and files only.
 */
import { Effect, Option, Result } from "effect"
import { CliError, Flag } from "effect/cli"
import { parseStoreLocation, storePrefix } from "../domain/store-location.ts"
import { openStore } from "../services/store/open-store.ts"
import type { S3TransferOptions } from "../services/store/s3-store.ts"

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
}

export interface StoreFlagValues {
  readonly prefix: Option.Option<string>
  readonly clusterId: Option.Option<string>
  readonly s3Endpoint: Option.Option<string>
  readonly s3Region: Option.Option<string>
  readonly s3Addressing: Option.Option<"path" | "virtual">
  readonly s3CaBundle: Option.Option<string>
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
export const openStoreFromFlags = (raw: string, flags: StoreFlagValues, parameter: StoreParameter, transfer: Partial<S3TransferOptions> = {}) =>
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
    const store = yield* openStore(
      location,
      {
        endpoint: Option.getOrUndefined(flags.s3Endpoint),
        region: Option.getOrUndefined(flags.s3Region),
        addressing: Option.getOrUndefined(flags.s3Addressing),
        caBundle: Option.getOrUndefined(flags.s3CaBundle),
        transfer,
      },
      process.env,
    )
    return { store, prefix }
  })
