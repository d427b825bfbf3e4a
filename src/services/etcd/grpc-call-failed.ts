/**
 * A failed gRPC call as a value: the status, who reported it, and for a failed connection
 * Node's errno and the TLS failure code, so that callers classify on fields, never on text.
 */
import { Schema } from "effect"
import { failureText } from "../../domain/failure-text.ts"
import { errnoCode } from "../file-system-error.ts"
import { GrpcStatus, grpcStatusName } from "./grpc-status.ts"
import { isTlsCode, tlsCodeOf, tlsFailureDescription } from "../tls-failure.ts"

export class GrpcCallFailed extends Schema.TaggedError<GrpcCallFailed>()("GrpcCallFailed", {
  /** The gRPC status (`GrpcStatus`): etcd's, or the one this client gives its own failures (UNAVAILABLE for a connection's). */
  status: Schema.Number,
  /**
   * Who ended the call: `etcd` (a status it sent), `client` (this client gave up: deadline,
   * malformed or incomplete response), `connecting` (no connection could be established: nothing
   * was sent) or `connection` (the connection or stream broke during the call).
   */
  origin: Schema.Literals(["etcd", "client", "connecting", "connection"]),
  /** etcd's `grpc-message`, or the description of what failed. */
  detail: Schema.String,
  /** Node's errno code of a failed connection (`ECONNREFUSED`, `ENOTFOUND`, ...). */
  errno: Schema.optional(Schema.String),
  /** The TLS failure code of a failed connection: OpenSSL's `ERR_SSL_*` (an alert etcd sent) or a certificate verification code. */
  tls: Schema.optional(Schema.String),
}) {}

const stringField = (value: unknown, name: string): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const field = (value as Record<string, unknown>)[name]
  return typeof field === "string" ? field : undefined
}

/** The failure of a connection, from what Node reported it with (an error of the socket, TLS or HTTP/2 layer). */
export const connectionFailure = (origin: "connecting" | "connection", error: unknown): GrpcCallFailed => {
  if (error instanceof GrpcCallFailed) return error
  const message = failureText(error)
  const given = stringField(error, "code")
  const code = given === undefined ? undefined : tlsCodeOf(given, message)
  const tls = code !== undefined && isTlsCode(code) ? code : undefined
  return new GrpcCallFailed({
    status: GrpcStatus.UNAVAILABLE,
    origin,
    detail: tls === undefined ? message : tlsFailureDescription(tls, stringField(error, "reason"), message),
    errno: errnoCode(error),
    tls,
  })
}

/**
 * What happened, for a person: a connection's failure in its own words
 * (`connect ECONNREFUSED 10.0.0.1:2379`), a status with its name (`3 INVALID_ARGUMENT: etcdserver: key is not provided`).
 */
export const failureReason = (failure: GrpcCallFailed): string =>
  failure.origin === "connecting" || failure.origin === "connection" ? failure.detail : `${failure.status} ${grpcStatusName(failure.status)}: ${failure.detail}`
