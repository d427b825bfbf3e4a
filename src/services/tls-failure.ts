/**
 * The TLS failures that tell which side refused the handshake, by the `code` Node gives them:
 * OpenSSL's `ERR_SSL_*` reason for an alert the server sent us, or the verification code of our own
 * check of its certificate. etcd's, the S3 store's and the API server's clients read them alike.
 */

/** Alerts by which etcd refuses our client certificate (OpenSSL's reason codes, as Node names them). */
export const clientCertificateAlerts: ReadonlySet<string> = new Set([
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
])

/**
 * OpenSSL's words for the verification failures of etcd's certificate. Node adds advice to some
 * (`--use-system-ca`) that does not apply where the CA bundle is given explicitly, so these are
 * shown instead of its message.
 */
const verificationFailures: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  INVALID_PURPOSE: "unsupported certificate purpose",
}

/**
 * Why we do not trust what etcd presented: its certificate failed verification, names another
 * host, or it did not answer in TLS at all (`WRONG_VERSION_NUMBER`).
 */
export const serverCertificateFailures: ReadonlySet<string> = new Set([
  ...Object.keys(verificationFailures),
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
])

/**
 * The TLS code of a failed connection as Node gives it (`code`, the error's message): an answer that is no TLS record
 * (a plain http:// server answering the handshake) comes as EPROTO with OpenSSL's reason only in the message, and reads
 * as the `ERR_SSL_WRONG_VERSION_NUMBER` it is; any other code is kept.
 */
export const tlsCodeOf = (code: string, message: string): string =>
  code === "EPROTO" && /wrong version number|packet length too long|http request/i.test(message) ? "ERR_SSL_WRONG_VERSION_NUMBER" : code

/** Whether `code` is one of the TLS codes above, or any other OpenSSL failure. */
export const isTlsCode = (code: string): boolean => code.startsWith("ERR_SSL_") || serverCertificateFailures.has(code)

/**
 * What a TLS failure says, for a person: OpenSSL's reason (`tlsv1 alert unknown ca`) when Node
 * kept it, OpenSSL's words for a verification code, else Node's message.
 */
export const tlsFailureDescription = (code: string, opensslReason: string | undefined, message: string): string =>
  opensslReason ?? verificationFailures[code] ?? message
