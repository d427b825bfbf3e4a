/**
 * AWS Signature Version 4 for S3 requests (header form). Plain bodies only: the payload hash is
 * the body's sha256 or `UNSIGNED-PAYLOAD`, never `aws-chunked` streaming (Swift's s3api and
 * other S3-compatible servers answer that with 501).
 */
import { createHash, createHmac } from "node:crypto"

export interface SigningCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
}

export interface SignableRequest {
  readonly method: string
  readonly host: string
  /** Already URI-encoded (`uriEncodePath`). */
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  /** Lower-case names. `host`, `x-amz-date`, `x-amz-content-sha256` (and the token) are added. */
  readonly headers: Readonly<Record<string, string>>
  /** Hex sha256 of the body, or `UNSIGNED-PAYLOAD`. */
  readonly payloadHash: string
}

export const emptyPayloadHash = createHash("sha256").update("").digest("hex")

/** RFC 3986 encoding as SigV4 wants it (`encodeURIComponent` plus `!'()*`). */
export const uriEncode = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** Each `/`-separated segment encoded, the separators kept. */
export const uriEncodePath = (path: string): string => path.split("/").map(uriEncode).join("/")

/** `a=1&b=` sorted by name, as both the canonical request and the URL use it. */
export const canonicalQuery = (query: Readonly<Record<string, string>>): string =>
  Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(query[k]!)}`)
    .join("&")

const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest()

/** The request's headers with `authorization` and the `x-amz-*` headers SigV4 needs. */
export const signRequest = (req: SignableRequest, creds: SigningCredentials, region: string, now: Date): Record<string, string> => {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "")
  const day = amzDate.slice(0, 8)
  const headers: Record<string, string> = {
    ...req.headers,
    host: req.host,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": req.payloadHash,
    ...(creds.sessionToken === undefined ? {} : { "x-amz-security-token": creds.sessionToken }),
  }
  const names = Object.keys(headers).sort()
  const canonical = [
    req.method,
    req.path,
    canonicalQuery(req.query),
    names.map((h) => `${h}:${headers[h]!.trim().replace(/\s+/g, " ")}\n`).join(""),
    names.join(";"),
    req.payloadHash,
  ].join("\n")
  const scope = `${day}/${region}/s3/aws4_request`
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n")
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), "s3"), "aws4_request")
  const signature = createHmac("sha256", key).update(toSign).digest("hex")
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}` }
}
