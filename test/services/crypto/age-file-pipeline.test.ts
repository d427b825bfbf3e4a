/**
 * The file pipeline on worker threads (inputs of `workersFromBytes` and more): what it encrypts the
 * age CLI opens, what the CLI encrypts it opens, at the sizes where the main thread hands over and
 * where the last piece is full; a damaged or cut file is refused at the right chunk past the first
 * piece, and nothing is left under the output's name.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Cause, Effect, Exit, Fiber, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { ciphertextChunkBytes, payloadNonceBytes } from "../../../src/domain/age-payload-layout.ts"
import { workersFromBytes } from "../../../src/services/crypto/age-file-pipeline.ts"
import { decryptFile, encryptFile, encryptForReader } from "../../../src/services/crypto/age-files.ts"
import { parseRecipient } from "../../../src/services/crypto/age-keys.ts"
import { tempDir } from "../../support/temp-dir.ts"
import { writtenProgress } from "../../../src/services/written-progress.ts"
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
  ])("%s: encrypted, age -d opens it; age -r's, opened; the plaintext's sha256", async (_, size) => {
    const plain = join(dir, `plain-${size}`)
    await writePseudoRandom(plain, size, 3)
    const ours = await Effect.runPromise(encryptFile(plain, join(dir, `ours-${size}.age`), [Result.getOrThrow(parseRecipient(key.recipient))]))
    expect(sha256(age(["-d", "-i", key.path, join(dir, `ours-${size}.age`)]))).toBe(await sha256File(plain))
    expect(ours.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(ours.ciphertextBytes).toBe(statSync(join(dir, `ours-${size}.age`)).size)
    age(["-r", key.recipient, "-o", join(dir, `cli-${size}.age`), plain])
    const theirs = await Effect.runPromise(decryptFile(join(dir, `cli-${size}.age`), join(dir, `out-${size}`), await identitiesOf(key.path)))
    expect(theirs.plaintext).toEqual({ size, sha256: await sha256File(plain) })
    expect(theirs.ciphertextBytes).toBe(statSync(join(dir, `cli-${size}.age`)).size)
  })

  it.each([
    ["on this thread", workersFromBytes - 1],
    ["on its worker", 9 * piece + 65536 + 3],
  ])("for a reader (%s): told the ciphertext's size first, then every written end in order up to it; age -d opens the file", async (_, size) => {
    const plain = join(dir, `reader-${size}`)
    await writePseudoRandom(plain, size, 5)
    const sealed = join(dir, `reader-${size}.age`)
    const told: Array<number> = []
    let total = -1
    const result = await Effect.runPromise(
      encryptForReader(plain, sealed, [Result.getOrThrow(parseRecipient(key.recipient))], {
        onStart: (bytes) => {
          expect(told).toEqual([])
          total = bytes
        },
        onWritten: (end) => {
          // Everything up to `end` is in the file when the reader is told.
          expect(statSync(sealed).size).toBeGreaterThanOrEqual(end)
          told.push(end)
        },
      }),
    )
    expect(result).toEqual({ plaintext: { size, sha256: await sha256File(plain) }, ciphertextBytes: statSync(sealed).size })
    expect(total).toBe(statSync(sealed).size)
    expect(told.at(-1)).toBe(total)
    expect(told).toEqual([...told].sort((a, b) => a - b))
    expect(told.length).toBeGreaterThan(1)
    expect(sha256(age(["-d", "-i", key.path, sealed]))).toBe(await sha256File(plain))
  })

  it("for a reader, into a ring: every byte waits for its room, writes wrap at the ring's end, and what the reader collects is the age file", async () => {
    const size = 11 * piece + 999
    const plain = join(dir, "ring-plain")
    await writePseudoRandom(plain, size, 6)
    const sealed = join(dir, "ring.age")
    const ringBytes = 3 * piece + 17
    const released = writtenProgress()
    const collected: Array<Buffer> = []
    let read = 0
    const readRing = (end: number) => {
      const fd = openSync(sealed, "r")
      try {
        for (; read < end; ) {
          const at = read % ringBytes
          const n = Math.min(end - read, ringBytes - at)
          const bytes = Buffer.alloc(n)
          expect(readSync(fd, bytes, 0, n, at)).toBe(n)
          collected.push(bytes)
          read += n
        }
      } finally {
        closeSync(fd)
      }
    }
    await Effect.runPromise(
      encryptForReader(plain, sealed, [Result.getOrThrow(parseRecipient(key.recipient))], {
        onStart: () => ({ bytes: ringBytes, room: (end, signal) => released.reached(end - ringBytes, signal) }),
        onWritten: (end) => {
          expect(statSync(sealed).size).toBeLessThanOrEqual(ringBytes)
          readRing(end)
          released.advance(end)
        },
      }),
    )
    writeFileSync(join(dir, "ring-collected.age"), Buffer.concat(collected))
    expect(sha256(age(["-d", "-i", key.path, join(dir, "ring-collected.age")]))).toBe(await sha256File(plain))
  })

  it("interrupted while decrypting (Ctrl-C of download): once the interruption is over, no partial plaintext is left", async () => {
    const plain = join(dir, "interrupted")
    await writePseudoRandom(plain, 128 * 1024 * 1024, 11)
    age(["-r", key.recipient, "-o", join(dir, "interrupted.age"), plain])
    const out = join(dir, "interrupted.out")
    const fiber = Effect.runFork(decryptFile(join(dir, "interrupted.age"), out, await identitiesOf(key.path)))
    while (!existsSync(`${out}.part`) || statSync(`${out}.part`).size === 0) await new Promise((r) => setTimeout(r, 1))
    // The command ends the process as soon as the interruption is over: nothing may still be on its way out.
    const exit = await Effect.runPromise(Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))))
    expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    expect(readdirSync(dir).filter((f) => f.startsWith("interrupted.out"))).toEqual([])
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
