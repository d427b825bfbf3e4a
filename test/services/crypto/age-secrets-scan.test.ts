/**
 * Secrets scan: whatever goes wrong, no identity (in any encoding) reaches an error's message,
 * its String, JSON or inspect form, nor an identity's own printed forms.
 */
import { fc, test } from "@fast-check/vitest"
import { inspect } from "node:util"
import { Result } from "effect"
import { describe, expect } from "vitest"
import { encodeBech32 } from "../../../src/domain/bech32.ts"
import { decryptAge } from "../../../src/services/crypto/age-decrypt.ts"
import { encryptAge } from "../../../src/services/crypto/age-encrypt.ts"
import { parseIdentityFile } from "../../../src/services/crypto/age-identity-files.ts"
import { generateIdentity, parseIdentity, parseRecipient } from "../../../src/services/crypto/age-keys.ts"

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
