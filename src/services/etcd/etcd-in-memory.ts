/**
 * An in-memory etcd member for unit tests and the demo: keys with MVCC revisions (reads at any
 * past revision), a Maintenance Status, and a snapshot stream shaped like etcd's (database bytes
 * then their 32-byte sha256), with knobs to break it: unreachable, TLS rejected, corrupted,
 * truncated, failing or stalling mid-stream, or writes that land while the snapshot starts.
 */
import { createHash } from "node:crypto"
import { Effect, Layer, Stream } from "effect"
import { Etcd, type KeyValue, type MemberStatus, type ReadOptions } from "./etcd.ts"
import { EtcdRevisionUnavailable, EtcdSnapshotFailed, EtcdTlsRejected, EtcdUnreachable, type EtcdError } from "./etcd-errors.ts"
import { trailerLength, withTrailer } from "./snapshot-trailer.ts"

/** How the snapshot stream misbehaves; offsets count bytes of the whole stream (trailer included). */
export type SnapshotFault =
  | { readonly kind: "corrupt"; readonly atByte: number }
  | { readonly kind: "truncate"; readonly atByte: number }
  | { readonly kind: "fail"; readonly atByte: number }
  /** Stops sending at `atByte` without ending the stream (a hung member). */
  | { readonly kind: "stall"; readonly atByte: number }

export interface SimulatedMemberOptions {
  readonly endpoint?: string
  readonly version?: string
  readonly memberId?: string
  /** Size of the simulated database (bytes before the trailer); default 256 KiB. */
  readonly dbSize?: number
  /** Snapshot chunk size; etcd sends 32 KiB. */
  readonly chunkSize?: number
}

interface Revisioned {
  readonly revision: number
  readonly value: Uint8Array | undefined
  readonly createRevision: number
  readonly version: number
}

/** A simulated member; mutate it from tests, read it through `inMemory(member)`. */
export class SimulatedMember {
  readonly endpoint: string
  readonly version: string
  readonly memberId: string
  readonly chunkSize: number
  dbSize: number
  revision = 1
  compactedRevision = 0
  raftIndex = 1
  unreachable = false
  tlsRejected: "client-certificate" | "server-certificate" | undefined = undefined
  snapshotFault: SnapshotFault | undefined = undefined
  /** Runs when a snapshot stream starts, after the status a caller took before it (e.g. a write racing the backup). */
  onSnapshotStart: (() => void) | undefined = undefined
  /** Number of snapshot streams opened so far. */
  snapshotsTaken = 0
  private readonly history = new Map<string, Array<Revisioned>>()

  constructor(options: SimulatedMemberOptions = {}) {
    this.endpoint = options.endpoint ?? "https://etcd.simulated:2379"
    this.version = options.version ?? "3.5.16"
    this.memberId = options.memberId ?? "8e9e05c52164694d"
    this.dbSize = options.dbSize ?? 256 * 1024
    this.chunkSize = options.chunkSize ?? 32 * 1024
  }

  /** Writes a key (string values are UTF-8) and returns the new store revision. */
  put(key: string, value: Uint8Array | string): number {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value
    const versions = this.history.get(key) ?? []
    const last = versions.at(-1)
    const live = last !== undefined && last.value !== undefined
    this.revision += 1
    this.raftIndex += 1
    versions.push({
      revision: this.revision,
      value: bytes,
      createRevision: live ? last.createRevision : this.revision,
      version: live ? last.version + 1 : 1,
    })
    this.history.set(key, versions)
    return this.revision
  }

  /** Deletes a key (if present) and returns the store revision. */
  delete(key: string): number {
    const versions = this.history.get(key)
    if (versions === undefined || versions.at(-1)?.value === undefined) return this.revision
    this.revision += 1
    this.raftIndex += 1
    versions.push({ revision: this.revision, value: undefined, createRevision: 0, version: 0 })
    return this.revision
  }

  /** Forgets history before `revision` (reads below it fail as compacted). */
  compact(revision: number): void {
    this.compactedRevision = revision
  }

  /** The key's value at `revision` (default: latest), or `undefined`. */
  read(key: string, revision = this.revision): KeyValue | undefined {
    const versions = this.history.get(key) ?? []
    let found: Revisioned | undefined
    for (const v of versions) if (v.revision <= revision) found = v
    if (found === undefined || found.value === undefined) return undefined
    return { key, value: found.value, createRevision: found.createRevision, modRevision: found.revision, version: found.version }
  }

  keys(): ReadonlyArray<string> {
    return [...this.history.keys()].sort()
  }

  /**
   * The database bytes a snapshot carries now: deterministic filler seeded by the revision, so
   * two snapshots at the same revision are identical and different revisions differ.
   */
  databaseBytes(): Uint8Array {
    const out = new Uint8Array(this.dbSize)
    let block = createHash("sha256").update(`${this.memberId}/${this.revision}`).digest()
    for (let offset = 0; offset < out.length; offset += block.length) {
      out.set(block.subarray(0, Math.min(block.length, out.length - offset)), offset)
      block = createHash("sha256").update(block).digest()
    }
    return out
  }
}

const guard = (member: SimulatedMember): Effect.Effect<void, EtcdError> =>
  Effect.suspend((): Effect.Effect<void, EtcdError> => {
    if (member.unreachable) {
      return Effect.fail(
        new EtcdUnreachable({
          endpoint: member.endpoint,
          message: `cannot reach etcd at ${member.endpoint} (connect ECONNREFUSED): check the endpoint address and port, that etcd is running, and that it serves TLS there.`,
        }),
      )
    }
    if (member.tlsRejected !== undefined) {
      return Effect.fail(
        new EtcdTlsRejected({
          endpoint: member.endpoint,
          rejected: member.tlsRejected,
          message:
            member.tlsRejected === "client-certificate"
              ? `etcd at ${member.endpoint} rejected the client certificate during the TLS handshake (alert unknown ca): check that --etcd-cert/--etcd-key hold a client certificate signed by the CA etcd trusts for clients (the etcd-client secret).`
              : `the serving certificate of etcd at ${member.endpoint} is not trusted (unable to verify the first certificate): check that --etcd-cacert holds the CA bundle that signed etcd's serving certificate (the etcd-ca configmap) and that the endpoint's host name is in that certificate.`,
        }),
      )
    }
    return Effect.void
  })

const checkRevision = (member: SimulatedMember, operation: string, options?: ReadOptions) =>
  Effect.suspend(() => {
    const revision = options?.revision ?? 0
    if (revision === 0) return Effect.succeed(member.revision)
    if (revision < member.compactedRevision) {
      return Effect.fail(
        new EtcdRevisionUnavailable({
          endpoint: member.endpoint,
          revision,
          reason: "compacted",
          message: `etcd at ${member.endpoint} has compacted revision ${revision} away, so ${operation} cannot read at it: take the backup again.`,
        }),
      )
    }
    if (revision > member.revision) {
      return Effect.fail(
        new EtcdRevisionUnavailable({
          endpoint: member.endpoint,
          revision,
          reason: "future",
          message: `etcd at ${member.endpoint} has not reached revision ${revision} yet (${operation}): the member is behind; retry.`,
        }),
      )
    }
    return Effect.succeed(revision)
  })

const snapshotStream = (member: SimulatedMember): Stream.Stream<Uint8Array, EtcdError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      yield* guard(member)
      member.snapshotsTaken += 1
      // The database is captured when the call starts, as etcd's backend snapshot is.
      const bytes = withTrailer(member.databaseBytes())
      member.onSnapshotStart?.()
      const fault = member.snapshotFault
      if (fault?.kind === "corrupt" && fault.atByte < bytes.length) bytes[fault.atByte] = bytes[fault.atByte]! ^ 0xff
      const end = fault?.kind === "truncate" || fault?.kind === "fail" || fault?.kind === "stall" ? Math.min(fault.atByte, bytes.length) : bytes.length
      const chunks: Array<Uint8Array> = []
      for (let offset = 0; offset < end; offset += member.chunkSize) chunks.push(bytes.slice(offset, Math.min(end, offset + member.chunkSize)))
      const body = Stream.fromIterable(chunks)
      if (fault?.kind === "fail") {
        return Stream.concat(
          body,
          Stream.fail(
            new EtcdSnapshotFailed({
              endpoint: member.endpoint,
              receivedBytes: end,
              message: `the snapshot stream from etcd at ${member.endpoint} broke off after ${end} bytes (Connection dropped): check that the etcd member is running and reachable, then take the backup again.`,
            }),
          ),
        )
      }
      if (fault?.kind === "stall") return Stream.concat(body, Stream.never)
      return body
    }),
  )

/** The Etcd service over a simulated member. */
export const inMemory = (member: SimulatedMember): Layer.Layer<Etcd> =>
  Layer.succeed(
    Etcd,
    Etcd.of({
      endpoint: Effect.as(guard(member), member.endpoint),
      status: Effect.flatMap(guard(member), () =>
        Effect.sync(
          (): MemberStatus => ({
            endpoint: member.endpoint,
            memberId: member.memberId,
            version: member.version,
            dbSize: member.dbSize,
            dbSizeInUse: member.dbSize,
            raftIndex: member.raftIndex,
            raftTerm: 2,
            revision: member.revision,
            isLearner: false,
          }),
        ),
      ),
      get: (key, options) =>
        Effect.flatMap(guard(member), () => Effect.map(checkRevision(member, `read of ${key}`, options), (revision) => member.read(key, revision))),
      getPrefix: (prefix, options) =>
        Effect.flatMap(guard(member), () =>
          Effect.map(checkRevision(member, `read of prefix ${prefix}`, options), (revision) =>
            member
              .keys()
              .filter((k) => k.startsWith(prefix) && (options?.after === undefined || k > options.after))
              .flatMap((k) => {
                const kv = member.read(k, revision)
                return kv === undefined ? [] : [options?.keysOnly === true ? { ...kv, value: new Uint8Array(0) } : kv]
              })
              .slice(0, options?.limit),
          ),
        ),
      snapshot: snapshotStream(member),
    }),
  )

/** Size of a simulated snapshot stream for a member (database plus trailer). */
export const simulatedSnapshotSize = (member: SimulatedMember): number => member.dbSize + trailerLength
