/**
 * Web identity against a stub STS on loopback (real HTTP, AWS's XML), then a real upload to the
 * Swift store with the keys it hands out (Swift's test account's, with a session token).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { it as effectIt } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openStore } from "../../../src/services/store/open-store.ts"
import { resolveCredentialSource } from "../../../src/services/store/s3-credentials.ts"
import { assumeRoleWithWebIdentity, renewingWebIdentity, webIdentityFromEnv, type WebIdentity } from "../../../src/services/store/web-identity.ts"
import { createBucket, s3Server, type S3TestServer } from "../../support/s3-server.ts"
import { startForwardProxy, viaProxyName } from "../../support/forward-proxy.ts"
import { startStsStub, type StsGrant, type StsReply } from "../../support/sts-stub.ts"

const work = mkdtempSync(join(tmpdir(), "web-identity-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))
const tokenFile = join(work, "token")
const token = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXX0.c2lnbmF0dXJlLW9uZQ"
writeFileSync(tokenFile, `${token}\n`)
const roleArn = "arn:aws:iam::123456789012:role/cluster-backup"
const grant: StsGrant = {
  accessKeyId: "ASIATEMPORARYKEY0001",
  secretAccessKey: "temporary-secret-access-key-0001",
  sessionToken: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0001",
  expiresAt: Date.parse("2026-01-01T01:00:00Z"),
}

let reply: (form: URLSearchParams) => StsReply = () => ({ grant })
let sts: Awaited<ReturnType<typeof startStsStub>>
beforeAll(async () => {
  sts = await startStsStub((r) => reply(r.form))
})
afterAll(() => sts.close())

const identity = (): WebIdentity => ({ roleArn, tokenFile, sessionName: "cluster-backup", stsEndpoint: sts.url, timeoutMs: 5_000 })

/** Every printed form of a value: none may hold a secret. */
const printed = (value: unknown) => [String(value), JSON.stringify(value), inspect(value, { depth: 8 })].join("\n")
const secrets = [token, token.split(".")[2]!, grant.secretAccessKey, grant.sessionToken]

describe("web identity settings", () => {
  it("come from AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME, with the region's STS endpoint", () => {
    expect(webIdentityFromEnv({}, "eu-west-1")).toBeUndefined()
    expect(webIdentityFromEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: roleArn, AWS_ROLE_SESSION_NAME: "s1" }, "eu-west-1")).toEqual({
      roleArn,
      tokenFile,
      sessionName: "s1",
      stsEndpoint: "https://sts.eu-west-1.amazonaws.com/",
      timeoutMs: 30_000,
    })
    expect(webIdentityFromEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile }, "eu-west-1")).toMatchObject({
      _tag: "StoreCredentialsUnavailable",
      source: "AWS_ROLE_ARN",
    })
  })
})

describe("AssumeRoleWithWebIdentity against a stub STS", () => {
  it("posts the token unsigned as a form and returns temporary credentials with their expiry", async () => {
    reply = () => ({ grant })
    const before = sts.requests.length
    const got = await Effect.runPromise(assumeRoleWithWebIdentity(identity()))
    expect(got).toEqual(grant)
    const sent = sts.requests.slice(before)
    expect(sent).toHaveLength(1)
    expect(Object.fromEntries(sent[0]!.form)).toEqual({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: roleArn,
      RoleSessionName: "cluster-backup",
      WebIdentityToken: token,
    })
    expect(sent[0]!.headers.authorization).toBeUndefined()
  })

  it.each([
    ["AccessDenied", 403, "trust policy"],
    ["InvalidIdentityToken", 400, "did not accept the token in"],
    ["ExpiredTokenException", 400, "has expired"],
  ] as const)("%s: a StoreCredentialsUnavailable with the code, what to check, and no token", async (code, status, advice) => {
    reply = () => ({ error: code })
    const exit = await Effect.runPromiseExit(assumeRoleWithWebIdentity(identity()))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
    expect(error).toMatchObject({ _tag: "Fail", error: { _tag: "StoreCredentialsUnavailable", code, retryable: false } })
    const text = printed(exit)
    expect(text).toContain(`STS refused AssumeRoleWithWebIdentity for role ${roleArn}: ${code} (HTTP ${status})`)
    expect(text).toContain(advice)
    for (const s of secrets) expect(text).not.toContain(s)
  })

  it("a transient failure (503) is retried; an unreachable STS fails naming the endpoint, never the token", async () => {
    let calls = 0
    reply = () => (++calls < 3 ? { error: "ServiceUnavailable" } : { grant })
    expect(await Effect.runPromise(assumeRoleWithWebIdentity(identity()))).toEqual(grant)
    expect(calls).toBe(3)
    const closed = await startStsStub(() => ({ grant }))
    await closed.close()
    const exit = await Effect.runPromiseExit(assumeRoleWithWebIdentity({ ...identity(), stsEndpoint: closed.url }))
    const text = printed(exit)
    expect(text).toContain(`STS at ${closed.url} did not answer AssumeRoleWithWebIdentity (ECONNREFUSED)`)
    for (const s of secrets) expect(text).not.toContain(s)
  }, 30_000)

  it("an unreadable token file: the one file-system mapper's message, naming the file", async () => {
    const exit = await Effect.runPromiseExit(assumeRoleWithWebIdentity({ ...identity(), tokenFile: join(work, "absent") }))
    expect(printed(exit)).toContain(`cannot read the web identity token ${join(work, "absent")}: ENOENT`)
  })
})

describe("AssumeRoleWithWebIdentity through an HTTP proxy (the cluster-wide proxy)", () => {
  // STS named so that it goes through the proxy (a loopback host never does).
  const fromEnv = (env: Record<string, string>): WebIdentity => {
    const w = webIdentityFromEnv(
      { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: roleArn, AWS_ENDPOINT_URL_STS: viaProxyName(sts.url, "sts"), ...env },
      "us-east-1",
    )
    if (w === undefined || !("roleArn" in w)) throw new Error(`no web identity: ${String(w)}`)
    return w
  }

  it("goes through HTTP_PROXY (credentials from its URL), or directly to a loopback STS", async () => {
    reply = () => ({ grant })
    const proxy = await startForwardProxy({ credentials: "sts-user:sts-Pa55word" })
    try {
      const url = new URL(proxy.url)
      url.username = "sts-user"
      url.password = "sts-Pa55word"
      expect(await Effect.runPromise(assumeRoleWithWebIdentity(fromEnv({ HTTP_PROXY: url.href })))).toEqual(grant)
      expect(proxy.forwarded).toEqual([new URL(viaProxyName(sts.url, "sts")).host])
      expect(await Effect.runPromise(assumeRoleWithWebIdentity(fromEnv({ HTTP_PROXY: url.href, AWS_ENDPOINT_URL_STS: sts.url })))).toEqual(grant)
      expect(proxy.forwarded).toHaveLength(1)
    } finally {
      await proxy.close()
    }
  })

  it("a proxy refusing the credentials (407): one attempt, an error naming the proxy, not its password nor the token", async () => {
    const proxy = await startForwardProxy({ credentials: "sts-user:sts-Pa55word" })
    try {
      const url = new URL(proxy.url)
      url.username = "sts-user"
      url.password = "wr0ng-Pa55word"
      const exit = await Effect.runPromiseExit(assumeRoleWithWebIdentity(fromEnv({ HTTP_PROXY: url.href })))
      expect(exit).toMatchObject({ cause: { reasons: [{ error: { _tag: "StoreCredentialsUnavailable", code: "Proxy407", retryable: false } }] } })
      const text = printed(exit)
      expect(text).toContain(`proxy ${proxy.url} (HTTP_PROXY) refused to connect to ${new URL(viaProxyName(sts.url, "sts")).host}: HTTP 407`)
      expect(proxy.refused).toEqual([407])
      for (const s of [...secrets, "wr0ng-Pa55word"]) expect(text).not.toContain(s)
    } finally {
      await proxy.close()
    }
  })
})

describe("renewal", () => {
  effectIt.effect("renews shortly before expiry (Clock), reading the rotated token again; concurrent requests share one exchange", () =>
    Effect.gen(function* () {
      reply = (form) => ({
        grant: {
          ...grant,
          accessKeyId: `ASIA${form.get("WebIdentityToken")!.slice(-4)}`,
          expiresAt: grant.expiresAt + (form.get("WebIdentityToken")!.endsWith("two") ? 3_600_000 : 0),
        },
      })
      // A token file of its own: the other tests read the first token from theirs.
      const rotated = join(work, "rotated-token")
      writeFileSync(rotated, "token-one")
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const before = sts.requests.length
      const renewing = yield* renewingWebIdentity({ ...identity(), tokenFile: rotated })
      expect(renewing.first.accessKeyId).toBe("ASIA-one")
      expect(renewing.first.sessionToken).toBe(grant.sessionToken)
      // The kubelet rotates the token file; nothing is asked of STS until renewal is due.
      writeFileSync(rotated, "token-two")
      yield* TestClock.adjust("54 minutes")
      expect((yield* renewing.current).accessKeyId).toBe("ASIA-one")
      expect(sts.requests.length - before).toBe(1)
      // Five minutes before expiry: due. Eight requests at once, one exchange, with the new token.
      yield* TestClock.adjust("2 minutes")
      const all = yield* Effect.all(
        Array.from({ length: 8 }, () => renewing.current),
        { concurrency: "unbounded" },
      )
      expect(new Set(all.map((c) => c.accessKeyId))).toEqual(new Set(["ASIA-two"]))
      expect(sts.requests.length - before).toBe(2)
      expect(sts.requests.at(-1)!.form.get("WebIdentityToken")).toBe("token-two")
    }),
  )

  effectIt.effect("a failed renewal keeps credentials that are still valid, and fails once they expired", () =>
    Effect.gen(function* () {
      reply = () => ({ grant })
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const renewing = yield* renewingWebIdentity(identity())
      reply = () => ({ error: "AccessDenied" })
      yield* TestClock.adjust("56 minutes")
      expect((yield* renewing.current).accessKeyId).toBe(grant.accessKeyId)
      yield* TestClock.adjust("5 minutes")
      const exit = yield* Effect.exit(renewing.current)
      expect(printed(exit)).toContain("AccessDenied")
    }),
  )
})

describe("a real upload with web identity credentials (Swift s3api)", () => {
  let server: S3TestServer
  const bucket = `webid-${process.pid}`
  beforeAll(async () => {
    server = await s3Server()
    await createBucket(server, bucket)
  }, 200_000)

  it("the keys STS hands out (with their session token, sent as X-Amz-Security-Token) store and read back an object", async () => {
    reply = () => ({
      grant: {
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
        sessionToken: "swift-session-token-1",
        expiresAt: Date.now() + 3_600_000,
      },
    })
    const env = { HOME: work, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: roleArn, AWS_ENDPOINT_URL_STS: sts.url }
    const source = await Effect.runPromise(resolveCredentialSource(env, server.region))
    expect("current" in source).toBe(true)
    const store = await Effect.runPromise(
      openStore({ _tag: "S3", bucket, prefix: undefined }, { endpoint: server.endpoint, region: server.region, addressing: "path" }, env),
    )
    const bytes = new TextEncoder().encode("stored with temporary credentials")
    await Effect.runPromise(store.putBytes("wi/one", bytes))
    // Swift's s3api has no STS: it takes the header as one more signed header and ignores its value.
    expect(Buffer.from(await Effect.runPromise(store.getBytes("wi/one"))).toString()).toBe("stored with temporary credentials")
  })
})
