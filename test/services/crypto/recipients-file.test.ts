import { fc, test } from "@fast-check/vitest"
import { execFileSync } from "node:child_process"
import { symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { encodeBech32 } from "../../../src/domain/bech32.ts"
import { recipientsFingerprint } from "../../../src/domain/recipients-fingerprint.ts"
import { generateIdentity } from "../../../src/services/crypto/age-keys.ts"
import { parseRecipientsFile, readRecipientsFile } from "../../../src/services/crypto/recipients-file.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { age, keygen } from "./age-cli.ts"

const recipients = Array.from({ length: 4 }, () => generateIdentity().recipient)
const lineArb = fc.oneof(
  fc.constantFrom(...recipients),
  fc.string({ maxLength: 20 }).map((s) => `# ${s.replace(/[\r\n]/g, "")}`),
  fc.constantFrom("", "  ", "\t"),
)

describe("recipients files (as age -R reads them)", () => {
  test.prop([fc.array(lineArb, { maxLength: 12 })], { numRuns: 200 })(
    "every age1 line is a recipient, comments and blank lines are skipped; the fingerprint is the set's",
    (lines) => {
      const given = lines.filter((l) => l.startsWith("age1"))
      const parsed = parseRecipientsFile("r.txt", lines.join("\n"))
      if (given.length === 0) {
        expect(Result.isFailure(parsed)).toBe(true)
        return
      }
      const set = Result.getOrThrow(parsed)
      expect(set.recipients.map((r) => r.text)).toEqual(given)
      expect(set.fingerprint).toBe(recipientsFingerprint(given))
    },
  )

  it("refuses a low-order point (an all-zero key) by line, as age does, rather than failing the upload as a read of the snapshot", () => {
    const lowOrder = encodeBech32("age", new Uint8Array(32))
    const parsed = parseRecipientsFile("/k/r.txt", `${recipients[0]}\n${lowOrder}\n`)
    const error = Result.isFailure(parsed) ? parsed.failure : undefined
    expect(error?._tag).toBe("AgeRecipientInvalid")
    expect(error?.source).toBe("/k/r.txt line 2")
    expect(error?.message).toContain("low-order")
  })

  it("names the bad line by number and says what a recipients file holds", () => {
    const parsed = parseRecipientsFile("/k/r.txt", `# mine\n${recipients[0]}\nssh-ed25519 AAAA x\n`)
    const error = Result.isFailure(parsed) ? parsed.failure : undefined
    expect(error?.source).toBe("/k/r.txt line 3")
    expect(error?.message).toContain("/k/r.txt line 3")
    expect(error?.message).toContain("one age1... recipient per line")
  })

  it.each([
    [
      "an SSH public key (age -R reads it)",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKTRkp0XyGAmJeCTmJtyRUjUfEpEIIhv/2rpYLFOLLbO ops@bastion",
      "SSH public key (ssh-ed25519)",
    ],
    ["a plugin's recipient", encodeBech32("age1yubikey", new Uint8Array(33)), "plugin or post-quantum recipient (age1yubikey1...)"],
    ["age's post-quantum recipient", encodeBech32("age1pq", new Uint8Array(1216)), "plugin or post-quantum recipient (age1pq1...)"],
  ])("%s is refused as what it is, not as a malformed or mistyped age1 line", (_, line, what) => {
    const parsed = parseRecipientsFile("/k/r.txt", `${recipients[0]}\n${line}\n`)
    const message = Result.isFailure(parsed) ? parsed.failure.message : ""
    expect(message).toContain("/k/r.txt line 2")
    expect(message).toContain(what)
    expect(message).toContain("X25519 recipients only")
    expect(message).not.toContain("must start with")
    expect(message).not.toContain("printable ASCII")
  })

  it("an identity (private key) put in a recipients file is refused without showing it, with what to put there instead", () => {
    const identity = Redacted.value(generateIdentity().identity)
    for (const line of [identity, identity.toLowerCase(), `${identity}x`]) {
      const parsed = parseRecipientsFile("/k/r.txt", `${recipients[0]}\n${line}\n`)
      const message = Result.isFailure(parsed) ? parsed.failure.message : ""
      expect(message).toContain("/k/r.txt line 2")
      expect(message).toContain("age-keygen -y")
      expect(message.toUpperCase()).not.toContain(line.toUpperCase().slice(15, 40))
    }
  })

  test.prop([fc.string({ minLength: 1, maxLength: 80 }).filter((s) => s.trim() !== "" && !s.trim().startsWith("#") && !/[\r\n]/.test(s))])(
    "a line that is not a recipient is quoted only when it looks like one (age1 and lower-case letters and digits)",
    (line) => {
      const parsed = parseRecipientsFile("/k/r.txt", `${line}\n`)
      fc.pre(Result.isFailure(parsed))
      const message = Result.isFailure(parsed) ? parsed.failure.message : ""
      const trimmed = line.trim()
      if (!/^age1[0-9a-z]*$/.test(trimmed) && trimmed.length >= 12) expect(message).not.toContain(trimmed)
    },
  )

  it("reads the file age-keygen -y writes, through a symbolic link as a Secret volume has; what it encrypts to, age -d opens", async () => {
    const dir = tempDir("recipients")
    const id = keygen(join(dir, "id.txt"))
    writeFileSync(join(dir, "..data-recipients"), `# age-keygen -y\n${id.recipient}\n`)
    symlinkSync(join(dir, "..data-recipients"), join(dir, "recipients"))
    const set = await Effect.runPromise(readRecipientsFile(join(dir, "recipients")))
    expect(set.recipients.map((r) => r.text)).toEqual([id.recipient])
    const { encryptFile } = await import("../../../src/services/crypto/age-files.ts")
    writeFileSync(join(dir, "plain"), "secret bytes")
    await Effect.runPromise(encryptFile(join(dir, "plain"), join(dir, "plain.age"), set.recipients))
    expect(age(["-d", "-i", id.path, join(dir, "plain.age")]).toString()).toBe("secret bytes")
  })

  it("refuses a FIFO at once and a missing file with its path and errno", async () => {
    const dir = tempDir("recipients")
    execFileSync("mkfifo", [join(dir, "fifo")])
    const fifo = await Effect.runPromiseExit(readRecipientsFile(join(dir, "fifo")))
    expect(Exit.isFailure(fifo) && String(fifo.cause)).toContain("is not a regular file")
    const missing = await Effect.runPromiseExit(readRecipientsFile(join(dir, "nope")))
    if (!Exit.isFailure(missing)) throw new Error("expected a failure")
    const error = missing.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; reason: string; code?: string; path: string }
    expect(error).toMatchObject({ _tag: "MountedFileUnusable", reason: "Unreadable", code: "ENOENT", path: join(dir, "nope") })
  })
})
