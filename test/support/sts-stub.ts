/**
 * A stub of AWS STS on loopback (real HTTP): `AssumeRoleWithWebIdentity` answered with XML shaped
 * like AWS's, credentials or an error (`AccessDenied` 403, `InvalidIdentityToken` and
 * `ExpiredTokenException` 400, `ServiceUnavailable` 503) as AWS returns them. It records every
 * request (form fields and headers) so a test can see what was sent.
 */
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

export interface StsGrant {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  /** When the credentials expire (epoch ms). */
  readonly expiresAt: number
}

export type StsReply =
  | { readonly grant: StsGrant }
  | { readonly error: "AccessDenied" | "InvalidIdentityToken" | "ExpiredTokenException" | "ServiceUnavailable" }

export interface StsRequest {
  readonly form: URLSearchParams
  readonly headers: IncomingHttpHeaders
}

const errorStatus = { AccessDenied: 403, InvalidIdentityToken: 400, ExpiredTokenException: 400, ServiceUnavailable: 503 } as const
const errorMessage = {
  AccessDenied: "Not authorized to perform sts:AssumeRoleWithWebIdentity",
  InvalidIdentityToken: "No OpenIDConnect provider found in your account for https://oidc.example.com",
  ExpiredTokenException: "Token expired: current date/time 1764680000 must be before the expiration date/time 1764676400",
  ServiceUnavailable: "Service is unavailable",
} as const

const successXml = (g: StsGrant, form: URLSearchParams) => `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:openshift-etcd:cluster-backup</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>${form.get("RoleArn")?.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")}/${form.get("RoleSessionName")}</Arn>
      <AssumedRoleId>AROAEXAMPLE:${form.get("RoleSessionName")}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${g.sessionToken}</SessionToken>
      <SecretAccessKey>${g.secretAccessKey}</SecretAccessKey>
      <Expiration>${new Date(g.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration>
      <AccessKeyId>${g.accessKeyId}</AccessKeyId>
    </Credentials>
    <SourceIdentity/>
    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.example.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`

const errorXml = (code: keyof typeof errorStatus) => `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>${code === "ServiceUnavailable" ? "Receiver" : "Sender"}</Type>
    <Code>${code}</Code>
    <Message>${errorMessage[code]}</Message>
  </Error>
  <RequestId>5e0e4b2a-4f0c-4b71-9a3a-0c5b0a3b1f1e</RequestId>
</ErrorResponse>
`

/** Starts the stub; `reply` decides each answer from the request (the form as posted). */
export const startStsStub = async (reply: (request: StsRequest) => StsReply) => {
  const requests: Array<StsRequest> = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (d: Buffer) => (body += d.toString("utf8")))
    req.on("end", () => {
      const form = new URLSearchParams(req.method === "GET" ? (req.url ?? "").split("?")[1] : body)
      const request = { form, headers: req.headers }
      requests.push(request)
      const answer = form.get("Action") === "AssumeRoleWithWebIdentity" ? reply(request) : ({ error: "AccessDenied" } as const)
      res.writeHead("grant" in answer ? 200 : errorStatus[answer.error], { "content-type": "text/xml" })
      res.end("grant" in answer ? successXml(answer.grant, form) : errorXml(answer.error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
