/**
 * Failures of Kubernetes API calls as tagged errors. Each carries the API's Status `reason` and
 * `message`, the HTTP `code` (0 when no response arrived) and the resource it was about, so a
 * caller can branch on the tag and a person can read what happened. Secret values never reach
 * these messages: they come from API Status objects, which never echo object data.
 */
import { Schema } from "effect"

/** Which object a failed call was about. */
export interface ResourceRef {
  readonly kind: string
  readonly namespace?: string
  readonly name?: string
}

const fields = {
  kind: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  /** The API's Status reason (`NotFound`, `AlreadyExists`, `TooManyRequests`, ...). */
  reason: Schema.String,
  message: Schema.String,
  /** HTTP status code; 0 when the request got no response (connection refused, client timeout). */
  code: Schema.Number,
  /** The server's `Retry-After` (or Status `details.retryAfterSeconds`), when it sent one. */
  retryAfterSeconds: Schema.optionalKey(Schema.Number),
}

/** 404: the object (or its namespace) does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
/** 409 AlreadyExists: a create found an object of that name. */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", fields) {}
/** 409 Conflict: an update carried a stale resourceVersion; re-read and try again. */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {}
/** 403: the credentials are valid but RBAC does not allow this verb on this resource. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields) {}
/** 401: the credentials are missing, expired or wrong. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {}
/** 400/422 (and other client errors): the request or the object was rejected as malformed. */
export class Invalid extends Schema.TaggedError<Invalid>()("Invalid", fields) {}
/** 429, 5xx or no connection: the API server could not serve the request now. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", fields) {}
/** The request did not complete in time (client-side deadline, 504, or server `Timeout`). */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", fields) {}
/**
 * 410 Gone/Expired: a watch asked for a resourceVersion older than the server's history. The
 * `Kube` service's watch streams handle it by relisting; callers of the service never see it.
 */
export class Expired extends Schema.TaggedError<Expired>()("Expired", fields) {}
/** The API answered with something that does not decode as the expected object. */
export class KubeResponseInvalid extends Schema.TaggedError<KubeResponseInvalid>()("KubeResponseInvalid", {
  kind: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  message: Schema.String,
}) {}

/**
 * A command run in a container (`pods/exec`) ended other than with exit status 0, or its connection ended without one.
 * `exitCode` is the command's (absent when the kubelet reported no code); `stderr` the start of what it wrote there.
 */
export class ExecCommandFailed extends Schema.TaggedError<ExecCommandFailed>()("ExecCommandFailed", {
  namespace: Schema.String,
  pod: Schema.String,
  container: Schema.String,
  command: Schema.Array(Schema.String),
  exitCode: Schema.optionalKey(Schema.Number),
  stderr: Schema.String,
  message: Schema.String,
}) {}

export type KubeError = NotFound | AlreadyExists | Conflict | Forbidden | Unauthorized | Invalid | Unavailable | Timeout | Expired | KubeResponseInvalid

/** A failure as the API reports it in a `kind: Status` object. */
export interface KubeStatus {
  readonly code: number
  readonly reason: string
  readonly message: string
  readonly retryAfterSeconds?: number
  readonly details?: {
    readonly name?: string
    readonly group?: string
    readonly kind?: string
    readonly causes?: ReadonlyArray<{ readonly reason?: string; readonly message?: string; readonly field?: string }>
  }
}

/** Reasons this project relies on (metav1.StatusReason values plus client-side ones). */
export const StatusReason = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Forbidden: "Forbidden",
  Unauthorized: "Unauthorized",
  Invalid: "Invalid",
  BadRequest: "BadRequest",
  Expired: "Expired",
  Gone: "Gone",
  TooManyRequests: "TooManyRequests",
  ServiceUnavailable: "ServiceUnavailable",
  InternalError: "InternalError",
  Timeout: "Timeout",
  ServerTimeout: "ServerTimeout",
  /** Client-side: the TCP connection was refused, so the request was never sent. */
  ConnectionRefused: "ConnectionRefused",
  /** Client-side: the connection failed or broke while the request was in flight. */
  ConnectionFailed: "ConnectionFailed",
  /** Client-side: the request deadline passed before the response arrived. */
  ClientTimeout: "ClientTimeout",
  /** Client-side: the API server's TLS certificate failed verification; repeating the request changes nothing. */
  CertificateRejected: "CertificateRejected",
} as const

const classFor = (code: number, reason: string) => {
  if (code === 401) return Unauthorized
  if (code === 403) return Forbidden
  if (code === 404) return NotFound
  if (code === 409) return reason === StatusReason.AlreadyExists ? AlreadyExists : Conflict
  if (code === 410) return Expired
  if (code === 408 || code === 504) return Timeout
  if (code === 429) return Unavailable
  if (code >= 500 && (reason === StatusReason.Timeout || reason === StatusReason.ServerTimeout)) return Timeout
  if (code >= 400 && code < 500) return Invalid
  return Unavailable
}

const defaultReasons: Readonly<Record<number, string>> = {
  400: StatusReason.BadRequest,
  401: StatusReason.Unauthorized,
  403: StatusReason.Forbidden,
  404: StatusReason.NotFound,
  409: StatusReason.Conflict,
  410: StatusReason.Expired,
  422: StatusReason.Invalid,
  429: StatusReason.TooManyRequests,
  500: StatusReason.InternalError,
  503: StatusReason.ServiceUnavailable,
  504: StatusReason.Timeout,
}

export const describeRef = (ref: ResourceRef): string =>
  `${ref.kind}${ref.name === undefined ? "" : ` ${ref.namespace === undefined ? "" : `${ref.namespace}/`}${ref.name}`}${
    ref.name === undefined && ref.namespace !== undefined ? ` in namespace ${ref.namespace}` : ""
  }`

/** The tagged error for an API Status about `ref`. */
export const errorFromStatus = (status: Partial<KubeStatus> & { readonly code: number }, ref: ResourceRef): KubeError => {
  const reason = status.reason !== undefined && status.reason !== "" ? status.reason : (defaultReasons[status.code] ?? "Unknown")
  // The server's words may name no object ("etcdserver: request timed out"): the request's object always leads.
  const message = `${describeRef(ref)}: ${status.message !== undefined && status.message !== "" ? status.message : `the API server answered HTTP ${status.code} (${reason})`}`
  const Class = classFor(status.code, reason)
  return new Class({
    kind: ref.kind,
    ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
    ...(ref.name === undefined ? {} : { name: ref.name }),
    reason,
    message,
    code: status.code,
    ...(status.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: status.retryAfterSeconds }),
  })
}

/** A failure that happened before any HTTP response (no connection, client deadline). */
export const clientSideError = (
  reason:
    | typeof StatusReason.ConnectionRefused
    | typeof StatusReason.ConnectionFailed
    | typeof StatusReason.ClientTimeout
    | typeof StatusReason.CertificateRejected,
  detail: string,
  ref: ResourceRef,
): Unavailable | Timeout => {
  const Class = reason === StatusReason.ClientTimeout ? Timeout : Unavailable
  return new Class({
    kind: ref.kind,
    ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
    ...(ref.name === undefined ? {} : { name: ref.name }),
    reason,
    message: `${describeRef(ref)}: ${detail}`,
    code: 0,
  })
}

/** The wire form of a Status object; every field optional because proxies answer anything. */
export const StatusBody = Schema.Struct({
  kind: Schema.optionalKey(Schema.String),
  code: Schema.optionalKey(Schema.Number),
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  details: Schema.optionalKey(
    Schema.Struct({
      name: Schema.optionalKey(Schema.String),
      group: Schema.optionalKey(Schema.String),
      kind: Schema.optionalKey(Schema.String),
      retryAfterSeconds: Schema.optionalKey(Schema.Number),
    }),
  ),
})

/** The Status object the API server sends for a failure (what the stub server writes). */
export const statusBody = (status: KubeStatus): Record<string, unknown> => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: status.message,
  reason: status.reason,
  code: status.code,
  ...(status.details !== undefined || status.retryAfterSeconds !== undefined
    ? {
        details: {
          ...status.details,
          ...(status.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: status.retryAfterSeconds }),
        },
      }
    : {}),
})
