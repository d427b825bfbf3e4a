import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { resolveCredentials } from "../../../src/services/store/s3-credentials.ts"

const dir = mkdtempSync(join(tmpdir(), "s3-credentials-"))
const file = join(dir, "credentials")
writeFileSync(
  file,
  "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret-value\n\n[backup]\n# comment\naws_access_key_id=AKBACKUP\naws_secret_access_key=backup-secret-value\naws_session_token=tok\n",
)

describe("resolveCredentials", () => {
  it("takes the environment variables first", async () => {
    const c = await Effect.runPromise(
      resolveCredentials(
        { AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env-secret", AWS_SESSION_TOKEN: "t", AWS_SHARED_CREDENTIALS_FILE: file },
        "us-east-1",
      ),
    )
    expect(c).toEqual({ accessKeyId: "AKENV", secretAccessKey: "env-secret", sessionToken: "t" })
  })

  it("then the shared credentials file, profile AWS_PROFILE or default", async () => {
    expect(await Effect.runPromise(resolveCredentials({ AWS_SHARED_CREDENTIALS_FILE: file }, "us-east-1"))).toMatchObject({ accessKeyId: "AKDEFAULT" })
    expect(await Effect.runPromise(resolveCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "backup" }, "us-east-1"))).toEqual({
      accessKeyId: "AKBACKUP",
      secretAccessKey: "backup-secret-value",
      sessionToken: "tok",
    })
  })

  it("a missing profile, half the variables or nothing at all: an error naming the source, never a value", async () => {
    const missing = await Effect.runPromiseExit(resolveCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "nope" }, "us-east-1"))
    expect(JSON.stringify(missing)).toContain("profile nope is not in")
    const half = await Effect.runPromiseExit(resolveCredentials({ AWS_SECRET_ACCESS_KEY: "half-secret" }, "us-east-1"))
    expect(JSON.stringify(half)).toContain("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set")
    expect(JSON.stringify(half)).not.toContain("half-secret")
    const none = await Effect.runPromiseExit(resolveCredentials({ HOME: dir }, "us-east-1"))
    expect(Exit.isFailure(none)).toBe(true)
    expect(JSON.stringify(none)).toContain("no S3 credentials")
    // AWS_PROFILE naming a profile of a default file that is not there: said, not only what could be set.
    const noFile = await Effect.runPromiseExit(resolveCredentials({ HOME: dir, AWS_PROFILE: "backup" }, "us-east-1"))
    expect(JSON.stringify(noFile)).toContain(`no S3 credentials (AWS_PROFILE is backup, but ${join(dir, ".aws", "credentials")} does not exist): set`)
  })

  it("web identity without a role, or with an unreadable token: a clear error", async () => {
    const noRole = await Effect.runPromiseExit(resolveCredentials({ HOME: dir, AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token") }, "us-east-1"))
    expect(JSON.stringify(noRole)).toContain("AWS_ROLE_ARN is not")
    const noToken = await Effect.runPromiseExit(
      resolveCredentials({ HOME: dir, AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "missing-token"), AWS_ROLE_ARN: "arn:aws:iam::1:role/r" }, "us-east-1"),
    )
    expect(JSON.stringify(noToken)).toContain("cannot read the web identity token")
  })

  it("web identity: the token is exchanged with STS AssumeRoleWithWebIdentity for temporary credentials", async () => {
    writeFileSync(join(dir, "token"), "eyJ.token.sig\n")
    const bodies: Array<string> = []
    const sts = createServer((req, res) => {
      let body = ""
      req.on("data", (d: Buffer) => (body += d.toString()))
      req.on("end", () => {
        bodies.push(body)
        const ok = new URLSearchParams(body).get("RoleArn") === "arn:aws:iam::1:role/backup"
        res.writeHead(ok ? 200 : 403, { "content-type": "text/xml" })
        res.end(
          ok
            ? "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey><SessionToken>session-tok</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
            : "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not authorized</Message></Error></ErrorResponse>",
        )
      })
    })
    await new Promise<void>((r) => sts.listen(0, "127.0.0.1", () => r()))
    const url = `http://127.0.0.1:${(sts.address() as AddressInfo).port}/`
    try {
      const env = { HOME: dir, AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token"), AWS_ENDPOINT_URL_STS: url }
      expect(await Effect.runPromise(resolveCredentials({ ...env, AWS_ROLE_ARN: "arn:aws:iam::1:role/backup" }, "us-east-1"))).toEqual({
        accessKeyId: "ASIATEMP",
        secretAccessKey: "temp-secret",
        sessionToken: "session-tok",
      })
      expect(new URLSearchParams(bodies[0]).get("WebIdentityToken")).toBe("eyJ.token.sig")
      expect(new URLSearchParams(bodies[0]).get("Action")).toBe("AssumeRoleWithWebIdentity")
      const refused = JSON.stringify(await Effect.runPromiseExit(resolveCredentials({ ...env, AWS_ROLE_ARN: "arn:aws:iam::1:role/other" }, "us-east-1")))
      expect(refused).toContain("STS refused AssumeRoleWithWebIdentity for role arn:aws:iam::1:role/other: AccessDenied")
      expect(refused).not.toContain("eyJ.token.sig")
    } finally {
      sts.close()
    }
  })
})
