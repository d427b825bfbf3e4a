/**
 * Opens the store a location names: a directory, or S3 with its endpoint, region, addressing
 * style, CA bundle and credentials, each from its flag or else the standard AWS variable
 * (`AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_CA_BUNDLE`), through the
 * proxy `HTTPS_PROXY`/`HTTP_PROXY` names unless `NO_PROXY` lists the host (`domain/proxy-choice.ts`).
 */
import { readFile } from "node:fs/promises"
import { resolve } from "node:path"
import { Effect } from "effect"
import { proxyFor } from "../../domain/proxy-choice.ts"
import type { ServerSideEncryption } from "../../domain/server-side-encryption.ts"
import type { StoreLocation } from "../../domain/store-location.ts"
import type { BackupStoreShape } from "./backup-store.ts"
import { makeDirectoryStore } from "./directory-store.ts"
import { resolveCredentialSource, type Env } from "./s3-credentials.ts"
import { defaultTransferOptions, type S3TransferOptions } from "./s3-client.ts"
import { makeTransferPacer } from "./transfer-pacer.ts"
import { makeS3Store } from "./s3-store.ts"
import { localIoFailed, StoreRequestFailed, type StoreError } from "./store-errors.ts"

/** How long a request's connection may stay idle, nothing sent or received (node's socket timeout), before it is retried. */
export const defaultRequestTimeoutMs = 120_000
/** The longest `--s3-request-timeout`: a live multipart upload must still store a part before prune takes it for a dead one (backup-store.ts). */
export const maxRequestTimeoutMs = 3 * 60_000

export interface S3Settings {
  readonly endpoint?: string | undefined
  readonly region?: string | undefined
  /** `path` (host/bucket/key) or `virtual` (bucket.host/key); default: path with a custom endpoint, virtual on AWS. */
  readonly addressing?: "path" | "virtual" | undefined
  readonly caBundle?: string | undefined
  readonly transfer?: Partial<S3TransferOptions> | undefined
  readonly requestTimeoutMs?: number | undefined
  readonly serverSideEncryption?: ServerSideEncryption | undefined
}

/**
 * Whether requests address the bucket by path (`host/bucket/key`) rather than by host name
 * (`bucket.host/key`): as `--s3-addressing` says, else by path with a custom endpoint, and on AWS's
 * own endpoint by host name unless the bucket's name has dots, which over https no certificate of
 * AWS covers (`*.s3.<region>.amazonaws.com` matches one label): by path then, as the AWS SDKs do.
 */
export const usesPathStyle = (bucket: string, addressing: "path" | "virtual" | undefined, customEndpoint: boolean, protocol: string): boolean =>
  addressing !== undefined ? addressing === "path" : customEndpoint || (protocol === "https:" && bucket.includes("."))

export const openStore = (location: StoreLocation, settings: S3Settings, env: Env): Effect.Effect<BackupStoreShape, StoreError> =>
  Effect.gen(function* () {
    const limit = settings.transfer?.bandwidthBytesPerSecond
    const pacer = limit === undefined ? undefined : makeTransferPacer(limit)
    if (location._tag === "Directory") return makeDirectoryStore(resolve(location.path), { onProgress: settings.transfer?.onProgress, pacer })
    const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1"
    const custom = settings.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL
    // AWS's China regions are under amazonaws.com.cn (as their STS, domain/sts-response.ts).
    const endpoint = custom ?? `https://s3.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`
    // Only a scheme, host and port: `minio:9000` parses as a URL of scheme `minio:` (whose origin is
    // no URL), and a path would be dropped, each request going to the host's root.
    const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.pathname !== "/" || url.search !== "" || url.hash !== "") {
      const source = settings.endpoint !== undefined ? "--s3-endpoint" : env.AWS_ENDPOINT_URL_S3 !== undefined ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL"
      return yield* new StoreRequestFailed({
        store: `s3://${location.bucket}`,
        operation: "configure",
        key: "",
        status: 0,
        code: "BadEndpoint",
        retryable: false,
        message: `S3 endpoint ${JSON.stringify(endpoint)} (${source}) is not an http(s)://host[:port] URL: give the scheme, the host and the port only, as https://s3.example.com:9000`,
      })
    }
    const caPath = settings.caBundle ?? (url.protocol === "https:" ? env.AWS_CA_BUNDLE : undefined)
    const ca =
      caPath === undefined
        ? undefined
        : yield* Effect.tryPromise({ try: () => readFile(caPath, "utf8"), catch: (e) => localIoFailed(caPath, "read the CA bundle", e) })
    const pathStyle = usesPathStyle(location.bucket, settings.addressing, custom !== undefined, url.protocol)
    // The host requests go to (the bucket's own name when addressed by host name), as NO_PROXY is matched against it.
    const proxy = proxyFor(env, pathStyle ? url : new URL(`${url.protocol}//${location.bucket}.${url.host}`))
    if (proxy._tag === "Invalid") {
      return yield* new StoreRequestFailed({
        store: `s3://${location.bucket}`,
        operation: "configure",
        key: "",
        status: 0,
        code: "BadProxy",
        retryable: false,
        message: proxy.message,
      })
    }
    const credentials = yield* resolveCredentialSource(env, region)
    return makeS3Store(
      {
        url: new URL(url.origin),
        region,
        bucket: location.bucket,
        pathStyle,
        ca,
        credentials,
        signPayload: true,
        requestTimeoutMs: settings.requestTimeoutMs ?? defaultRequestTimeoutMs,
        proxy: proxy._tag === "Proxy" ? proxy : undefined,
        serverSideEncryption: settings.serverSideEncryption,
        pacer,
      },
      { ...defaultTransferOptions, ...settings.transfer },
    )
  })
