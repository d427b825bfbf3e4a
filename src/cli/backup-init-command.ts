import { Effect, Layer, Result, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { defaultEtcdConnection, type EtcdConnection } from "../services/etcd/etcd.ts"
import { backupDirFlag } from "./common-flags.ts"
import { etcdPrefixFlag } from "./etcd-prefix-flag.ts"
import { durationFlag } from "./duration-flag.ts"
import { checkedWith, nonEmpty } from "./flag-checks.ts"
import { withLogging } from "./logging.ts"

export class EtcdFlagsInvalid extends Schema.TaggedError<EtcdFlagsInvalid>()("EtcdFlagsInvalid", {
  flag: Schema.String,
  message: Schema.String,
}) {}

const defaults = defaultEtcdConnection.tls!

const endpointPattern = /^(?<scheme>[A-Za-z][A-Za-z0-9+.-]*):\/\/(?<host>\[[0-9A-Fa-f:.]+\]|[^/:\s@?#[\]]+):(?<port>\d+)\/?$/

const listedEndpoints = (text: string) =>
  text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "")

/** What is wrong with an `--etcd-endpoints` value, as what the flag expects instead; undefined when it is usable. */
export const endpointsProblem = (text: string): string | undefined => {
  const endpoints = listedEndpoints(text)
  if (endpoints.length === 0) return "at least one URL like https://etcd.openshift-etcd.svc:2379"
  for (const e of endpoints) {
    const m = endpointPattern.exec(e)
    if (m === null || !URL.canParse(`${m.groups!.scheme}://${m.groups!.host}`)) return `URLs like https://host:2379 (scheme, host and port): "${e}" is not one`
    const scheme = m.groups!.scheme!.toLowerCase()
    if (scheme !== "https" && scheme !== "http") return `https:// URLs (http:// only for a local etcd without TLS): "${e}" has ${scheme}://`
    const port = Number(m.groups!.port)
    if (port < 1 || port > 65_535) return `URLs with a port from 1 to 65535: "${e}" has ${m.groups!.port}`
  }
  const secure = endpoints.filter((e) => e.toLowerCase().startsWith("https://")).length
  if (secure !== 0 && secure !== endpoints.length) return "URLs of one scheme, https:// or http://, not both"
  return undefined
}

/** `--etcd-endpoints`, `--etcd-cert`, `--etcd-key`, `--etcd-cacert`, defaulting to what the backup pod mounts. */
export const etcdConnectionFlags = {
  endpoints: Flag.String("etcd-endpoints").pipe(
    checkedWith(endpointsProblem),
    Flag.withDefault(defaultEtcdConnection.endpoints.join(",")),
    Flag.withDescription(
      "Comma-separated etcd client URLs (https://host:port; http:// only for a local etcd without TLS). The first that answers is used for the whole backup.",
    ),
  ),
  cert: Flag.String("etcd-cert").pipe(nonEmpty("path"), Flag.withDefault(defaults.cert), Flag.withDescription("Client certificate file for etcd")),
  key: Flag.String("etcd-key").pipe(nonEmpty("path"), Flag.withDefault(defaults.key), Flag.withDescription("Client key file for etcd")),
  cacert: Flag.String("etcd-cacert").pipe(
    nonEmpty("path"),
    Flag.withDefault(defaults.cacert),
    Flag.withDescription("CA bundle that signed etcd's serving certificate"),
  ),
}

/** The connection the flags describe: TLS for https endpoints, none for http (never mixed). */
export const connectionFromFlags = (flags: {
  readonly endpoints: string
  readonly cert: string
  readonly key: string
  readonly cacert: string
}): Result.Result<EtcdConnection, EtcdFlagsInvalid> => {
  const problem = endpointsProblem(flags.endpoints)
  if (problem !== undefined) return Result.fail(new EtcdFlagsInvalid({ flag: "--etcd-endpoints", message: `--etcd-endpoints: expected ${problem}` }))
  const endpoints = listedEndpoints(flags.endpoints).map((e) => e.replace(/\/$/, ""))
  return Result.succeed(
    endpoints[0]!.toLowerCase().startsWith("https://") ? { endpoints, tls: { cert: flags.cert, key: flags.key, cacert: flags.cacert } } : { endpoints },
  )
}

export const backupInitCommand = Command.make(
  "backup-init",
  {
    backupDir: backupDirFlag,
    etcd: etcdConnectionFlags,
    stallTimeout: durationFlag("stall-timeout", 1000, 120_000, "Give up when etcd sends no snapshot data for this long (e.g. 2m)"),
    etcdPrefix: etcdPrefixFlag,
    directIo: Flag.Boolean("direct-io").pipe(
      Flag.withDefault(true),
      Flag.withDescription(
        "Write the snapshot with direct I/O (O_DIRECT), bypassing the page cache, where the filesystem allows it; --no-direct-io writes through the page cache, flushing as it goes",
      ),
    ),
  },
  ({ backupDir, etcd, stallTimeout, directIo, etcdPrefix }) =>
    withLogging(
      Effect.gen(function* () {
        const connection = yield* Effect.fromResult(connectionFromFlags(etcd))
        // Loaded on use: the gRPC client and the program stay out of other commands' processes
        // (and this one's memory stays small; see bench/RESULTS.md).
        const [{ backupInit }, EtcdLive, { DiskSpace }] = yield* Effect.promise(() =>
          Promise.all([import("../programs/backup/backup-init.ts"), import("../services/etcd/etcd-live.ts"), import("../services/disk-space.ts")]),
        )
        const record = yield* backupInit({ backupDir, stallTimeoutMs: stallTimeout, directIo, etcdPrefix }).pipe(
          Effect.provide(Layer.mergeAll(EtcdLive.live(connection), DiskSpace.live)),
        )
        yield* Effect.sync(() => process.stdout.write(`${JSON.stringify(record, null, 2)}\n`))
      }),
    ),
).pipe(
  Command.withDescription(
    "Stream the etcd snapshot into the backup directory (checked against etcd's sha256 trailer, written as .part and renamed when complete) and record the backup timestamp, the snapshot's etcd revision and the operator revisions it contains in .cluster-backup/snapshot.json. Holds the backup directory's lock (.cluster-backup/run.lock); first removes what killed runs left (.part files) and the files of an earlier backup that was never completed.",
  ),
)
