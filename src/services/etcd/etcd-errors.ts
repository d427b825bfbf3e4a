/**
 * What can go wrong talking to etcd, as values. Every error names the endpoint and says what to
 * do; none carries certificate or key contents (only file paths).
 */
import { Schema } from "effect"

/** No connection: refused, name not resolved, timed out. */
export class EtcdUnreachable extends Schema.TaggedError<EtcdUnreachable>()("EtcdUnreachable", {
  endpoint: Schema.String,
  /** The gRPC status of the failed call (UNAVAILABLE, DEADLINE_EXCEEDED), when a call failed. */
  grpcStatus: Schema.optional(Schema.Number),
  /** Node's errno code of the connection's failure (`ECONNREFUSED`, `ENOTFOUND`, ...), when the system gave one. */
  errno: Schema.optional(Schema.String),
  message: Schema.String,
}) {}

/**
 * The TLS handshake failed: either etcd refused our client certificate (`client-certificate`)
 * or we do not trust etcd's serving certificate (`server-certificate`).
 */
export class EtcdTlsRejected extends Schema.TaggedError<EtcdTlsRejected>()("EtcdTlsRejected", {
  endpoint: Schema.String,
  rejected: Schema.Literals(["client-certificate", "server-certificate"]),
  /** The TLS failure code: OpenSSL's `ERR_SSL_*` alert etcd sent, or the verification code of etcd's certificate. */
  tlsCode: Schema.optional(Schema.String),
  message: Schema.String,
}) {}

/** A certificate, key or CA file could not be read, or they cannot be used together (a key of another certificate, a file that is not PEM). */
export class EtcdCredentialsUnreadable extends Schema.TaggedError<EtcdCredentialsUnreadable>()("EtcdCredentialsUnreadable", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** A read asked for a revision etcd no longer (compacted) or not yet (future) has. */
export class EtcdRevisionUnavailable extends Schema.TaggedError<EtcdRevisionUnavailable>()("EtcdRevisionUnavailable", {
  endpoint: Schema.String,
  revision: Schema.Number,
  reason: Schema.Literals(["compacted", "future"]),
  message: Schema.String,
}) {}

/** etcd answered a request with an error not covered above. */
export class EtcdRequestFailed extends Schema.TaggedError<EtcdRequestFailed>()("EtcdRequestFailed", {
  endpoint: Schema.String,
  operation: Schema.String,
  /** The gRPC status etcd (or this client, for a response it cannot use) ended the call with. */
  grpcStatus: Schema.optional(Schema.Number),
  message: Schema.String,
}) {}

/** The snapshot stream broke off (connection lost, member stopped, stalled). */
export class EtcdSnapshotFailed extends Schema.TaggedError<EtcdSnapshotFailed>()("EtcdSnapshotFailed", {
  endpoint: Schema.String,
  receivedBytes: Schema.Number,
  /** The gRPC status the stream ended with, when it ended with one (not for a stall). */
  grpcStatus: Schema.optional(Schema.Number),
  message: Schema.String,
}) {}

export type EtcdError = EtcdUnreachable | EtcdTlsRejected | EtcdCredentialsUnreadable | EtcdRevisionUnavailable | EtcdRequestFailed | EtcdSnapshotFailed
