/**
 * Interoperability with the `age` CLI both ways: what the project encrypts `age -d` opens to the
 * same bytes, and what `age -r`/`age -R` encrypts the project opens; small files at the STREAM
 * chunk boundaries, several recipients, and a file of 200 MiB.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Redacted, Result } from "effect"
import { beforeEach, describe, expect, it } from "vitest"
import { payloadBytes } from "../../../src/domain/age-payload-layout.ts"
import { decryptFile, encryptFile } from "../../../src/services/crypto/age-files.ts"
import { generateIdentity, parseRecipient } from "../../../src/services/crypto/age-keys.ts"
import { age, identitiesOf, keygen, readBytes, sha256, sha256File, writePseudoRandom } from "./age-cli.ts"
import { tempDir } from "../../support/temp-dir.ts"

let dir: string
beforeEach(() => {
  dir = tempDir("age-interop")
})

const recipient = (text: string) => Result.getOrThrow(parseRecipient(text))
const boundarySizes = [0, 1, 65535, 65536, 65537, 131072, 131073, 200000]

describe("age interop with the age CLI", () => {
  it("derives the same recipient from an identity as age-keygen -y", async () => {
    const key = keygen(join(dir, "key.txt"))
    const ids = await identitiesOf(key.path)
    expect(ids.identities.map((i) => i.recipient)).toEqual([key.recipient])
  })

  it.each(boundarySizes)("%i bytes: what we encrypt, age -d decrypts to the same bytes; the size is the layout's", async (size) => {
    const key = keygen(join(dir, "key.txt"))
    const plain = join(dir, "plain")
    await writePseudoRandom(plain, size, size % 251)
    const result = await Effect.runPromise(encryptFile(plain, join(dir, "plain.age"), [recipient(key.recipient)]))
    const decrypted = age(["-d", "-i", key.path, join(dir, "plain.age")])
    expect(sha256(decrypted)).toBe(await sha256File(plain))
    expect(result.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(result.ciphertextBytes).toBe(statSync(join(dir, "plain.age")).size)
    // The header (through the MAC line), then exactly the payload the layout gives.
    const file = readBytes(join(dir, "plain.age"))
    const headerLength = file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1
    expect(result.ciphertextBytes).toBe(headerLength + payloadBytes(size))
    expect(statSync(join(dir, "plain.age")).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir).sort()).toEqual(["key.txt", "plain", "plain.age"])
  })

  it.each(boundarySizes)("%i bytes: what age -r encrypts, we decrypt to the same bytes", async (size) => {
    const key = keygen(join(dir, "key.txt"))
    const plain = join(dir, "plain")
    await writePseudoRandom(plain, size, 7)
    age(["-r", key.recipient, "-o", join(dir, "cli.age"), plain])
    const result = await Effect.runPromise(decryptFile(join(dir, "cli.age"), join(dir, "out"), await identitiesOf(key.path)))
    expect(await sha256File(join(dir, "out"))).toBe(await sha256File(plain))
    expect(result.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(result.ciphertextBytes).toBe(statSync(join(dir, "cli.age")).size)
  })

  it("age -R with several recipients (ours among them) and several -r: each identity alone decrypts", async () => {
    const a = keygen(join(dir, "a.txt"))
    const b = keygen(join(dir, "b.txt"))
    const ours = generateIdentity()
    writeFileSync(join(dir, "c.txt"), `# created by the test\n# public key: ${ours.recipient}\n${Redacted.value(ours.identity)}\n`, { mode: 0o600 })
    writeFileSync(join(dir, "recipients.txt"), `# the team\n${a.recipient}\n\n${b.recipient}\n${ours.recipient}\n`)
    const plain = join(dir, "plain")
    await writePseudoRandom(plain, 150000, 3)
    age(["-R", join(dir, "recipients.txt"), "-o", join(dir, "R.age"), plain])
    age(["-r", a.recipient, "-r", ours.recipient, "-o", join(dir, "r.age"), plain])
    for (const [file, keys] of [
      ["R.age", ["a.txt", "b.txt", "c.txt"]],
      ["r.age", ["a.txt", "c.txt"]],
    ] as const) {
      for (const k of keys) {
        const out = join(dir, `out-${file}-${k}`)
        await Effect.runPromise(decryptFile(join(dir, file), out, await identitiesOf(join(dir, k))))
        expect(await sha256File(out)).toBe(await sha256File(plain))
      }
    }
    // Several identity files: the one that matches is found whatever its place.
    await Effect.runPromise(decryptFile(join(dir, "r.age"), join(dir, "out-multi"), await identitiesOf(join(dir, "b.txt"), join(dir, "c.txt"))))
    expect(await sha256File(join(dir, "out-multi"))).toBe(await sha256File(plain))
  })

  it("what we encrypt to several recipients, age -d opens with each identity", async () => {
    const keys = [keygen(join(dir, "a.txt")), keygen(join(dir, "b.txt")), keygen(join(dir, "c.txt"))]
    const plain = join(dir, "plain")
    await writePseudoRandom(plain, 70000, 9)
    await Effect.runPromise(
      encryptFile(
        plain,
        join(dir, "multi.age"),
        keys.map((k) => recipient(k.recipient)),
      ),
    )
    for (const k of keys) expect(sha256(age(["-d", "-i", k.path, join(dir, "multi.age")]))).toBe(await sha256File(plain))
  })

  it("an empty plaintext: we encrypt it, age opens it; age's encryption of it, we open to an empty file", async () => {
    const key = keygen(join(dir, "key.txt"))
    writeFileSync(join(dir, "empty"), "")
    await Effect.runPromise(encryptFile(join(dir, "empty"), join(dir, "empty.age"), [recipient(key.recipient)]))
    expect(age(["-d", "-i", key.path, join(dir, "empty.age")]).length).toBe(0)
    age(["-r", key.recipient, "-o", join(dir, "cli.age"), join(dir, "empty")])
    await Effect.runPromise(decryptFile(join(dir, "cli.age"), join(dir, "out"), await identitiesOf(key.path)))
    expect(readBytes(join(dir, "out")).length).toBe(0)
  })

  it("200 MiB both ways: our ciphertext through age -d, age's through ours, same sha256", { timeout: 180_000 }, async () => {
    const key = keygen(join(dir, "key.txt"))
    const plain = join(dir, "plain")
    await writePseudoRandom(plain, 200 * 1024 * 1024, 42)
    const plainHash = await sha256File(plain)
    const ours = await Effect.runPromise(encryptFile(plain, join(dir, "ours.age"), [recipient(key.recipient)]))
    expect(ours.plaintext.sha256).toBe(plainHash)
    age(["-d", "-i", key.path, "-o", join(dir, "by-cli"), join(dir, "ours.age")])
    expect(await sha256File(join(dir, "by-cli"))).toBe(plainHash)
    rmSync(join(dir, "by-cli"))
    rmSync(join(dir, "ours.age"))
    age(["-r", key.recipient, "-o", join(dir, "cli.age"), plain])
    const theirs = await Effect.runPromise(decryptFile(join(dir, "cli.age"), join(dir, "by-us"), await identitiesOf(key.path)))
    expect(theirs.plaintext.sha256).toBe(plainHash)
    expect(await sha256File(join(dir, "by-us"))).toBe(plainHash)
  })
})
