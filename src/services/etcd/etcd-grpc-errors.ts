/**
 * Turns what the gRPC client throws into the tagged errors of `etcd-errors.ts`. The client only
 * gives text (`14 UNAVAILABLE: No connection established. Last error: ...`), so this reads it;
 * OpenSSL's alert names tell which side refused the handshake.
 */
import {
  EtcdRequestFailed,
  EtcdRevisionUnavailable,
  EtcdTlsRejected,
  EtcdUnreachable,
  type EtcdError,
} from "./etcd-errors.ts"

const clientCertRejected = /alert (unknown ca|bad certificate|certificate required|certificate unknown|certificate expired|certificate revoked|access denied|handshake failure)|tlsv13 alert certificate required/i
const serverCertUntrusted =
  /unable to verify|self[- ]signed certificate|certificate has expired|certificate is not yet valid|unable to get (local )?issuer|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID|wrong version number|unsupported certificate purpose/i
const unreachable =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|Failed to connect|No connection established|Deadline exceeded|DEADLINE_EXCEEDED|UNAVAILABLE|Connection dropped|Name resolution failed/i

/** The useful part of a gRPC message: the "Last error" if present, without timestamps and the advice suffix. */
export const grpcReason = (error: unknown): string => {
  const raw = error instanceof Error ? error.message : String(error)
  const last = /Last error: ([\s\S]*?)(?:\. Resolution note:|$)/.exec(raw)
  const text = (last?.[1] ?? raw)
    .replace(/\s*\(\d{4}-\d{2}-\d{2}T[\d:.]+Z\)/g, "")
    .replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca/, "")
    .replace(/\s+/g, " ")
    .trim()
  return text
}

export interface FailureContext {
  readonly endpoint: string
  readonly operation: string
  readonly revision?: number | undefined
  readonly tls: boolean
}

/** The tagged error for a failed call; the message says what happened and what to check. */
export const classifyEtcdFailure = (context: FailureContext, error: unknown): EtcdError => {
  const { endpoint, operation } = context
  const raw = error instanceof Error ? error.message : String(error)
  const reason = grpcReason(error)
  if (clientCertRejected.test(raw)) {
    return new EtcdTlsRejected({
      endpoint,
      rejected: "client-certificate",
      message:
        `etcd at ${endpoint} rejected the client certificate during the TLS handshake (${reason}): ` +
        `check that --etcd-cert/--etcd-key hold a client certificate signed by the CA etcd trusts for clients (the etcd-client secret).`,
    })
  }
  if (serverCertUntrusted.test(raw)) {
    return new EtcdTlsRejected({
      endpoint,
      rejected: "server-certificate",
      message:
        `the serving certificate of etcd at ${endpoint} is not trusted (${reason}): ` +
        `check that --etcd-cacert holds the CA bundle that signed etcd's serving certificate (the etcd-ca configmap) and that the endpoint's host name is in that certificate.`,
    })
  }
  if (/compacted/i.test(raw) && context.revision !== undefined) {
    return new EtcdRevisionUnavailable({
      endpoint,
      revision: context.revision,
      reason: "compacted",
      message: `etcd at ${endpoint} has compacted revision ${context.revision} away, so ${operation} cannot read at it: take the backup again.`,
    })
  }
  if (/future revision/i.test(raw) && context.revision !== undefined) {
    return new EtcdRevisionUnavailable({
      endpoint,
      revision: context.revision,
      reason: "future",
      message: `etcd at ${endpoint} has not reached revision ${context.revision} yet (${operation}): the member is behind; retry.`,
    })
  }
  if (unreachable.test(raw)) {
    return new EtcdUnreachable({
      endpoint,
      message:
        `cannot reach etcd at ${endpoint} (${reason}): check the endpoint address and port, that etcd is running, ` +
        (context.tls ? `and that it serves TLS there.` : `and whether it expects TLS (https://).`),
    })
  }
  return new EtcdRequestFailed({ endpoint, operation, message: `etcd at ${endpoint} failed ${operation}: ${reason}` })
}
