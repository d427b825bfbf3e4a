import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { headedObject, listedObject, listedPartTime, listedUpload } from "../../src/domain/s3-listing-entries.ts"

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

// A part's time decides whether prune takes its upload for a dead writer's: one that does not parse must not read as the epoch.
describe("listedPartTime", () => {
  test.prop([fc.integer({ min: 1, max: 10_000 }), timeArb])("reads a Part entry's LastModified as S3 writes it", (n, at) => {
    const xml = `<PartNumber>${n}</PartNumber><LastModified>${new Date(at).toISOString()}</LastModified><ETag>"e"</ETag><Size>5</Size>`
    expect(listedPartTime(xml)).toEqual(Result.succeed(at))
  })

  test.prop([fc.constantFrom("", "yesterday", "0000-99-99T99:99:99Z", "NaN")])("refuses one without a time, or with one that does not parse", (text) => {
    expect(Result.isFailure(listedPartTime(`<PartNumber>1</PartNumber><LastModified>${text}</LastModified>`))).toBe(true)
    expect(Result.isFailure(listedPartTime("<PartNumber>1</PartNumber>"))).toBe(true)
  })
})

describe("headedObject", () => {
  const sha = "a".repeat(64)
  test.prop([keyArb, sizeArb, timeArb, fc.option(fc.constant(sha), { nil: undefined })])(
    "reads a HEAD answer's headers as S3 sends them",
    (key, size, at, sha256) => {
      const lastModified = new Date(Math.floor(at / 1000) * 1000).toUTCString()
      expect(headedObject(key, { contentLength: String(size), lastModified, sha256 })).toEqual(
        Result.succeed({ key, size, modifiedAt: Math.floor(at / 1000) * 1000, sha256 }),
      )
    },
  )

  test.prop([keyArb, timeArb, fc.constantFrom(undefined, "", "-1", "1.5", "abc", "99999999999999999999")])(
    "refuses a Content-Length that is missing or not a size: prune's re-check of a backup rests on it",
    (key, at, contentLength) => {
      const read = headedObject(key, { contentLength, lastModified: new Date(at).toUTCString(), sha256: undefined })
      expect(Result.isFailure(read) && read.failure).toMatch(/Content-Length/)
    },
  )

  it("takes a Last-Modified that is missing or not a time for the epoch: no decision rests on a HEAD's time", () => {
    for (const lastModified of [undefined, "yesterday"]) {
      expect(headedObject("p/id/f", { contentLength: "1", lastModified, sha256: undefined })).toEqual(
        Result.succeed({ key: "p/id/f", size: 1, modifiedAt: 0, sha256: undefined }),
      )
    }
  })
})
