/**
 * Credentials for S3, from the sources every AWS tool reads, in the same order:
 * 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
 * 2. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`),
 *    profile `AWS_PROFILE` (default `default`);
 * 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, OpenShift on AWS with STS):
 *    the token is exchanged with STS `AssumeRoleWithWebIdentity` for temporary credentials.
 * Errors name the source (variable or file), never a value from it.
 */
import { readFile } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import type { SigningCredentials } from "./sigv4.ts"
import { errnoCode, StoreCredentialsUnavailable } from "./store-errors.ts"

export type Env = Readonly<Record<string, string | undefined>>

const unavailable = (source: string, message: string) => new StoreCredentialsUnavailable({ source, message })

/** `[profile]` sections of an INI file: `key = value` lines, `#`/`;` comments. */
export const parseIni = (text: string): Map<string, Map<string, string>> => {
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line)
    if (header !== null) {
      current = new Map()
      sections.set(header[1]!, current)
      continue
    }
    const eq = line.indexOf("=")
    if (current !== undefined && eq > 0) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim())
  }
  return sections
}

const fromSharedFile = (env: Env): Effect.Effect<SigningCredentials | undefined, StoreCredentialsUnavailable> => {
  const explicit = env.AWS_SHARED_CREDENTIALS_FILE
  const file = explicit ?? join(env.HOME ?? homedir(), ".aws", "credentials")
  const profile = env.AWS_PROFILE ?? "default"
  return Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (e) => e,
  }).pipe(
    Effect.matchEffect({
      onFailure: (e) =>
        errnoCode(e) === "ENOENT" && explicit === undefined
          ? Effect.succeed(undefined)
          : Effect.fail(unavailable(file, `cannot read the shared credentials file ${file} (${errnoCode(e)})`)),
      onSuccess: (text) => {
        const section = parseIni(text).get(profile)
        if (section === undefined) {
          return env.AWS_PROFILE === undefined && explicit === undefined
            ? Effect.succeed(undefined)
            : Effect.fail(unavailable(file, `profile ${profile} is not in ${file}`))
        }
        const accessKeyId = section.get("aws_access_key_id")
        const secretAccessKey = section.get("aws_secret_access_key")
        if (accessKeyId === undefined || secretAccessKey === undefined) {
          return Effect.fail(unavailable(file, `profile ${profile} in ${file} lacks aws_access_key_id or aws_secret_access_key`))
        }
        return Effect.succeed({ accessKeyId, secretAccessKey, sessionToken: section.get("aws_session_token") })
      },
    }),
  )
}

const xmlValue = (xml: string, tag: string): string | undefined => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1]

const fromWebIdentity = (env: Env, stsEndpoint: string): Effect.Effect<SigningCredentials, StoreCredentialsUnavailable> => {
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE!
  const roleArn = env.AWS_ROLE_ARN
  if (roleArn === undefined) return Effect.fail(unavailable("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the role to assume"))
  return Effect.gen(function* () {
    const token = yield* Effect.tryPromise({
      try: () => readFile(tokenFile, "utf8"),
      catch: (e) => unavailable(tokenFile, `cannot read the web identity token ${tokenFile} (${errnoCode(e)})`),
    })
    const body = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: roleArn,
      RoleSessionName: env.AWS_ROLE_SESSION_NAME ?? "cluster-backup",
      WebIdentityToken: token.trim(),
    })
    const response = yield* Effect.tryPromise({
      try: (signal) => fetch(stsEndpoint, { method: "POST", body, signal, headers: { "content-type": "application/x-www-form-urlencoded" } }).then(async (r) => ({ status: r.status, text: await r.text() })),
      catch: (e) => unavailable(stsEndpoint, `STS AssumeRoleWithWebIdentity at ${stsEndpoint} failed: ${errnoCode((e as { cause?: unknown }).cause ?? e)}`),
    })
    const accessKeyId = xmlValue(response.text, "AccessKeyId")
    const secretAccessKey = xmlValue(response.text, "SecretAccessKey")
    if (response.status !== 200 || accessKeyId === undefined || secretAccessKey === undefined) {
      const code = xmlValue(response.text, "Code") ?? `HTTP ${response.status}`
      return yield* Effect.fail(unavailable(stsEndpoint, `STS refused AssumeRoleWithWebIdentity for role ${roleArn}: ${code}; check the role's trust policy and the service account token`))
    }
    return { accessKeyId, secretAccessKey, sessionToken: xmlValue(response.text, "SessionToken") }
  })
}

/** The STS endpoint for web identity: `AWS_ENDPOINT_URL_STS`, else the region's. */
export const stsEndpointFor = (env: Env, region: string): string => env.AWS_ENDPOINT_URL_STS ?? `https://sts.${region}.amazonaws.com/`

/** Resolves credentials from the environment (see the module doc for the order). */
export const resolveCredentials = (env: Env, region: string): Effect.Effect<SigningCredentials, StoreCredentialsUnavailable> =>
  Effect.gen(function* () {
    const id = env.AWS_ACCESS_KEY_ID
    const secret = env.AWS_SECRET_ACCESS_KEY
    if (id !== undefined && id !== "" && secret !== undefined && secret !== "") {
      return { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined }
    }
    if ((id ?? "") !== "" || (secret ?? "") !== "") {
      return yield* Effect.fail(unavailable("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both"))
    }
    const shared = yield* fromSharedFile(env)
    if (shared !== undefined) return shared
    if (env.AWS_WEB_IDENTITY_TOKEN_FILE !== undefined) return yield* fromWebIdentity(env, stsEndpointFor(env, region))
    return yield* Effect.fail(
      unavailable(
        "environment",
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN",
      ),
    )
  })
