import { spawnSync } from "node:child_process"
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Redacted } from "effect"
import { beforeEach, describe, expect, it } from "vitest"
import { identityFileExposed, readIdentityFiles } from "../../../src/services/crypto/age-identity-files.ts"
import { generateIdentity } from "../../../src/services/crypto/age-keys.ts"
import { age, keygen } from "./age-cli.ts"
import { tempDir } from "../../support/temp-dir.ts"

let dir: string
beforeEach(() => {
  dir = tempDir("age-identities")
})

const read = (paths: ReadonlyArray<string>, allowExposed = false) => Effect.runPromiseExit(readIdentityFiles(paths, { allowExposed }))
const failureOf = <A>(exit: Exit.Exit<A, unknown>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  return exit.cause.reasons.find((r) => r._tag === "Fail")?.error as {
    _tag: string
    message: string
    path: string
    line?: number
    mode?: string
    code?: string
  }
}

describe("age identity files", () => {
  it("reads age-keygen's file (comments included) and several files, in order", async () => {
    const a = keygen(join(dir, "a.txt"))
    const b = generateIdentity()
    const c = generateIdentity()
    writeFileSync(join(dir, "bc.txt"), `# two keys\r\n\n${Redacted.value(b.identity)}\r\n   \n# another\n${Redacted.value(c.identity)}\n`, { mode: 0o600 })
    const exit = await read([join(dir, "a.txt"), join(dir, "bc.txt")])
    if (!Exit.isSuccess(exit)) throw new Error("expected success")
    expect(exit.value.files).toEqual([join(dir, "a.txt"), join(dir, "bc.txt")])
    expect(exit.value.identities.map((i) => i.recipient)).toEqual([a.recipient, b.recipient, c.recipient])
    expect(exit.value.identities.map((i) => i.source)).toEqual([
      `${join(dir, "a.txt")} line 3`,
      `${join(dir, "bc.txt")} line 3`,
      `${join(dir, "bc.txt")} line 6`,
    ])
  })

  it.each([0o644, 0o640, 0o604, 0o660, 0o601])("refuses a file with mode %o (readable or usable by group or others), naming it and its mode", async (mode) => {
    keygen(join(dir, "key.txt"))
    chmodSync(join(dir, "key.txt"), mode)
    const error = failureOf(await read([join(dir, "key.txt")]))
    expect(error._tag).toBe("AgeIdentityFileExposed")
    expect(error.mode).toBe(mode.toString(8))
    expect(error.message).toContain(join(dir, "key.txt"))
    expect(error.message).toContain("chmod 600")
    // The override reads it.
    expect(Exit.isSuccess(await read([join(dir, "key.txt")], true))).toBe(true)
  })

  it.each([0o600, 0o400])("accepts mode %o", async (mode) => {
    keygen(join(dir, "key.txt"))
    chmodSync(join(dir, "key.txt"), mode)
    expect(Exit.isSuccess(await read([join(dir, "key.txt")]))).toBe(true)
  })

  it("follows a symbolic link to a private file (how a Secret volume presents its keys) and judges the file's mode", async () => {
    keygen(join(dir, "key.txt"))
    symlinkSync(join(dir, "key.txt"), join(dir, "link.txt"))
    expect(Exit.isSuccess(await read([join(dir, "link.txt")]))).toBe(true)
    chmodSync(join(dir, "key.txt"), 0o644)
    expect(failureOf(await read([join(dir, "link.txt")]))._tag).toBe("AgeIdentityFileExposed")
  })

  it("a missing file: names it and the errno code", async () => {
    const error = failureOf(await read([join(dir, "missing.txt")]))
    expect(error).toMatchObject({ _tag: "AgeIdentityFileUnreadable", code: "ENOENT", path: join(dir, "missing.txt") })
    expect(error.message).toContain(join(dir, "missing.txt"))
  })

  it("a line that is not an identity: names the file and line, never quotes it", async () => {
    const secret = Redacted.value(generateIdentity().identity)
    const damaged = secret.slice(0, 30) + (secret[30] === "Q" ? "P" : "Q") + secret.slice(31)
    writeFileSync(join(dir, "bad.txt"), `# key\n${damaged}\n`, { mode: 0o600 })
    const error = failureOf(await read([join(dir, "bad.txt")]))
    expect(error).toMatchObject({ _tag: "AgeIdentityFileInvalid", line: 2 })
    expect(error.message).toContain(`${join(dir, "bad.txt")} line 2`)
    expect(error.message).toContain("checksum")
    expect(error.message).not.toContain(damaged.slice(16, 40))
  })

  it("a recipient or an SSH key where an identity belongs, and a file with only comments, are refused", async () => {
    // A recipients file as written (age-keygen -y key.txt > recipients.txt: mode 0644) is named for what it holds, not its mode.
    writeFileSync(join(dir, "recipient.txt"), `# team\n${generateIdentity().recipient}\r\n`, { mode: 0o644 })
    chmodSync(join(dir, "recipient.txt"), 0o644)
    expect(failureOf(await read([join(dir, "recipient.txt")]))).toMatchObject({
      _tag: "AgeIdentityFileInvalid",
      line: 0,
      message: `${join(dir, "recipient.txt")} holds age recipients (public keys, age1...), not identities: give the identity file (AGE-SECRET-KEY-1..., as age-keygen -o wrote it) of one of those recipients`,
    })
    // A secret key in it, even in the wrong case, makes it a secret: its mode is judged first.
    const secret = keygen(join(dir, "lower.txt"))
    writeFileSync(join(dir, "lower.txt"), `${readFileSync(secret.path, "utf8").toLowerCase()}${generateIdentity().recipient}\n`)
    chmodSync(join(dir, "lower.txt"), 0o644)
    expect(failureOf(await read([join(dir, "lower.txt")]))._tag).toBe("AgeIdentityFileExposed")
    writeFileSync(join(dir, "ssh.txt"), "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 })
    expect(failureOf(await read([join(dir, "ssh.txt")]))).toMatchObject({ _tag: "AgeIdentityFileInvalid", line: 1 })
    writeFileSync(join(dir, "comments.txt"), "# nothing here\n", { mode: 0o600 })
    expect(failureOf(await read([join(dir, "comments.txt")]))).toMatchObject({ _tag: "AgeIdentityFileInvalid", line: 0 })
  })

  it.each([
    ["plain", []],
    ["armored", ["-a"]],
  ])(
    "an age-encrypted identity file (%s, as age -p writes one, which age -i asks the passphrase of) is named as such, not as a damaged line 1",
    async (_, armor) => {
      const inner = keygen(join(dir, "inner.txt"))
      const outer = keygen(join(dir, "outer.txt"))
      writeFileSync(join(dir, "key.age"), age([...armor, "-r", outer.recipient, join(dir, "inner.txt")]), { mode: 0o600 })
      const error = failureOf(await read([join(dir, "key.age")]))
      expect(error).toMatchObject({ _tag: "AgeIdentityFileInvalid", path: join(dir, "key.age"), line: 0 })
      expect(error.message).toContain("age-encrypted")
      expect(error.message).toContain(`age -d -o key.txt ${join(dir, "key.age")}`)
      expect(error.message).not.toContain("checksum")
      // What the message says to do gives an identity file that is read.
      writeFileSync(join(dir, "key.txt"), age(["-d", "-i", outer.path, join(dir, "key.age")]), { mode: 0o600 })
      const exit = await read([join(dir, "key.txt")])
      expect(Exit.isSuccess(exit) && exit.value.identities.map((i) => i.recipient)).toEqual([inner.recipient])
    },
  )

  it.each([
    ["ssh-keygen's own format", ["-t", "ed25519"]],
    ["the older PEM format", ["-t", "rsa", "-b", "2048", "-m", "PEM"]],
  ])("an SSH private key (%s) is named as such, with what to give instead, and never quoted", async (_, options) => {
    const path = join(dir, "id_key")
    const made = spawnSync("ssh-keygen", [...options, "-N", "", "-q", "-f", path])
    expect(made.status, String(made.stderr)).toBe(0)
    const error = failureOf(await read([path]))
    expect(error).toMatchObject({ _tag: "AgeIdentityFileInvalid", path })
    expect(error.message).toContain(`${path} is an SSH private key, which cluster-backup does not take as an identity`)
    expect(error.message).toContain("age-keygen")
    expect(error.message).not.toContain("printable ASCII")
    const body = readFileSync(path, "utf8").split("\n")[1]!
    expect(error.message).not.toContain(body.slice(0, 20))
  })

  it("a directory in place of the file is refused by name", async () => {
    const error = failureOf(await read([dir]))
    expect(error._tag).toBe("AgeIdentityFileInvalid")
    expect(error.message).toContain("not a regular file")
  })

  it("identityFileExposed: any bit for group or others", () => {
    for (let mode = 0; mode < 0o1000; mode++) expect(identityFileExposed(mode)).toBe((mode & 0o077) !== 0)
  })
})
