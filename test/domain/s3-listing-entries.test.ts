import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { listedObject, listedUpload } from "../../src/domain/s3-listing-entries.ts"

const keyArb = fc.stringMatching(/^[A-Za-z0-9._\-/&<>]{1,60}$/)
const timeArb = fc.integer({ min: 0, max: Date.parse("2100-01-01T00:00:00Z") })
const sizeArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const escaped = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
const contents = (key: string, size: string, modified: string) => `<Key>${escaped(key)}</Key><Size>${size}</Size><LastModified>${modified}</LastModified>`

describe("listedObject", () => {
  test.prop([keyArb, sizeArb, timeArb])("reads a Contents entry as S3 writes it", (key, size, at) => {
    expect(listedObject(contents(key, String(size), new Date(at).toISOString()))).toEqual(Result.succeed({ key, size, modifiedAt: at }))
  })

  test.prop([keyArb, sizeArb, fc.constantFrom("", "yesterday", "0000-99-99T99:99:99Z", "NaN")])(
    "refuses a time that does not parse: read as the epoch, it would age another upload past every grace period",
    (key, size, modified) => {
      const read = listedObject(contents(key, String(size), modified))
      expect(Result.isFailure(read)).toBe(true)
      expect(Result.isFailure(read) && read.failure).toMatch(/LastModified/)
    },
  )

  test.prop([keyArb, timeArb, fc.constantFrom("", "-1", "1.5", "1e3", "abc", "99999999999999999999")])(
    "refuses a size that is not a whole number of bytes",
    (key, at, size) => {
      const read = listedObject(contents(key, size, new Date(at).toISOString()))
      expect(Result.isFailure(read) && read.failure).toMatch(/Size/)
    },
  )

  it("refuses an entry without a key", () => {
    expect(Result.isFailure(listedObject("<Size>1</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified>"))).toBe(true)
    expect(Result.isFailure(listedObject(contents("", "1", "2026-01-01T00:00:00.000Z")))).toBe(true)
  })
})

describe("listedUpload", () => {
  test.prop([keyArb, fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/), timeArb])("reads an Upload entry as S3 writes it", (key, uploadId, at) => {
    const xml = `<Key>${escaped(key)}</Key><UploadId>${uploadId}</UploadId><Initiated>${new Date(at).toISOString()}</Initiated>`
    expect(listedUpload(xml)).toEqual(Result.succeed({ key, uploadId, initiatedAt: at }))
  })

  it("refuses one without an upload id or with a time that does not parse", () => {
    expect(Result.isFailure(listedUpload("<Key>p/a</Key><Initiated>2026-01-01T00:00:00.000Z</Initiated>"))).toBe(true)
    expect(Result.isFailure(listedUpload("<Key>p/a</Key><UploadId>u</UploadId><Initiated>soon</Initiated>"))).toBe(true)
  })
})
