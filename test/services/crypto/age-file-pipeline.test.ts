/**
 * The file pipeline on worker threads (inputs of `workersFromBytes` and more): what it encrypts the
 * age CLI opens, what the CLI encrypts it opens, at the sizes where the main thread hands over and
 * where the last piece is full; a damaged or cut file is refused at the right chunk past the first
 * piece, and nothing is left under the output's name.
 */
import { readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { ciphertextChunkBytes, payloadNonceBytes } from "../../../src/domain/age-payload-layout.ts"
import { workersFromBytes } from "../../../src/services/crypto/age-file-pipeline.ts"
import { decryptFile, encryptFile } from "../../../src/services/crypto/age-files.ts"
import { parseRecipient } from "../../../src/services/crypto/age-keys.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { age, identitiesOf, keygen, readBytes, sha256, sha256File, writePseudoRandom } from "./age-cli.ts"

const dir = tempDir("age-pipeline")
const piece = 16 * 64 * 1024
let key: { readonly path: string; readonly recipient: string }
beforeAll(() => {
  key = keygen(join(dir, "key.txt"))
})

describe("age files through the worker threads", () => {
  it.each([
    ["just under the hand-over to workers", workersFromBytes - 1],
    ["at the hand-over", workersFromBytes],
    ["a whole number of pieces (the last piece full)", 9 * piece],
    ["pieces and a short chunk", 9 * piece + 65536 + 3],
  ])("%s: encrypted, age -d opens it; age -r's, opened; both sides' sha256", async (_, size) => {
    const plain = join(dir, `plain-${size}`)
    await writePseudoRandom(plain, size, 3)
    const ours = await Effect.runPromise(encryptFile(plain, join(dir, `ours-${size}.age`), [Result.getOrThrow(parseRecipient(key.recipient))]))
    expect(sha256(age(["-d", "-i", key.path, join(dir, `ours-${size}.age`)]))).toBe(await sha256File(plain))
    expect(ours.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(ours.ciphertext.sha256).toBe(await sha256File(join(dir, `ours-${size}.age`)))
    age(["-r", key.recipient, "-o", join(dir, `cli-${size}.age`), plain])
    const theirs = await Effect.runPromise(decryptFile(join(dir, `cli-${size}.age`), join(dir, `out-${size}`), await identitiesOf(key.path)))
    expect(theirs.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(theirs.ciphertext.sha256).toBe(await sha256File(join(dir, `cli-${size}.age`)))
  })

  describe("refusals past the first piece", () => {
    let file: Buffer
    let payload: number
    beforeAll(async () => {
      await writePseudoRandom(join(dir, "big"), 10 * piece + 5000, 9)
      age(["-r", key.recipient, "-o", join(dir, "big.age"), join(dir, "big")])
      file = readBytes(join(dir, "big.age"))
      payload = file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1 + payloadNonceBytes
    })
    const refuse = async (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, `${name}.age`), bytes)
      const exit = await Effect.runPromiseExit(decryptFile(join(dir, `${name}.age`), join(dir, `${name}.out`), await identitiesOf(key.path)))
      expect(readdirSync(dir).filter((f) => f.startsWith(`${name}.out`))).toEqual([])
      if (!Exit.isFailure(exit)) throw new Error(`${name} was opened`)
      return exit.cause.reasons.find((r) => r._tag === "Fail")?.error
    }
    const chunkStart = (i: number) => payload + i * ciphertextChunkBytes

    it("a flipped bit in chunk 37 (the third piece)", async () => {
      const damaged = Buffer.from(file)
      damaged[chunkStart(37) + 10]! ^= 1
      expect(await refuse("flip-37", damaged)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 37 })
    })

    it("cut at a piece boundary", async () => {
      expect(await refuse("cut-piece", file.subarray(0, chunkStart(32)))).toMatchObject({ _tag: "AgePayloadTruncated", chunks: 32 })
    })

    it("chunks of two pieces swapped", async () => {
      const swapped = Buffer.concat([
        file.subarray(0, chunkStart(5)),
        file.subarray(chunkStart(20), chunkStart(21)),
        file.subarray(chunkStart(6), chunkStart(20)),
        file.subarray(chunkStart(5), chunkStart(6)),
        file.subarray(chunkStart(21)),
      ])
      expect(await refuse("swapped", swapped)).toMatchObject({ _tag: "AgePayloadCorrupt", chunk: 5 })
    })

    it("data appended after the last chunk", async () => {
      expect(await refuse("appended", Buffer.concat([file, Buffer.alloc(3 * piece, 1)]))).toMatchObject({ _tag: "AgePayloadCorrupt" })
    })
  })
})
