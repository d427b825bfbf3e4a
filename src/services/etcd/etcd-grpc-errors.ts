/**
 * Turns a failed gRPC call (`GrpcCallFailed`) into the tagged errors of `etcd-errors.ts`, on its
 * fields: the TLS failure code tells which side refused the handshake, the status whether etcd
 * was reachable, etcd's error description which revision was refused.
 */
import { failureReason, type GrpcCallFailed } from "./grpc-call-failed.ts"
import { GrpcStatus } from "./grpc-status.ts"
import { EtcdRequestFailed, EtcdRevisionUnavailable, EtcdTlsRejected, EtcdUnreachable, type EtcdError } from "./etcd-errors.ts"
import { clientCertificateAlerts, serverCertificateFailures } from "../tls-failure.ts"

/**
 * etcd's descriptions of the errors of a read at a revision, sent as the `grpc-message` of an
 * OUT_OF_RANGE status (etcd's `api/v3rpc/rpctypes/error.go`). They are its error identities on
 * the wire: etcd's own Go client maps them back to typed errors by the same exact strings.
 */
const revisionErrors: ReadonlyMap<string, "compacted" | "future"> = new Map([
  ["etcdserver: mvcc: required revision has been compacted", "compacted"],
  ["etcdserver: mvcc: required revision is a future revision", "future"],
])

export interface FailureContext {
  readonly endpoint: string
  readonly operation: string
  readonly revision?: number | undefined
  readonly tls: boolean
}

/** Which certificate a TLS failure code says was refused, if it says. */
const rejectedSide = (tlsCode: string): EtcdTlsRejected["rejected"] | undefined =>
  clientCertificateAlerts.has(tlsCode) ? "client-certificate" : serverCertificateFailures.has(tlsCode) ? "server-certificate" : undefined

const tlsAdvice: Record<EtcdTlsRejected["rejected"], (endpoint: string, reason: string) => string> = {
  "client-certificate": (endpoint, reason) =>
    `etcd at ${endpoint} rejected the client certificate during the TLS handshake (${reason}): ` +
    `check that --etcd-cert/--etcd-key hold a client certificate signed by the CA etcd trusts for clients (the etcd-client secret).`,
  "server-certificate": (endpoint, reason) =>
    `the serving certificate of etcd at ${endpoint} is not trusted (${reason}): ` +
    `check that --etcd-cacert holds the CA bundle that signed etcd's serving certificate (the etcd-ca configmap) ` +
    `and that the endpoint's host name is in that certificate.`,
}

/** The tagged error for a failed call; the message says what happened and what to check. */
export const classifyEtcdFailure = (context: FailureContext, failure: GrpcCallFailed): EtcdError => {
  const { endpoint, operation, revision } = context
  const reason = failureReason(failure)
  const tlsCode = failure.tls
  const rejected = tlsCode === undefined ? undefined : rejectedSide(tlsCode)
  if (tlsCode !== undefined && rejected !== undefined) {
    return new EtcdTlsRejected({ endpoint, rejected, tlsCode, message: tlsAdvice[rejected](endpoint, reason) })
  }
  const refusedRevision = failure.origin === "etcd" && failure.status === GrpcStatus.OUT_OF_RANGE ? revisionErrors.get(failure.detail) : undefined
  if (refusedRevision === "compacted" && revision !== undefined) {
    return new EtcdRevisionUnavailable({
      endpoint,
      revision,
      reason: "compacted",
      message: `etcd at ${endpoint} has compacted revision ${revision} away, so ${operation} cannot read at it: take the backup again.`,
    })
  }
  if (refusedRevision === "future" && revision !== undefined) {
    return new EtcdRevisionUnavailable({
      endpoint,
      revision,
      reason: "future",
      message: `etcd at ${endpoint} has not reached revision ${revision} yet (${operation}): the member is behind; retry.`,
    })
  }
  if (failure.status === GrpcStatus.UNAVAILABLE || failure.status === GrpcStatus.DEADLINE_EXCEEDED) {
    return new EtcdUnreachable({
      endpoint,
      grpcStatus: failure.status,
      errno: failure.errno,
      message:
        `cannot reach etcd at ${endpoint} (${reason}): check the endpoint address and port, that etcd is running, ` +
        (context.tls ? `and that it serves TLS there.` : `and whether it expects TLS (https://).`),
    })
  }
  return new EtcdRequestFailed({ endpoint, operation, grpcStatus: failure.status, message: `etcd at ${endpoint} failed ${operation}: ${reason}` })
}
