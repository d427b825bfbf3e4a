import { posix } from "node:path"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { checkEntryPath } from "../../../src/services/tarball/entry-path.ts"
import { normalizeFileMode } from "../../../src/services/tarball/modes.ts"
import { encodeHeader, encodePaxRecords, parseHeader, parseNumeric, parsePaxRecords, typeFlag } from "../../../src/services/tarball/ustar.ts"
import { rawHeader } from "../../support/hostile-tarballs.ts"

describe("ustar codec", () => {
  it("property: a header we encode decodes to the same fields, and matches the independent builder", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[-._a-zA-Z0-9/]{1,100}$/),
        fc.constantFrom(0o600, 0o700, 0o755),
        fc.integer({ min: 0, max: 0o77777777777 }),
        fc.integer({ min: 0, max: 2 ** 33 - 1 }),
        (name, mode, size, mtime) => {
          const block = encodeHeader({ name: Buffer.from(name), mode, size, mtime, type: typeFlag.file, owner: "root" })
          const parsed = parseHeader(block)
          expect(Result.isSuccess(parsed)).toBe(true)
          if (Result.isSuccess(parsed)) {
            expect(parsed.success).toMatchObject({ name: Buffer.from(name), mode, size, mtime, type: typeFlag.file, format: "posix", uid: 0, gid: 0 })
          }
          const independent = rawHeader({ name, mode, declaredSize: size })
          expect(parseHeader(independent)).toMatchObject({ success: { name: Buffer.from(name), mode, size } })
        },
      ),
    )
  })

  it("a flipped byte breaks the checksum", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 511 }).filter((i) => i < 148 || i >= 156),
        (i) => {
          const block = encodeHeader({ name: Buffer.from("a"), mode: 0o600, size: 1, mtime: 0, type: typeFlag.file, owner: "root" })
          block[i] = ((block[i] as number) + 1) % 256
          expect(parseHeader(block)).toMatchObject({ failure: { reason: "checksum" } })
        },
      ),
    )
  })

  it("numeric fields: octal with space/NUL terminators, GNU base-256, and nothing else", () => {
    expect(parseNumeric(Buffer.from("0000644\u0000"))).toBe(0o644)
    expect(parseNumeric(Buffer.from("   644 \u0000"))).toBe(0o644)
    expect(parseNumeric(Buffer.from("\u0000\u0000\u0000"))).toBe(0)
    expect(parseNumeric(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]))).toBe(2 * 65536)
    expect(parseNumeric(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBeUndefined()
    expect(parseNumeric(Buffer.from("0008\u0000"))).toBeUndefined()
    expect(parseNumeric(Buffer.from("12 3\u0000"))).toBeUndefined()
  })

  it("property: PAX records round-trip, lengths counted in bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-zA-Z.]{1,20}$/), fc.string({ unit: "grapheme", maxLength: 200 }))), (records) => {
        const parsed = parsePaxRecords(encodePaxRecords(records))
        expect(Result.isSuccess(parsed)).toBe(true)
        if (Result.isSuccess(parsed)) expect(parsed.success.map(([k, v]) => [k, v.toString("utf8")])).toEqual(records)
      }),
    )
  })

  it("malformed PAX records are failures, not crashes", () => {
    for (const bad of ["5 a=b", "11 path=x\n", "x path=y\n", "7 =abc\n", "6 ab\n\n", "0 a=b\n"]) {
      expect(Result.isFailure(parsePaxRecords(Buffer.from(bad)))).toBe(true)
    }
  })
})

describe("entry paths", () => {
  it("property: an accepted path always stays strictly inside the directory it is joined to", () => {
    const segment = fc.oneof(fc.constantFrom(".", "..", "", "a", "/", "\\", "\u0000"), fc.string({ maxLength: 5 }))
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const path = segments.join("/")
        if (Result.isSuccess(checkEntryPath(path))) {
          expect(posix.resolve("/root", path).startsWith("/root/")).toBe(true)
          expect(posix.normalize(path)).toBe(path)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it("file modes are restricted to 0600, 0700 and 0755", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0o7777 }), (mode) => {
        expect([0o600, 0o700, 0o755]).toContain(normalizeFileMode(mode))
      }),
    )
    expect(normalizeFileMode(0o644)).toBe(0o600)
    expect(normalizeFileMode(0o4755)).toBe(0o755)
    expect(normalizeFileMode(0o750)).toBe(0o700)
  })
})
