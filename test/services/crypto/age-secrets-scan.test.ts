/**
 * Secrets scan: whatever goes wrong, no identity (in any encoding) reaches an error's message,
 * its String, JSON or inspect form, nor an identity's own printed forms; and the commands that
 * hold secrets (backup-upload with recipients, a signing key and S3 credentials; download and
 * verify with identities), run against Swift at every log level and in both log formats,
 * succeeding and failing, print none of them on stdout or stderr.
 */
import { fc, test } from "@fast-check/vitest"
import { generateKeyPairSync } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { inspect } from "node:util"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { encodeBech32 } from "../../../src/domain/bech32.ts"
import { decryptAge } from "../../../src/services/crypto/age-decrypt.ts"
import { encryptAge } from "../../../src/services/crypto/age-encrypt.ts"
import { parseIdentityFile } from "../../../src/services/crypto/age-identity-files.ts"
import { generateIdentity, parseIdentity, parseRecipient } from "../../../src/services/crypto/age-keys.ts"
import { copyBackup, fakeBackupForSuite } from "../../support/bad-backups.ts"
import { runCli } from "../../support/run-cli.ts"
import { createBucket, s3Env, s3Server } from "../../support/s3-server.ts"
import { keygen } from "./age-cli.ts"

const keyBytes = fc.uint8Array({ minLength: 32, maxLength: 32 })
const identityText = (raw: Uint8Array) => encodeBech32("age-secret-key-", raw).toUpperCase()

/** Every form the secret could leak in: the identity string either case, its data part, the raw key in hex and base64. */
const secretForms = (raw: Uint8Array): ReadonlyArray<string> => {
  const text = identityText(raw)
  const data = text.slice("AGE-SECRET-KEY-1".length, -6)
  return [
    text,
    text.toLowerCase(),
    data.slice(0, 24),
    data.slice(-24),
    data.slice(-24).toLowerCase(),
    Buffer.from(raw).toString("hex").slice(0, 24),
    Buffer.from(raw).toString("base64").slice(0, 24),
  ]
}

const printed = (value: unknown): ReadonlyArray<string> => [
  String(value),
  JSON.stringify(value) ?? "",
  inspect(value, { depth: 8 }),
  (value as { message?: string }).message ?? "",
]

const expectNoSecret = (value: unknown, raw: Uint8Array) => {
  for (const text of printed(value)) for (const form of secretForms(raw)) expect(text).not.toContain(form)
}

async function* once(bytes: Uint8Array) {
  yield bytes
}
const collect = async (it: AsyncIterable<Uint8Array>) => {
  const parts: Array<Uint8Array> = []
  for await (const p of it) parts.push(p)
  return Buffer.concat(parts)
}

describe("no identity in any output", () => {
  test.prop([keyBytes, fc.nat(), fc.constantFrom("Q", "P", "z", "-", " ", "1")], { numRuns: 300 })(
    "a damaged identity line: the error names file and line, never the line",
    (raw, at, replacement) => {
      const text = identityText(raw)
      const i = at % text.length
      const damaged = text.slice(0, i) + replacement + text.slice(i + 1)
      const parsed = parseIdentityFile("/secrets/identity.txt", `# key\n${damaged}\n`)
      if (Result.isSuccess(parsed)) {
        // The replacement was the same character: the key is intact; its forms must not print either.
        for (const identity of parsed.success) expectNoSecret(identity, raw)
        return
      }
      expect(parsed.failure.message).toContain("/secrets/identity.txt line 2")
      expectNoSecret(parsed.failure, raw)
    },
  )

  test.prop([keyBytes], { numRuns: 200 })("an identity prints only its source and recipient", (raw) => {
    const identity = Result.getOrThrow(parseIdentity(identityText(raw), "file line 1"))
    expectNoSecret(identity, raw)
    expect(inspect(identity)).toContain("<redacted>")
  })

  test.prop([keyBytes, fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.boolean()], { numRuns: 60 })(
    "decryption failures (no match, damaged header or payload) carry no identity",
    async (raw, plaintext, at, ours) => {
      const identity = Result.getOrThrow(parseIdentity(identityText(raw), "/secrets/identity.txt line 1"))
      const recipient = ours ? Result.getOrThrow(parseRecipient(identity.recipient)) : Result.getOrThrow(parseRecipient(generateIdentity().recipient))
      const file = await collect(encryptAge(once(plaintext), [recipient]))
      const damaged = Buffer.from(file)
      if (ours) damaged[at % damaged.length]! ^= 0x20
      let failure: unknown
      try {
        await collect(decryptAge(once(damaged), { source: "backup.age", identities: [identity], identityFiles: ["/secrets/identity.txt"] }))
      } catch (e) {
        failure = e
      }
      // The MAC covers the header and every chunk is authenticated: any flipped bit fails.
      expect(failure).toBeDefined()
      expectNoSecret(failure, raw)
      expect((failure as { message: string }).message).toContain("backup.age")
    },
  )
})

/** Every form a secret of these files could leak in: the identity's, the signing key's PEM body and raw bytes, the S3 secret. */
const fileSecretForms = (identityPaths: ReadonlyArray<string>, signingKeyPem: string, s3Secret: string): ReadonlyArray<string> => {
  const identities = identityPaths.flatMap((path) => {
    const text = readFileSync(path, "utf8").match(/AGE-SECRET-KEY-1[0-9A-Z]+/)![0]
    const data = text.slice("AGE-SECRET-KEY-1".length, -6)
    return [text, text.toLowerCase(), data.slice(0, 24), data.slice(-24), data.slice(-24).toLowerCase()]
  })
  const body = signingKeyPem
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("-----"))
    .join("")
  const raw = Buffer.from(body, "base64").subarray(-32)
  return [...identities, body.slice(0, 24), body.slice(-24), raw.toString("hex").slice(0, 24), raw.toString("base64").slice(0, 24), s3Secret]
}

describe("no secret in the commands' output", { timeout: 1_200_000 }, () => {
  const { work, backup } = fakeBackupForSuite("age-secrets-commands")
  it("backup-upload, download and verify with identities, a signing key and S3 credentials: at every log level and format, passing and failing", async () => {
    const id = "2026-01-02_030405"
    const mine = keygen(join(work, "identity.txt"))
    const other = keygen(join(work, "other-identity.txt"))
    writeFileSync(join(work, "recipients"), `${mine.recipient}\n`)
    const { privateKey, publicKey } = generateKeyPairSync("ed25519")
    const signingKeyPem = String(privateKey.export({ format: "pem", type: "pkcs8" }))
    writeFileSync(join(work, "signing.key"), signingKeyPem, { mode: 0o600 })
    writeFileSync(join(work, "trusted.pub"), publicKey.export({ format: "pem", type: "spki" }))
    const server = await s3Server()
    const env = s3Env(server)
    const bucket = `secrets-scan-${process.pid}`
    await createBucket(server, bucket)
    const forms = fileSecretForms([mine.path, other.path], signingKeyPem, server.secretAccessKey)
    const combos = ["trace", "debug", "info", "warn", "error"].flatMap((level) => ["text", "json"].map((format) => [level, format] as const))
    const runCombo = async ([level, format]: readonly [string, string]) => {
      const store = `s3://${bucket}/scan-${level}-${format}`
      const cli = (...args: Array<string>) => runCli(["--log-level", level, "--log-format", format, ...args], { env, timeoutMs: 120_000 })
      // A copy each: two uploads of one directory would both write its <file>.age.
      const dir = copyBackup(backup, join(work, `backup-${level}-${format}`))
      const runs = [
        await cli(
          "backup-upload",
          "--backup-dir",
          dir,
          "--store",
          store,
          "--recipients-file",
          join(work, "recipients"),
          "--signing-key",
          join(work, "signing.key"),
        ),
        await cli("download", store, id, join(work, `wrong-${level}-${format}`), "--identity", other.path),
      ]
      // trace prints every message the other levels print: the successful decryption there (verify stops at its missing etcdutl).
      if (level === "trace")
        runs.push(
          await cli(
            "verify",
            store,
            "--backup-id",
            id,
            "--identity",
            mine.path,
            "--trusted-key",
            join(work, "trusted.pub"),
            "--etcdutl",
            "/nonexistent/etcdutl",
          ),
        )
      expect(
        runs.map((r) => r.status),
        runs.map((r) => r.output.slice(-600)).join("\n----\n"),
      ).toEqual(level === "trace" ? [0, 1, 1] : [0, 1])
      return runs.map((r) => ({ combo: `${level}/${format}`, output: r.output }))
    }
    const outputs = []
    // A few at a time: the machine is shared.
    for (let i = 0; i < combos.length; i += 3) outputs.push(...(await Promise.all(combos.slice(i, i + 3).map(runCombo))).flat())
    expect(outputs.filter((o) => o.output.includes("age-encrypted")).map((o) => o.combo)).toContain("trace/json")
    for (const { combo, output } of outputs) for (const form of forms) expect(output.includes(form), `${combo}: ${form.slice(0, 6)}...`).toBe(false)
  })
})
