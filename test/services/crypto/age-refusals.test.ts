/**
 * Refusals: an age file made by the `age` CLI, damaged in each way an attacker or a broken
 * transfer could, is refused by `decryptFile` with a tagged error naming the file, and no
 * plaintext file (nor `.part`) is left, even when chunks before the damage had authenticated.
 */
import { readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { ciphertextChunkBytes, payloadNonceBytes } from "../../../src/domain/age-payload-layout.ts"
import { decryptFile } from "../../../src/services/crypto/age-files.ts"
import { age, identitiesOf, keygen, readBytes, writePseudoRandom } from "./age-cli.ts"
import { tempDir } from "../../support/temp-dir.ts"

const dir = tempDir("age-refusals")
let single: Buffer
let double: Buffer
let headerLength: number
let doubleHeaderLength: number
let keyA: string
let keyC: string

const endOfHeader = (file: Buffer) => file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1

beforeAll(async () => {
  const a = keygen(join(dir, "a.txt"))
  const b = keygen(join(dir, "b.txt"))
  keygen(join(dir, "c.txt"))
  keyA = a.path
  keyC = join(dir, "c.txt")
  // Four chunks: three full, one of 1000 bytes.
  await writePseudoRandom(join(dir, "plain"), 3 * 65536 + 1000, 5)
  age(["-r", a.recipient, "-o", join(dir, "single.age"), join(dir, "plain")])
  age(["-r", b.recipient, "-r", a.recipient, "-o", join(dir, "double.age"), join(dir, "plain")])
  single = readBytes(join(dir, "single.age"))
  double = readBytes(join(dir, "double.age"))
  headerLength = endOfHeader(single)
  doubleHeaderLength = endOfHeader(double)
})

const chunkStart = (i: number) => headerLength + payloadNonceBytes + i * ciphertextChunkBytes
const chunk = (i: number) => single.subarray(chunkStart(i), Math.min(single.length, chunkStart(i + 1)))
const flipBit = (bytes: Buffer, at: number) => {
  const copy = Buffer.from(bytes)
  copy[at]! ^= 0x01
  return copy
}
/** Replaces one base64 character with another valid one, so the header still parses. */
const changeBase64Char = (bytes: Buffer, at: number) => {
  const copy = Buffer.from(bytes)
  copy[at] = copy[at] === 0x41 ? 0x42 : 0x41
  return copy
}

const refuse = async (name: string, bytes: Buffer, identityFiles: ReadonlyArray<string> = [keyA]) => {
  const input = join(dir, `${name}.age`)
  const output = join(dir, `${name}.out`)
  writeFileSync(input, bytes)
  const exit = await Effect.runPromiseExit(
    Effect.flatMap(
      Effect.promise(() => identitiesOf(...identityFiles)),
      (ids) => decryptFile(input, output, ids),
    ),
  )
  const left = readdirSync(dir).filter((f) => f.startsWith(`${name}.out`))
  expect(left).toEqual([])
  if (!Exit.isFailure(exit)) throw new Error(`${name}: decryption succeeded`)
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; message: string }
  expect(error.message).toContain(input)
  return error
}

describe("age decryption refuses damaged or foreign files, leaving no plaintext", () => {
  it("the intact file decrypts (the baseline the damage is measured against)", async () => {
    writeFileSync(join(dir, "intact.age"), single)
    const result = await Effect.runPromise(decryptFile(join(dir, "intact.age"), join(dir, "intact.out"), await identitiesOf(keyA)))
    expect(result.plaintext.size).toBe(3 * 65536 + 1000)
  })

  it("a wrong identity: names every identity file tried and says none matched", async () => {
    const error = await refuse("wrong-identity", single, [keyC, join(dir, "b.txt")])
    expect(error._tag).toBe("AgeNoIdentityMatched")
    expect(error.message).toContain(keyC)
    expect(error.message).toContain(join(dir, "b.txt"))
    expect(error.message).toContain("1 X25519 recipient")
  })

  it("an empty file", async () => {
    const error = await refuse("empty", Buffer.alloc(0))
    expect(error._tag).toBe("AgeHeaderInvalid")
    expect(error.message).toContain("is empty")
  })

  it.each([
    ["inside the header", () => 40, "AgeHeaderInvalid", "ends inside its header"],
    ["right after the header", () => headerLength, "AgeHeaderInvalid", "cut short"],
    ["after the payload nonce", () => headerLength + payloadNonceBytes, "AgePayloadTruncated", "cut short"],
    ["at a chunk boundary (the last chunk gone)", () => chunkStart(3), "AgePayloadTruncated", "without the last one"],
    ["inside a middle chunk", () => chunkStart(1) + 5000, "AgePayloadCorrupt", "cut short"],
    ["inside the last chunk", () => single.length - 1, "AgePayloadCorrupt", "cut short"],
  ])("truncated %s", async (name, at, tag, words) => {
    const error = await refuse(`cut-${name.replaceAll(" ", "-").replace(/[()]/g, "")}`, single.subarray(0, at()))
    expect(error._tag).toBe(tag)
    expect(error.message).toContain(words)
  })

  it("a flipped bit in the version line", async () => {
    expect((await refuse("flip-version", flipBit(single, 3)))._tag).toBe("AgeHeaderInvalid")
  })

  it("a flipped bit in the identity's own stanza: refused as a malformed header or as no match", async () => {
    const share = single.indexOf("-> X25519 ") + 15
    expect(["AgeHeaderInvalid", "AgeNoIdentityMatched"]).toContain((await refuse("flip-share", changeBase64Char(single, share)))._tag)
  })

  it("another recipient's stanza altered: the identity still opens the file key, the header MAC refuses it", async () => {
    const otherShare = double.indexOf("-> X25519 ") + 15
    const error = await refuse("flip-other-stanza", changeBase64Char(double, otherShare))
    expect(error._tag).toBe("AgeHeaderMacMismatch")
    expect(doubleHeaderLength).toBeGreaterThan(headerLength)
  })

  it("a changed MAC", async () => {
    const error = await refuse("flip-mac", changeBase64Char(single, single.indexOf("\n--- ") + 10))
    expect(error._tag).toBe("AgeHeaderMacMismatch")
  })

  it("a flipped bit in the payload nonce: every chunk fails from the first", async () => {
    const error = await refuse("flip-nonce", flipBit(single, headerLength + 3))
    expect(error).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 0 })
  })

  it.each([
    ["the first chunk", 0],
    ["a middle chunk", 1],
    ["a middle chunk's tag", 2],
    ["the last chunk", 3],
  ])("a flipped bit in %s", async (name, i) => {
    const at = name.includes("tag") ? chunkStart(i + 1) - 3 : chunkStart(i) + 100
    const error = await refuse(`flip-chunk-${i}${name.includes("tag") ? "-tag" : ""}`, flipBit(single, at))
    expect(error).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: i })
  })

  it("two chunks swapped", async () => {
    const swapped = Buffer.concat([single.subarray(0, chunkStart(0)), chunk(1), chunk(0), chunk(2), chunk(3)])
    expect(await refuse("swapped", swapped)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 0 })
  })

  it("a chunk dropped (the rest moved up)", async () => {
    const dropped = Buffer.concat([single.subarray(0, chunkStart(0)), chunk(0), chunk(2), chunk(3)])
    expect(await refuse("dropped", dropped)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 1 })
  })

  it("a chunk repeated", async () => {
    const repeated = Buffer.concat([single.subarray(0, chunkStart(0)), chunk(0), chunk(0), chunk(1), chunk(2), chunk(3)])
    expect(await refuse("repeated", repeated)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 1 })
  })

  it("data appended after the last chunk", async () => {
    const error = await refuse("appended", Buffer.concat([single, Buffer.from("more")]))
    expect(error._tag).toBe("AgePayloadCorrupt")
  })

  it("the last chunk of another encryption of the same plaintext spliced in", async () => {
    const other = age(["-r", (await identitiesOf(keyA)).identities[0]!.recipient, join(dir, "plain")])
    const otherLast = other.subarray(endOfHeader(other) + payloadNonceBytes + 3 * ciphertextChunkBytes)
    const spliced = Buffer.concat([single.subarray(0, chunkStart(3)), otherLast])
    expect(await refuse("spliced", spliced)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 3 })
  })

  it("encrypting or decrypting refuses an input that is not a regular file (a FIFO, a symbolic link) by name", async () => {
    const { execFileSync } = await import("node:child_process")
    const { symlinkSync } = await import("node:fs")
    execFileSync("mkfifo", [join(dir, "fifo.age")])
    symlinkSync(join(dir, "single.age"), join(dir, "link.age"))
    for (const input of [join(dir, "fifo.age"), join(dir, "link.age")]) {
      const exit = await Effect.runPromiseExit(
        Effect.flatMap(
          Effect.promise(() => identitiesOf(keyA)),
          (ids) => decryptFile(input, join(dir, "never.out"), ids),
        ),
      )
      if (!Exit.isFailure(exit)) throw new Error(`${input} was read`)
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; path: string }
      expect(error).toMatchObject({ _tag: "BackupFileRefused", path: input })
      expect(readdirSync(dir).filter((f) => f.startsWith("never.out"))).toEqual([])
    }
  })
})
