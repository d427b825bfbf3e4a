/**
 * The Etcd service: what the backup needs from one etcd member. All calls of one service
 * instance go to the same member (the live Layer pins the first endpoint that answers), so a
 * status, the reads at its revision and the snapshot describe one store.
 */
import { Context, type Effect, type Stream } from "effect"
import type { EtcdError } from "./etcd-errors.ts"

/** Client certificate, key and CA bundle, as file paths (their contents never leave the client). */
export interface EtcdTls {
  readonly cert: string
  readonly key: string
  readonly cacert: string
}

export interface EtcdConnection {
  /** `https://host:port` (with `tls`) or `http://host:port`; tried in order, the first that answers is used. */
  readonly endpoints: ReadonlyArray<string>
  readonly tls?: EtcdTls | undefined
}

/** What the backup pod mounts: the `etcd` Service, the `etcd-client` Secret and the `etcd-ca` ConfigMap. */
export const defaultEtcdConnection: EtcdConnection = {
  endpoints: ["https://etcd.openshift-etcd.svc:2379"],
  tls: {
    cert: "/var/run/secrets/etcd-client/tls.crt",
    key: "/var/run/secrets/etcd-client/tls.key",
    cacert: "/var/run/configmaps/etcd-ca/ca-bundle.crt",
  },
}

/** A member's Maintenance Status. `revision` is the store revision of the response header. */
export interface MemberStatus {
  readonly endpoint: string
  readonly memberId: string
  readonly version: string
  /** Size of the backend database file, in bytes. */
  readonly dbSize: number
  readonly dbSizeInUse: number
  readonly raftIndex: number
  readonly raftTerm: number
  readonly revision: number
  readonly isLearner: boolean
}

export interface KeyValue {
  readonly key: string
  readonly value: Uint8Array
  readonly createRevision: number
  readonly modRevision: number
  readonly version: number
}

/** Which revision to read at; omitted: the latest. */
export interface ReadOptions {
  readonly revision?: number | undefined
  /** Prefix reads: the keys only, each value empty (counting keys without moving their values). */
  readonly keysOnly?: boolean | undefined
  /** Prefix reads: at most this many keys, the first in key order. */
  readonly limit?: number | undefined
  /** Prefix reads: only the keys after this one in key order, to read a prefix a page at a time. */
  readonly after?: string | undefined
}

export class Etcd extends Context.Service<
  Etcd,
  {
    /** The endpoint in use (for messages; the live Layer picks it on first use). */
    readonly endpoint: Effect.Effect<string, EtcdError>
    readonly status: Effect.Effect<MemberStatus, EtcdError>
    /** One key at a revision; `undefined` when it does not exist there. */
    readonly get: (key: string, options?: ReadOptions) => Effect.Effect<KeyValue | undefined, EtcdError>
    /** Every key starting with `prefix` at one revision, in key order (paged internally). */
    readonly getPrefix: (prefix: string, options?: ReadOptions) => Effect.Effect<ReadonlyArray<KeyValue>, EtcdError>
    /**
     * The Maintenance Snapshot stream: the backend database followed by its 32-byte sha256, as
     * etcd sends it. Pulled with backpressure: etcd is only asked for more as chunks are consumed.
     */
    readonly snapshot: Stream.Stream<Uint8Array, EtcdError>
  }
>()("cluster-backup/Etcd") {}
