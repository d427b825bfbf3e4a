/**
 * Web identity (OpenShift on AWS with STS): the service account token the kubelet projects into
 * the pod (`AWS_WEB_IDENTITY_TOKEN_FILE`) is exchanged with STS `AssumeRoleWithWebIdentity` for
 * the role `AWS_ROLE_ARN` (session `AWS_ROLE_SESSION_NAME`, default `cluster-backup`): an unsigned
 * form POST, answered with temporary credentials and a session token. They are renewed before
 * they expire (effect's Clock), and the token file is read again for every exchange, since the
 * kubelet rotates it. No token, key or session token ever reaches a message or a log line.
 */
import { readFile } from "node:fs/promises"
import http from "node:http"
import https from "node:https"
import { Clock, Effect, Schedule, Semaphore } from "effect"
import { proxyFor } from "../../domain/proxy-choice.ts"
import { readStsAnswer, renewalDueAt, stsEndpointFor, type StsRefusal, type TemporaryCredentials } from "../../domain/sts-response.ts"
import { describeFileSystemFailure } from "../file-system-error.ts"
import type { SigningCredentials } from "./sigv4.ts"
import { agentThrough, type ChosenProxy, proxyFailure } from "./proxy-agent.ts"
import { errnoCode, StoreCredentialsUnavailable } from "./store-errors.ts"

export type Env = Readonly<Record<string, string | undefined>>

export interface WebIdentity {
  readonly roleArn: string
  readonly tokenFile: string
  readonly sessionName: string
  readonly stsEndpoint: string
  /** One exchange's deadline; STS answers in well under a second. */
  readonly timeoutMs: number
  /** The HTTP(S) proxy the exchange goes through (`proxyFor`), or none. */
  readonly proxy?: ChosenProxy | undefined
}

/** The web identity the environment names, or undefined when `AWS_WEB_IDENTITY_TOKEN_FILE` is not set. */
export const webIdentityFromEnv = (env: Env, region: string): WebIdentity | undefined | StoreCredentialsUnavailable => {
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE
  if (tokenFile === undefined || tokenFile === "") return undefined
  const roleArn = env.AWS_ROLE_ARN
  if (roleArn === undefined || roleArn === "") {
    return new StoreCredentialsUnavailable({
      source: "AWS_ROLE_ARN",
      message: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the role to assume",
    })
  }
  const stsEndpoint = stsEndpointFor(env, region)
  const proxy = URL.canParse(stsEndpoint) ? proxyFor(env, new URL(stsEndpoint)) : { _tag: "Direct" as const }
  if (proxy._tag === "Invalid") return new StoreCredentialsUnavailable({ source: proxy.variable, message: proxy.message })
  return {
    roleArn,
    tokenFile,
    sessionName: env.AWS_ROLE_SESSION_NAME || "cluster-backup",
    stsEndpoint,
    timeoutMs: 30_000,
    ...(proxy._tag === "Proxy" ? { proxy } : {}),
  }
}

/** What to check for each refusal STS documents; the token itself is never quoted. */
const adviceFor = (w: WebIdentity, r: StsRefusal): string => {
  switch (r.code) {
    case "AccessDenied":
    case "IDPRejectedClaim":
      return "check that the role's trust policy names this cluster's OIDC provider, the pod's service account (system:serviceaccount:<namespace>:<name>) and the audience sts.amazonaws.com"
    case "InvalidIdentityToken":
      return `STS did not accept the token in ${w.tokenFile}: check that the role trusts this cluster's OIDC provider (issuer) and that the token's audience is sts.amazonaws.com`
    case "ExpiredToken":
    case "ExpiredTokenException":
      return `the token in ${w.tokenFile} has expired: the kubelet renews a projected token before it expires, so check the pod's projected volume and the node's clock`
    default:
      return r.retryable ? "STS failed for a while: try again later" : "check the role ARN and the service account token"
  }
}

const refused = (w: WebIdentity, r: StsRefusal) =>
  new StoreCredentialsUnavailable({
    source: w.stsEndpoint,
    code: r.code,
    retryable: r.retryable,
    message: `STS refused AssumeRoleWithWebIdentity for role ${w.roleArn}: ${r.code} (HTTP ${r.status}); ${adviceFor(w, r)}`,
  })

const unreachable = (w: WebIdentity, cause: unknown) => {
  // An aborted request's cause is the signal's reason: a TimeoutError when the deadline passed.
  const code = (cause as { cause?: { name?: unknown } }).cause?.name === "TimeoutError" ? "Timeout" : errnoCode(cause)
  const proxied = proxyFailure(w.proxy, new URL(w.stsEndpoint).host, cause)
  if (proxied !== undefined) {
    return new StoreCredentialsUnavailable({
      source: w.stsEndpoint,
      code: proxied.code,
      retryable: proxied.retryable,
      message: `STS at ${w.stsEndpoint} (AssumeRoleWithWebIdentity): ${proxied.text}`,
    })
  }
  return new StoreCredentialsUnavailable({
    source: w.stsEndpoint,
    code,
    retryable: true,
    message: `STS at ${w.stsEndpoint} did not answer AssumeRoleWithWebIdentity (${code}): check the network path to STS (a proxy, the region ${w.stsEndpoint.includes("amazonaws") ? "in the endpoint" : "or AWS_ENDPOINT_URL_STS"})`,
  })
}

/** Agents by web identity, so that its exchanges share the proxy's (or STS's) connections. */
const agents = new WeakMap<WebIdentity, http.Agent>()

/** Posts the form to STS (through the proxy, if any); resolves to the answer's status and text. */
const postForm = (w: WebIdentity, body: URLSearchParams, signal: AbortSignal): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(w.stsEndpoint)
    const agent = agents.get(w) ?? agentThrough(url.protocol, w.proxy, { keepAlive: true })
    agents.set(w, agent)
    const r = (url.protocol === "https:" ? https : http).request(
      url,
      { method: "POST", agent, signal, headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/xml" } },
      (res) => {
        // An http endpoint's request goes to the proxy itself: a 407 is the proxy's, as a tunnel's refusal is.
        if (res.statusCode === 407 && w.proxy !== undefined) {
          res.resume()
          reject(Object.assign(new Error("proxy authentication required"), { code: "ERR_PROXY_TUNNEL", statusCode: 407 }))
          return
        }
        const chunks: Array<Buffer> = []
        res.on("data", (d: Buffer) => chunks.push(d))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      },
    )
    r.on("error", reject)
    r.end(body.toString())
  })

/** One exchange: the token file read now, posted to STS, the answer read. */
export const assumeRoleWithWebIdentity = (w: WebIdentity): Effect.Effect<TemporaryCredentials, StoreCredentialsUnavailable> =>
  Effect.gen(function* () {
    const token = yield* Effect.tryPromise({
      try: () => readFile(w.tokenFile, "utf8"),
      catch: (e) =>
        new StoreCredentialsUnavailable({ source: w.tokenFile, message: describeFileSystemFailure("read the web identity token", w.tokenFile, e).message }),
    })
    const body = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: w.roleArn,
      RoleSessionName: w.sessionName,
      WebIdentityToken: token.trim(),
    })
    const response = yield* Effect.tryPromise({
      try: (signal) => postForm(w, body, AbortSignal.any([signal, AbortSignal.timeout(w.timeoutMs)])),
      catch: (e) => unreachable(w, e),
    })
    const answer = readStsAnswer(response.status, response.text)
    if (answer._tag === "Refused") return yield* refused(w, answer.refusal)
    return answer.credentials
  }).pipe(
    Effect.retry({
      schedule: Schedule.exponential(500, 2).pipe(Schedule.jittered),
      times: 3,
      while: (e) => e.retryable === true,
    }),
  )

/** After a failed renewal while the credentials in hand still hold: try again this much later, not on every request. */
const retryRenewalMs = 30_000

const signing = (c: TemporaryCredentials): SigningCredentials => ({
  accessKeyId: c.accessKeyId,
  secretAccessKey: c.secretAccessKey,
  sessionToken: c.sessionToken,
})

/**
 * Credentials for signing that renew themselves: the first exchange happens here (so a refusal
 * fails the command before any upload starts), later ones when `current` finds the credentials
 * due (`renewalDueAt`). Concurrent requests share one exchange. A renewal that fails while the
 * credentials in hand are still valid keeps them (and tries again on the next request).
 */
export const renewingWebIdentity = (w: WebIdentity) =>
  Effect.gen(function* () {
    const exchange = assumeRoleWithWebIdentity(w).pipe(
      Effect.flatMap((credentials) => Clock.currentTimeMillis.pipe(Effect.map((now) => ({ credentials, dueAt: renewalDueAt(credentials, now) })))),
      Effect.tap(({ credentials }) =>
        Effect.logInfo(
          `assumed role ${w.roleArn} through STS (web identity)${credentials.expiresAt === undefined ? "" : `, valid until ${new Date(credentials.expiresAt).toISOString()}`}`,
        ),
      ),
    )
    let held = yield* exchange
    const lock = Semaphore.makeUnsafe(1)
    const current: Effect.Effect<SigningCredentials, StoreCredentialsUnavailable> = Semaphore.withPermit(lock)(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (now < held.dueAt) return signing(held.credentials)
        const renewed = yield* exchange.pipe(
          Effect.catch((e) =>
            held.credentials.expiresAt !== undefined && now < held.credentials.expiresAt
              ? Effect.logWarning(
                  `renewing the credentials of role ${w.roleArn} failed; the current ones are still valid, trying again in 30 s: ${e.message}`,
                ).pipe(Effect.as({ ...held, dueAt: Math.min(now + retryRenewalMs, held.credentials.expiresAt) }))
              : Effect.fail(e),
          ),
        )
        held = renewed
        return signing(held.credentials)
      }),
    )
    return { first: signing(held.credentials), current }
  })
