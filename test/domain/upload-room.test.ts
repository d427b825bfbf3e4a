import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { uploadNeed, uploadShortfall, type UploadStep } from "../../src/domain/upload-room.ts"

const MiB = 1024 * 1024
const steps = fc.array(
  fc.record({
    name: fc.constantFrom("snapshot.db", "snapshot.db.age", "resources.tar.gz"),
    freedBeforeBytes: fc.option(fc.nat(64 * MiB), { nil: undefined }),
    bytes: fc.nat(64 * MiB),
    freedBytes: fc.nat(64 * MiB),
  }),
  { minLength: 1, maxLength: 4 },
)
const allowance = fc.nat(2 * MiB)

/**
 * A file system of `free` bytes replaying the puts: each first removes the part a killed put left, is written whole beside
 * what it replaces, which then goes. The first put that hits ENOSPC.
 */
const replay = (free: number, all: ReadonlyArray<UploadStep>, kept: number): string | undefined => {
  let left = free
  for (const s of all) {
    left += s.freedBeforeBytes ?? 0
    if (s.bytes + kept > left) return s.name
    left += s.freedBytes - s.bytes
  }
  return undefined
}

describe("uploadShortfall", () => {
  test.prop([steps, allowance, fc.nat(256 * MiB)])(
    "refuses exactly the uploads a file system of that size would run out of room in, naming the put",
    (all, kept, free) => {
      expect(uploadShortfall(free, all, kept)?.name).toBe(replay(free, all, kept))
    },
  )

  test.prop([steps, allowance, fc.nat(256 * MiB)])("fits exactly when the free space is at least what it says the upload needs", (all, kept, free) => {
    expect(uploadShortfall(free, all, kept) === undefined).toBe(free >= uploadNeed(all, kept))
  })

  test.prop([steps, allowance, fc.nat(256 * MiB)])("a refusal states the need the free space falls short of", (all, kept, free) => {
    const short = uploadShortfall(free, all, kept)
    if (short !== undefined) expect(short.neededBytes).toBeGreaterThan(free)
  })

  test.prop([steps, allowance])("with nothing replaced, the need is every file and the allowance", (all, kept) => {
    const fresh = all.map((s) => ({ ...s, freedBeforeBytes: undefined, freedBytes: 0 }))
    expect(uploadNeed(fresh, kept)).toBe(fresh.reduce((sum, s) => sum + s.bytes, kept))
  })

  it("a re-upload over the same files needs room for the largest file beside its old copy, not for the whole backup twice", () => {
    const again = [
      { name: "snapshot.db", bytes: 100, freedBytes: 100 },
      { name: "resources.tar.gz", bytes: 10, freedBytes: 10 },
    ]
    expect(uploadNeed(again, 1)).toBe(101)
    expect(uploadShortfall(100, again, 1)).toEqual({ name: "snapshot.db", neededBytes: 101 })
    expect(uploadShortfall(101, again, 1)).toBeUndefined()
  })

  // Before, a killed upload's part counted as taken: the re-upload that replaces it was refused on a volume it fits in.
  it("a re-upload after a killed one fits in the room the killed one's part takes, which it replaces as it begins", () => {
    const after = [
      { name: "snapshot.db", freedBeforeBytes: 90, bytes: 100, freedBytes: 0 },
      { name: "resources.tar.gz", bytes: 10, freedBytes: 0 },
    ]
    expect(uploadNeed(after, 1)).toBe(21)
    expect(uploadShortfall(21, after, 1)).toBeUndefined()
    expect(uploadShortfall(20, after, 1)).toEqual({ name: "resources.tar.gz", neededBytes: 21 })
  })
})
