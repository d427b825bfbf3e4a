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
import { describeFileSystemFailure } from "../file-system-error.ts"
import type { SigningCredentials } from "./sigv4.ts"
import { errnoCode, StoreCredentialsUnavailable } from "./store-errors.ts"
import { renewingWebIdentity, webIdentityFromEnv, type Env } from "./web-identity.ts"

export type { Env }

/** Credentials that renew themselves (web identity): `current` gives ones valid for the next request. */
export interface RenewingCredentials {
  readonly current: Effect.Effect<SigningCredentials, StoreCredentialsUnavailable>
}

/** What requests are signed with: fixed credentials, or renewing ones. */
export type CredentialSource = SigningCredentials | RenewingCredentials

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

const sharedFileOf = (env: Env): string => env.AWS_SHARED_CREDENTIALS_FILE ?? join(env.HOME ?? homedir(), ".aws", "credentials")

const fromSharedFile = (env: Env): Effect.Effect<SigningCredentials | undefined, StoreCredentialsUnavailable> => {
  const explicit = env.AWS_SHARED_CREDENTIALS_FILE
  const file = sharedFileOf(env)
  const profile = env.AWS_PROFILE ?? "default"
  return Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (e) => e,
  }).pipe(
    Effect.matchEffect({
      onFailure: (e) =>
        errnoCode(e) === "ENOENT" && explicit === undefined
          ? Effect.succeed(undefined)
          : Effect.fail(unavailable(file, describeFileSystemFailure("read the shared credentials file", file, e).message)),
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

/**
 * The credentials the environment gives (see the module doc for the order); web identity's renew
 * themselves, and their first exchange with STS happens here.
 */
export const resolveCredentialSource = (env: Env, region: string): Effect.Effect<CredentialSource, StoreCredentialsUnavailable> =>
  Effect.gen(function* () {
    const id = env.AWS_ACCESS_KEY_ID
    const secret = env.AWS_SECRET_ACCESS_KEY
    if (id !== undefined && id !== "" && secret !== undefined && secret !== "") {
      return { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined }
    }
    if ((id ?? "") !== "" || (secret ?? "") !== "") {
      return yield* Effect.fail(
        unavailable("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both"),
      )
    }
    const shared = yield* fromSharedFile(env)
    if (shared !== undefined) return shared
    const webIdentity = webIdentityFromEnv(env, region)
    if (webIdentity instanceof StoreCredentialsUnavailable) return yield* webIdentity
    if (webIdentity !== undefined) return { current: (yield* renewingWebIdentity(webIdentity)).current }
    // AWS_PROFILE names a profile of the default file, which is not there: say so, not only what could be set.
    const profileWithoutFile = env.AWS_PROFILE === undefined ? "" : ` (AWS_PROFILE is ${env.AWS_PROFILE}, but ${sharedFileOf(env)} does not exist)`
    return yield* Effect.fail(
      unavailable(
        "environment",
        `no S3 credentials${profileWithoutFile}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN`,
      ),
    )
  })

/** The credentials to sign with now (renewing ones: their current value). */
export const currentCredentials = (source: CredentialSource): Effect.Effect<SigningCredentials, StoreCredentialsUnavailable> =>
  "current" in source ? source.current : Effect.succeed(source)

/** Resolves credentials from the environment (see the module doc for the order): the ones to sign with now. */
export const resolveCredentials = (env: Env, region: string): Effect.Effect<SigningCredentials, StoreCredentialsUnavailable> =>
  resolveCredentialSource(env, region).pipe(Effect.flatMap(currentCredentials))
