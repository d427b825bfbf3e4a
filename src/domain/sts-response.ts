/**
 * STS `AssumeRoleWithWebIdentity` as data: the endpoint a region's request goes to, the answer
 * read from AWS's XML (temporary credentials, or the error AWS returns), and when temporary
 * credentials are due for renewal. Pure: the exchange itself is in services/store/web-identity.
 */
import { xmlField } from "./xml-fields.ts"

/** Temporary credentials; `expiresAt` in epoch ms (STS always states it; absent, a short life is assumed). */
export interface TemporaryCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiresAt: number | undefined
}

/** STS's refusal: its error code (`AccessDenied`, `InvalidIdentityToken`, `ExpiredToken`, ...) and whether a retry may help. */
export interface StsRefusal {
  readonly code: string
  readonly status: number
  readonly retryable: boolean
}

export type StsAnswer =
  | { readonly _tag: "Credentials"; readonly credentials: TemporaryCredentials }
  | { readonly _tag: "Refused"; readonly refusal: StsRefusal }

const field = (xml: string, tag: string): string | undefined => xmlField(xml, tag)?.trim()

/** Codes STS documents as transient: the same request may succeed later. */
const transientCodes = new Set(["IDPCommunicationError", "Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"])

/** What an STS response (HTTP status and body) says. */
export const readStsAnswer = (status: number, body: string): StsAnswer => {
  const accessKeyId = field(body, "AccessKeyId")
  const secretAccessKey = field(body, "SecretAccessKey")
  const sessionToken = field(body, "SessionToken")
  if (status === 200 && accessKeyId && secretAccessKey && sessionToken) {
    const expiration = field(body, "Expiration")
    const expiresAt = expiration === undefined ? Number.NaN : Date.parse(expiration)
    return { _tag: "Credentials", credentials: { accessKeyId, secretAccessKey, sessionToken, expiresAt: Number.isFinite(expiresAt) ? expiresAt : undefined } }
  }
  const code = field(body, "Code") ?? (status === 200 ? "IncompleteResponse" : `HTTP${status}`)
  return { _tag: "Refused", refusal: { code, status, retryable: status >= 500 || status === 429 || transientCodes.has(code) } }
}

/** Renew this long before the stated expiry (the AWS SDKs' margin), so no request is signed with credentials about to lapse. */
export const renewalMarginMs = 5 * 60_000
/** Without a stated expiry: STS's shortest session, 15 minutes. */
export const assumedLifetimeMs = 15 * 60_000

/** When credentials obtained at `obtainedAt` are due for renewal (epoch ms). */
export const renewalDueAt = (credentials: TemporaryCredentials, obtainedAt: number): number => {
  const expiresAt = credentials.expiresAt ?? obtainedAt + assumedLifetimeMs
  // A very short session renews half-way rather than at once on every request.
  return Math.max(obtainedAt + (expiresAt - obtainedAt) / 2, expiresAt - renewalMarginMs)
}

/**
 * The STS endpoint: the region's (`sts.<region>.amazonaws.com`, `.com.cn` in China), the global
 * one when `AWS_STS_REGIONAL_ENDPOINTS=legacy`, or `AWS_ENDPOINT_URL_STS`. Never the S3 endpoint
 * (`AWS_ENDPOINT_URL`): the token must go to STS and nowhere else.
 */
export const stsEndpointFor = (env: Readonly<Record<string, string | undefined>>, region: string): string => {
  const explicit = env.AWS_ENDPOINT_URL_STS
  if (explicit !== undefined && explicit !== "") return explicit
  if (env.AWS_STS_REGIONAL_ENDPOINTS === "legacy") return "https://sts.amazonaws.com/"
  return `https://sts.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}/`
}
