import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { readStsAnswer, renewalDueAt, renewalMarginMs, stsEndpointFor } from "../../src/domain/sts-response.ts"

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const value = fc.string({ minLength: 1, maxLength: 60 }).filter((s) => s.trim() === s && s !== "")
const at = fc.integer({ min: Date.parse("2000-01-01T00:00:00Z") / 1000, max: Date.parse("2100-01-01T00:00:00Z") / 1000 }).map((s) => s * 1000)

const success = (id: string, secret: string, token: string, expiresAt: number) =>
  `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><SessionToken>${xmlEscape(token)}</SessionToken>` +
  `<SecretAccessKey>${xmlEscape(secret)}</SecretAccessKey><Expiration>${new Date(expiresAt).toISOString()}</Expiration>` +
  `<AccessKeyId>${xmlEscape(id)}</AccessKeyId></Credentials><SourceIdentity/></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`

describe("readStsAnswer", () => {
  test.prop([value, value, value, at])("reads back any credentials AWS's XML carries, entities decoded", (id, secret, token, expiresAt) => {
    expect(readStsAnswer(200, success(id, secret, token, expiresAt))).toEqual({
      _tag: "Credentials",
      credentials: { accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiresAt },
    })
  })

  test.prop([
    fc.constantFrom("AccessDenied", "InvalidIdentityToken", "ExpiredTokenException", "IDPCommunicationError", "Throttling", "Other"),
    fc.integer({ min: 400, max: 599 }),
  ])("an ErrorResponse is a refusal with its code; retryable for 5xx, 429 and STS's transient codes only", (code, status) => {
    const answer = readStsAnswer(status, `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error></ErrorResponse>`)
    expect(answer).toEqual({
      _tag: "Refused",
      refusal: { code, status, retryable: status >= 500 || status === 429 || code === "IDPCommunicationError" || code === "Throttling" },
    })
  })

  it("a 200 without the three values is no credentials", () => {
    expect(readStsAnswer(200, "<x/>")).toMatchObject({ _tag: "Refused", refusal: { code: "IncompleteResponse" } })
    expect(readStsAnswer(502, "<html>bad gateway</html>")).toMatchObject({ _tag: "Refused", refusal: { code: "HTTP502", retryable: true } })
  })
})

describe("renewalDueAt", () => {
  test.prop([at, fc.integer({ min: 1000, max: 12 * 3_600_000 })])(
    "after it was obtained, before it expires; at most the margin before expiry",
    (obtainedAt, life) => {
      const due = renewalDueAt({ accessKeyId: "a", secretAccessKey: "s", sessionToken: "t", expiresAt: obtainedAt + life }, obtainedAt)
      expect(due).toBeGreaterThan(obtainedAt)
      expect(due).toBeLessThan(obtainedAt + life)
      expect(due).toBeGreaterThanOrEqual(obtainedAt + life - renewalMarginMs)
    },
  )
})

describe("stsEndpointFor", () => {
  it("the region's endpoint, the global one for legacy, or AWS_ENDPOINT_URL_STS; never AWS_ENDPOINT_URL", () => {
    expect(stsEndpointFor({}, "eu-central-1")).toBe("https://sts.eu-central-1.amazonaws.com/")
    expect(stsEndpointFor({ AWS_STS_REGIONAL_ENDPOINTS: "regional" }, "cn-north-1")).toBe("https://sts.cn-north-1.amazonaws.com.cn/")
    expect(stsEndpointFor({ AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "us-west-2")).toBe("https://sts.amazonaws.com/")
    expect(stsEndpointFor({ AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9/", AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "us-west-2")).toBe("http://127.0.0.1:9/")
    expect(stsEndpointFor({ AWS_ENDPOINT_URL: "http://s3.local:8080" }, "us-east-1")).toBe("https://sts.us-east-1.amazonaws.com/")
  })
})
