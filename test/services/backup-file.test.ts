/**
 * Opening a backup file: only a regular file is opened (a FIFO, a device, a directory, a
 * symbolic link, even to a regular file, is refused by name before any open, so nothing blocks);
 * reads stop at the stated bound and at the file's size when opened.
 */
import { execFileSync } from "node:child_process"
import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { BackupFileRefused, forEachBackupFileChunk, readBackupFile, readBackupFileBytes, readOptionalBackupFileBytes } from "../../src/services/backup-file.ts"
import { tempDir } from "../support/temp-dir.ts"

const dir = tempDir("backup-file")

const refusal = async (path: string, maxBytes = 1024): Promise<BackupFileRefused> => {
  const exit = await Effect.runPromiseExit(readBackupFileBytes(path, maxBytes))
  if (Exit.isSuccess(exit)) throw new Error(`${path} was read`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  const error = reason?._tag === "Fail" ? reason.error : undefined
  if (!(error instanceof BackupFileRefused)) throw new Error(`not a refusal: ${String(error)}`)
  return error
}

describe("readBackupFile", () => {
  it("reads a regular file whole", async () => {
    const path = join(dir, "regular")
    writeFileSync(path, "backup bytes")
    expect((await Effect.runPromise(readBackupFileBytes(path, 100))).toString()).toBe("backup bytes")
  })

  it.each<[string, (path: string) => void, RegExp]>([
    ["a FIFO", (p) => execFileSync("mkfifo", [p]), /is a FIFO \(named pipe\), not a regular file/],
    ["a directory", (p) => mkdirSync(p), /is a directory, not a regular file/],
    [
      "a symbolic link to /dev/zero",
      (p) => symlinkSync("/dev/zero", p),
      /is a symbolic link to \/dev\/zero \(a character device\), not a regular file.*never read through a symbolic link/,
    ],
    ["a symbolic link to /dev/urandom", (p) => symlinkSync("/dev/urandom", p), /is a symbolic link to \/dev\/urandom \(a character device\)/],
    [
      "a symbolic link to a regular file",
      (p) => {
        writeFileSync(`${p}.target`, "x")
        symlinkSync(`${p}.target`, p)
      },
      /is a symbolic link to .*\.target \(a regular file\).*copy the file itself/,
    ],
  ])("refuses %s at once, naming the path and what it is", async (what, make, message) => {
    const path = join(dir, what.replaceAll(/[^a-z]/g, "-"))
    make(path)
    const started = Date.now()
    const error = await refusal(path)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(error.reason).toBe("not-regular")
    expect(error.path).toBe(path)
    expect(error.message).toMatch(message)
    expect(error.message.startsWith(`${path} is `)).toBe(true)
  })

  it("refuses a file larger than the bound without reading it", async () => {
    const path = join(dir, "large")
    writeFileSync(path, Buffer.alloc(2000))
    const error = await refusal(path, 1999)
    expect(error).toMatchObject({ reason: "too-large", size: 2000, maxBytes: 1999 })
    expect(error.message).toContain("2000 bytes, more than the 1999 bytes")
  })

  it("stops at the size the file had when opened: a file that grows while read is refused", async () => {
    const path = join(dir, "growing")
    writeFileSync(path, Buffer.alloc(10))
    const read = async () => {
      for await (const _ of readBackupFile(path, { chunkSize: 4 })) appendFileSync(path, Buffer.alloc(4))
    }
    await expect(read()).rejects.toMatchObject({ _tag: "BackupFileRefused", reason: "changed", message: expect.stringContaining("grew beyond the 10 bytes") })
  })

  it("a missing file is an unreadable file with its errno", async () => {
    const exit = await Effect.runPromiseExit(readBackupFileBytes(join(dir, "nope"), 10))
    expect(Exit.isFailure(exit)).toBe(true)
    const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    expect(reason?._tag === "Fail" ? reason.error : undefined).toMatchObject({ _tag: "BackupFileUnreadable", code: "ENOENT", path: join(dir, "nope") })
  })
})

describe("readOptionalBackupFileBytes", () => {
  it("gives the bytes of a file, undefined for a missing one, and refuses what readBackupFileBytes refuses", async () => {
    const dir = tempDir("optional-file")
    writeFileSync(join(dir, "present"), "abc")
    expect(Buffer.from((await Effect.runPromise(readOptionalBackupFileBytes(join(dir, "present"), 10)))!).toString()).toBe("abc")
    expect(await Effect.runPromise(readOptionalBackupFileBytes(join(dir, "absent"), 10))).toBeUndefined()
    const tooBig = await Effect.runPromise(Effect.flip(readOptionalBackupFileBytes(join(dir, "present"), 2)))
    expect(tooBig.path).toBe(join(dir, "present"))
  })
})

describe("forEachBackupFileChunk", () => {
  const chunksOf = (path: string, chunkSize: number, maxBytes?: number, onChunk: (c: Uint8Array) => void = () => undefined) => {
    const seen: Array<Buffer> = []
    return Effect.runPromiseExit(
      forEachBackupFileChunk(path, { chunkSize, maxBytes }, (c) => {
        seen.push(Buffer.from(c))
        onChunk(c)
      }),
    ).then((exit) => ({ exit, bytes: Buffer.concat(seen) }))
  }

  it("hands over every byte in order, whatever the chunk size, through one reused buffer", async () => {
    const path = join(dir, "chunked")
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff))
    writeFileSync(path, bytes)
    for (const size of [1, 7, 64, 999, 1000, 4096]) {
      const buffers = new Set<ArrayBufferLike>()
      const { exit, bytes: read } = await chunksOf(path, size, undefined, (c) => buffers.add(c.buffer))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(read.equals(bytes)).toBe(true)
      expect(buffers.size).toBe(1)
    }
  })

  it("refuses what readBackupFile refuses: a FIFO at once, a file over the bound, a file that grows while read", async () => {
    const fifo = join(dir, "chunked-fifo")
    execFileSync("mkfifo", [fifo])
    const refusedFifo = await chunksOf(fifo, 16)
    expect(refusedFifo.exit).toMatchObject({ _tag: "Failure" })
    expect(String(Exit.isFailure(refusedFifo.exit) ? refusedFifo.exit.cause.reasons[0] : "")).toContain("FIFO")

    const large = join(dir, "chunked-large")
    writeFileSync(large, Buffer.alloc(100))
    const tooLarge = await chunksOf(large, 16, 99)
    expect(tooLarge.bytes.length).toBe(0)
    expect(
      Exit.isFailure(tooLarge.exit) &&
        tooLarge.exit.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof BackupFileRefused && r.error.reason === "too-large"),
    ).toBe(true)

    const growing = join(dir, "chunked-growing")
    writeFileSync(growing, Buffer.alloc(10))
    const grew = await chunksOf(growing, 4, undefined, () => appendFileSync(growing, Buffer.alloc(4)))
    expect(
      Exit.isFailure(grew.exit) &&
        grew.exit.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof BackupFileRefused && r.error.reason === "changed"),
    ).toBe(true)
  })
})
