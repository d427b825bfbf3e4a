import { describe, expect, it } from "vitest"
import { emptyPayloadHash, signRequest, uriEncodePath } from "../../../src/services/store/sigv4.ts"

describe("signRequest", () => {
  it("reproduces AWS's published SigV4 example (GET Object with a Range header)", () => {
    // "Signature Calculations for the Authorization Header", example "GET Object", S3 API reference.
    const headers = signRequest(
      {
        method: "GET",
        host: "examplebucket.s3.amazonaws.com",
        path: uriEncodePath("/test.txt"),
        query: {},
        headers: { range: "bytes=0-9" },
        payloadHash: emptyPayloadHash,
      },
      { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      "us-east-1",
      new Date("2013-05-24T00:00:00Z"),
    )
    expect(headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    )
  })

  it("reproduces AWS's published example of a query-string request (GET Bucket lifecycle)", () => {
    const headers = signRequest(
      { method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: { lifecycle: "" }, headers: {}, payloadHash: emptyPayloadHash },
      { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      "us-east-1",
      new Date("2013-05-24T00:00:00Z"),
    )
    expect(headers.authorization).toContain("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
  })

  it("a session token (temporary credentials) is sent as X-Amz-Security-Token and signed", () => {
    const headers = signRequest(
      { method: "GET", host: "b.s3.amazonaws.com", path: "/k", query: {}, headers: {}, payloadHash: emptyPayloadHash },
      { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "session-token" },
      "us-east-1",
      new Date("2026-01-01T00:00:00Z"),
    )
    expect(headers["x-amz-security-token"]).toBe("session-token")
    expect(headers.authorization).toContain("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,")
  })

  it("encodes key segments, keeping the separators", () => {
    expect(uriEncodePath("/b/a b/c+d/é*")).toBe("/b/a%20b/c%2Bd/%C3%A9%2A")
  })
})
